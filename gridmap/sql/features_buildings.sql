-- A page of buildings in id order: properties (the import columns of `gridmap import buildings` but the
-- micro-grid, plus id) + WKB + memberships + how many match. Memberships are
-- [code, unit_from, unit_to, floor_from, floor_to, households] in the order export_buildings.sql gives
-- them; gridmap.publish.features writes them as the `microgrid` column with gridmap.areas.membership.
-- Parameters: bbox (4 floats or NULL), id (NULL = all), limit, offset.
SELECT jsonb_build_object('id', b.id, 'code', b.code, 'name', b.name, 'compound', b.compound,
           'type', b.building_type, 'households', b.households, 'floors', b.floors, 'units', b.units),
       ST_AsBinary(b.geom),
       coalesce((SELECT array_agg(json_build_array(a.code, m.unit_from, m.unit_to, m.floor_from,
                                                  m.floor_to, m.households)
                                  ORDER BY a.code, m.unit_from, m.floor_from)
                 FROM microgrid_member m JOIN area a ON a.id = m.microgrid_id AND a.valid_to IS NULL
                 WHERE m.building_id = b.id), '{}') AS members,
       count(*) OVER ()
FROM building b
WHERE (%(bbox)s::float8[] IS NULL
       OR b.geom && ST_MakeEnvelope((%(bbox)s::float8[])[1], (%(bbox)s::float8[])[2],
                                    (%(bbox)s::float8[])[3], (%(bbox)s::float8[])[4], 4326))
  AND (%(id)s::bigint IS NULL OR b.id = %(id)s::bigint)
ORDER BY b.id
LIMIT %(limit)s OFFSET %(offset)s

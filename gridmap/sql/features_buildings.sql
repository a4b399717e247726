-- A page of buildings as properties + WKB + how many match, in id order.
-- Parameters: bbox (4 floats or NULL), id (NULL = all), limit, offset.
SELECT jsonb_build_object('id', b.id, 'code', b.code, 'name', b.name, 'compound', b.compound,
           'building_type', b.building_type, 'households', b.households, 'floors', b.floors, 'units', b.units,
           'microgrid', (SELECT min(a.code) FROM microgrid_member m JOIN area a ON a.id = m.microgrid_id
                         AND a.valid_to IS NULL WHERE m.building_id = b.id)),
       ST_AsBinary(b.geom), count(*) OVER ()
FROM building b
WHERE (%(bbox)s::float8[] IS NULL
       OR b.geom && ST_MakeEnvelope((%(bbox)s::float8[])[1], (%(bbox)s::float8[])[2],
                                    (%(bbox)s::float8[])[3], (%(bbox)s::float8[])[4], 4326))
  AND (%(id)s::bigint IS NULL OR b.id = %(id)s::bigint)
ORDER BY b.id
LIMIT %(limit)s OFFSET %(offset)s

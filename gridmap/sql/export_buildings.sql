-- Buildings in the import columns; members as [code, unit_from, unit_to, floor_from, floor_to, households].
SELECT b.code, coalesce(b.name, '') AS name, coalesce(b.compound, '') AS compound,
       coalesce(b.building_type, '') AS type, b.households, b.floors, b.units,
       coalesce((SELECT array_agg(json_build_array(a.code, m.unit_from, m.unit_to, m.floor_from,
                                                  m.floor_to, m.households)
                                  ORDER BY a.code, m.unit_from, m.floor_from)
                 FROM microgrid_member m JOIN area a ON a.id = m.microgrid_id AND a.valid_to IS NULL
                 WHERE m.building_id = b.id), '{}') AS members,
       ST_AsBinary(b.geom) AS wkb
FROM building b ORDER BY b.code

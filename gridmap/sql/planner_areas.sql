-- The current grids and micro-grids of a planner draft's community (codes starting with `prefix`),
-- with their party cell and the people of the area itself. Parameter: prefix.
SELECT a.id, a.version, a.level, a.code, a.parent_id, a.name, a.kind, a.layer, ST_AsBinary(a.geom) AS wkb,
       pc.party_cell_id,
       coalesce((SELECT json_agg(json_build_object('name', pe.name, 'role', pe.role) ORDER BY pe.role, pe.name)
                 FROM person pe WHERE pe.area_id = a.id), '[]'::json) AS people
FROM area a
LEFT JOIN party_cell_microgrid pc ON pc.microgrid_id = a.id
WHERE a.valid_to IS NULL AND a.level IN ('grid', 'microgrid') AND a.code LIKE %(prefix)s || '%%'
ORDER BY a.code

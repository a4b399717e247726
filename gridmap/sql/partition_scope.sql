-- The current grids inside a scope area (itself a grid, or a community or subdistrict above grids),
-- with their current micro-grids' versions. Parameter: scope (area identity id).
SELECT g.id, g.code, g.version, g.name, ST_AsBinary(g.geom) AS wkb, area_path(g.id) AS path,
       coalesce((SELECT jsonb_object_agg(m.id::text, m.version) FROM area m
                 WHERE m.parent_id = g.id AND m.level = 'microgrid' AND m.valid_to IS NULL), '{}') AS microgrids
FROM area g
WHERE g.valid_to IS NULL AND g.level = 'grid'
  AND (g.id = %(scope)s OR g.parent_id = %(scope)s
       OR g.parent_id IN (SELECT c.id FROM area c WHERE c.parent_id = %(scope)s AND c.valid_to IS NULL))
ORDER BY g.code

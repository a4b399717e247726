-- Buildings of each grid: those whose representative point the grid covers (a point on a shared
-- edge goes to the grid with the lowest code). Parameter: grids (identity ids).
SELECT DISTINCT ON (b.id) g.id AS grid_id, b.id, b.code, coalesce(b.name, '') AS name, b.households, b.units,
       b.floors, ST_AsBinary(b.geom) AS wkb,
       md5(concat_ws('|', b.id, b.households, b.units, b.floors, md5(ST_AsBinary(b.geom)))) AS digest
FROM area g
JOIN building b ON g.geom && b.geom AND ST_Covers(g.geom, ST_PointOnSurface(b.geom))
WHERE g.id = ANY(%(grids)s) AND g.valid_to IS NULL
ORDER BY b.id, g.code

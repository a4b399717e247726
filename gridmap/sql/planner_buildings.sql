-- Buildings of a planner draft's community: those whose representative point it covers, and any
-- building its micro-grids hold. Parameters: scope (the community's identity id), microgrids (ids).
SELECT b.id, b.code, coalesce(b.name, '') AS name, b.households, b.units, b.floors, ST_AsBinary(b.geom) AS wkb
FROM building b
JOIN area s ON s.id = %(scope)s AND s.valid_to IS NULL
WHERE b.geom && s.geom AND ST_Covers(s.geom, ST_PointOnSurface(b.geom))
UNION
SELECT b.id, b.code, coalesce(b.name, '') AS name, b.households, b.units, b.floors, ST_AsBinary(b.geom) AS wkb
FROM building b
WHERE b.id IN (SELECT building_id FROM microgrid_member WHERE microgrid_id = ANY(%(microgrids)s))
ORDER BY code

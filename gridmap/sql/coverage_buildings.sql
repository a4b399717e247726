-- Buildings of a coverage check's scope (those whose representative point the scope area covers;
-- every building when prefix is ''), with the micro-grids holding them and the households they count.
-- Parameters: prefix.
WITH scope AS (
    SELECT geom FROM area WHERE code = %(prefix)s AND valid_to IS NULL
)
SELECT b.id, b.code, coalesce(b.name, '') AS name, b.households, ST_AsBinary(b.geom) AS wkb,
       coalesce(array_agg(m.microgrid_id ORDER BY m.microgrid_id) FILTER (WHERE m.id IS NOT NULL), '{}') AS holders,
       coalesce(sum(m.households), 0) AS held_households
FROM building b
LEFT JOIN microgrid_member m ON m.building_id = b.id
WHERE %(prefix)s = ''
   OR EXISTS (SELECT 1 FROM scope s WHERE b.geom && s.geom AND ST_Covers(s.geom, ST_PointOnSurface(b.geom)))
GROUP BY b.id
ORDER BY b.code

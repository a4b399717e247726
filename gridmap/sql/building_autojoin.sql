-- Buildings with no membership join the comprehensive-layer micro-grid covering a point on them;
-- on a shared edge the lowest code wins, so the answer never depends on row order.
INSERT INTO microgrid_member (microgrid_id, building_id, households)
SELECT m.id, b.id, b.households
FROM building b
CROSS JOIN LATERAL (
    SELECT a.id
    FROM area a
    WHERE a.level = 'microgrid' AND a.valid_to IS NULL AND a.layer = 'comprehensive'
      AND ST_Covers(a.geom, ST_PointOnSurface(b.geom))
    ORDER BY a.code
    LIMIT 1
) m
WHERE b.id = ANY(%(ids)s)
  AND NOT EXISTS (SELECT 1 FROM microgrid_member mm WHERE mm.building_id = b.id)

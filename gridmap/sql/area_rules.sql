-- The geometry rules every write path applies before it commits (gridmap.areas.rules), read set-wise
-- from the state the transaction has written so far. One row per breach:
--   overlap             a judged area and a current area of its level and layer share more than overlap_m2.
--                       Micro-grids holding parts of one building share its footprint by design: two that
--                       share a building are fine; one that holds nothing yet may share stored buildings'
--                       footprints with one that does (a new unit part of a tower), and two that hold
--                       nothing yet (a file of micro-grids before its buildings) are judged when their
--                       memberships are written, with the micro-grids of the buildings checked;
--   outside_parent      a changed area sticks out of its parent by more than tolerance_m;
--   child_outside       a current child sticks out of a changed area by more than tolerance_m;
--   building_twice      a building counted for more households than it has;
--   building_elsewhere  less than building_share of a building's footprint lies in the micro-grids holding it;
--   building_unassigned a building with households that no micro-grid holds.
-- Buildings checked: those given, and those held by a changed micro-grid.
-- Parameters: area_ids bigint[] (areas whose current version this transaction wrote), building_ids bigint[],
-- tolerance_m, overlap_m2, building_share.
WITH changed AS MATERIALIZED (
    SELECT a.id, a.code, a.level, a.layer, a.parent_id, a.geom
    FROM area a
    WHERE a.id = ANY(%(area_ids)s::bigint[]) AND a.valid_to IS NULL
),
-- Each parent and each changed area that can have children, widened by the tolerance once (not per child).
zone AS MATERIALIZED (
    SELECT p.id, p.code, ST_Buffer(p.geom::geography, %(tolerance_m)s)::geometry AS geom
    FROM area p
    WHERE p.valid_to IS NULL
      AND (p.id IN (SELECT parent_id FROM changed) OR p.id IN (SELECT id FROM changed WHERE level <> 'microgrid'))
),
checked AS MATERIALIZED (
    SELECT b.id, b.code, b.households, b.geom
    FROM building b
    WHERE b.id = ANY(%(building_ids)s::bigint[])
       OR b.id IN (SELECT m.building_id FROM microgrid_member m JOIN changed c ON c.id = m.microgrid_id)
),
-- The areas judged for overlap, each with whether it holds buildings and its shape shrunk by 1e-7° (≈ 1 cm):
-- neighbours that only share edges do not meet the shrunk shape, so the exact intersection is computed for
-- real overlaps alone (an overlap under 1 cm wide everywhere is the noise of edges stored as doubles).
judged AS MATERIALIZED (
    SELECT j.*, EXISTS (SELECT 1 FROM microgrid_member m WHERE m.microgrid_id = j.id) AS filled,
           ST_Buffer(j.geom, -1e-7) AS inner
    FROM (
        SELECT c.id, c.code, c.level, c.layer, c.geom FROM changed c
        UNION
        SELECT a.id, a.code, a.level, a.layer, a.geom
        FROM area a
        WHERE a.valid_to IS NULL
          AND a.id IN (SELECT m.microgrid_id FROM microgrid_member m JOIN checked ch ON ch.id = m.building_id)
    ) j
),
overlap AS (
    SELECT DISTINCT ON (least(c.code, o.code), greatest(c.code, o.code))
           c.code, o.code AS other,
           CASE WHEN c.level = 'microgrid' AND NOT (c.filled AND o.filled)
                -- one of them empty: a new part of a stored tower may share building footprints
                THEN ST_Area(ST_Difference(ST_Intersection(c.geom, o.geom), coalesce(
                         (SELECT ST_Union(b.geom) FROM building b WHERE b.geom && c.geom AND b.geom && o.geom),
                         'SRID=4326;GEOMETRYCOLLECTION EMPTY'::geometry))::geography)
                ELSE ST_Area(ST_Intersection(c.geom, o.geom)::geography)
           END AS m2
    FROM judged c
    CROSS JOIN LATERAL (
        SELECT a.id, a.code, a.geom, EXISTS (SELECT 1 FROM microgrid_member m WHERE m.microgrid_id = a.id) AS filled
        FROM area a
        WHERE a.valid_to IS NULL AND a.level = c.level AND a.layer = c.layer AND a.id <> c.id AND a.geom && c.geom
        OFFSET 0  -- kept a subquery per judged area, so it is reached by the GiST index (a merge join on level
                  -- and layer, the planner's choice otherwise, compared 52 million pairs for 7,000 micro-grids)
    ) o
    -- cheapest first (CASE keeps the order): two empty micro-grids are parts of a tower whose buildings come
    -- later and are judged then; then the shrunk shape; micro-grids sharing a building share its footprint
    WHERE CASE WHEN c.level = 'microgrid' AND NOT c.filled AND NOT o.filled THEN false
               WHEN NOT ST_Intersects(c.inner, o.geom) THEN false
               WHEN c.level = 'microgrid' AND EXISTS (
                   SELECT 1 FROM microgrid_member x JOIN microgrid_member y ON y.building_id = x.building_id
                   WHERE x.microgrid_id = c.id AND y.microgrid_id = o.id) THEN false
               ELSE true
          END
    ORDER BY least(c.code, o.code), greatest(c.code, o.code), c.code
),
outside AS (
    SELECT c.code, z.code AS other, ST_Area(ST_Difference(c.geom, z.geom)::geography) AS m2
    FROM changed c JOIN zone z ON z.id = c.parent_id
    WHERE NOT ST_Covers(z.geom, c.geom)
),
child_outside AS (
    SELECT k.code, z.code AS other, ST_Area(ST_Difference(k.geom, z.geom)::geography) AS m2
    FROM changed c
    JOIN zone z ON z.id = c.id
    JOIN area k ON k.parent_id = c.id AND k.valid_to IS NULL
    WHERE k.id NOT IN (SELECT id FROM changed) AND NOT ST_Covers(z.geom, k.geom)
),
held AS (
    SELECT ch.id, ch.code, ch.households, ch.geom,
           coalesce(sum(m.households), 0) AS counted,
           array_agg(DISTINCT a.code ORDER BY a.code) FILTER (WHERE a.id IS NOT NULL) AS holders,
           -- whole footprints inside one holder are the common case: no intersection to compute then
           coalesce(bool_or(ST_Covers(a.geom, ch.geom)), false) AS inside
    FROM checked ch
    LEFT JOIN microgrid_member m ON m.building_id = ch.id
    LEFT JOIN area a ON a.id = m.microgrid_id AND a.valid_to IS NULL
    GROUP BY ch.id, ch.code, ch.households, ch.geom
),
-- the land of the holders, only for the buildings no single holder covers
elsewhere AS (
    SELECT h.code, h.holders, h.households, h.geom, l.land
    FROM held h
    CROSS JOIN LATERAL (
        SELECT ST_Union(a.geom) AS land
        FROM microgrid_member m JOIN area a ON a.id = m.microgrid_id AND a.valid_to IS NULL
        WHERE m.building_id = h.id
    ) l
    WHERE h.holders IS NOT NULL AND h.counted <= h.households AND NOT h.inside
)
SELECT 'overlap' AS problem, code, other, m2, NULL::integer AS households FROM overlap WHERE m2 > %(overlap_m2)s
UNION ALL
SELECT 'outside_parent', code, other, m2, NULL FROM outside
UNION ALL
SELECT 'child_outside', code, other, m2, NULL FROM child_outside
UNION ALL
SELECT 'building_twice', code, array_to_string(holders, ','), NULL, counted::integer
FROM held WHERE counted > households
UNION ALL
SELECT 'building_elsewhere', code, array_to_string(holders, ','),
       ST_Area(ST_Difference(geom, land)::geography), households
FROM elsewhere
WHERE ST_Area(ST_Intersection(geom, land)) < %(building_share)s * ST_Area(geom)
UNION ALL
SELECT 'building_unassigned', code, NULL, NULL, households FROM held WHERE holders IS NULL AND households > 0
ORDER BY 1, 2, 3

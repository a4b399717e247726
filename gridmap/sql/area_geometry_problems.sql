-- Why a new geometry cannot be stored for an area (NULLs when it can): whether it sticks out of its
-- parent by more than tolerance_m, and the codes of current areas of the same level and layer it
-- overlaps by more than overlap_m2. Unit micro-grids of one tower share its footprint by design, so
-- two micro-grids holding parts of the same building do not count as overlapping.
-- Parameters: wkb, id (NULL for a new area), parent_id, level, layer, tolerance_m, overlap_m2.
WITH g AS (SELECT ST_GeomFromWKB(%(wkb)s, 4326) AS geom)
SELECT
    (SELECT NOT ST_Covers(ST_Buffer(p.geom::geography, %(tolerance_m)s)::geometry, g.geom)
     FROM area p WHERE p.id = %(parent_id)s AND p.valid_to IS NULL) AS outside_parent,
    (SELECT array_agg(o.code ORDER BY o.code)
     FROM area o
     WHERE o.valid_to IS NULL AND o.level = %(level)s AND o.layer = %(layer)s
       AND o.id IS DISTINCT FROM %(id)s::bigint
       AND ST_Intersects(o.geom, g.geom)
       AND ST_Area(ST_Intersection(o.geom, g.geom)::geography) > %(overlap_m2)s
       AND NOT EXISTS (
           SELECT 1 FROM microgrid_member a JOIN microgrid_member b ON b.building_id = a.building_id
           WHERE a.microgrid_id = %(id)s::bigint AND b.microgrid_id = o.id)
    ) AS overlaps
FROM g

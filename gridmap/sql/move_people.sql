-- People of areas retired in this transaction move to the new area covering most of each (lowest
-- code on a tie). Parameters: old (retired ids), new (ids of the areas that replace them).
WITH best AS (
    SELECT DISTINCT ON (o.id) o.id AS old_id, n.id AS new_id
    FROM area o
    JOIN area n ON n.id = ANY(%(new)s) AND n.valid_to IS NULL AND ST_Intersects(o.geom, n.geom)
    WHERE o.id = ANY(%(old)s) AND o.valid_to = now()
    ORDER BY o.id, ST_Area(ST_Intersection(o.geom, n.geom)) DESC, n.code
)
UPDATE person p SET area_id = best.new_id FROM best WHERE p.area_id = best.old_id

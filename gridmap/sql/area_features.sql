-- Area versions valid at one instant, filtered, as properties + WKB, one page in code order.
-- Parameters: at (NULL = now), id, level, parent (identity id), code (prefix), layer, bbox (4 floats
-- or NULL), limit, offset. Each filter is skipped when NULL.
SELECT area_json_at(a, %(at)s::timestamptz) || jsonb_build_object('parent', CASE WHEN p.id IS NOT NULL
           THEN jsonb_build_object('id', p.id, 'code', p.code, 'name', p.name) END) AS properties,
       ST_AsBinary(a.geom) AS wkb,
       count(*) OVER () AS matched
FROM area a
LEFT JOIN area p ON p.id = a.parent_id AND valid_at(p.valid_from, p.valid_to, coalesce(%(at)s::timestamptz, now()))
WHERE valid_at(a.valid_from, a.valid_to, coalesce(%(at)s::timestamptz, now()))
  AND (%(id)s::bigint IS NULL OR a.id = %(id)s::bigint)
  AND (%(level)s::text IS NULL OR a.level = %(level)s::text)
  AND (%(parent)s::bigint IS NULL OR a.parent_id = %(parent)s::bigint)
  AND (%(code)s::text IS NULL OR a.code LIKE %(code)s::text || '%%')
  AND (%(layer)s::text IS NULL OR a.layer = %(layer)s::text)
  AND (%(bbox)s::float8[] IS NULL
       OR ST_Intersects(a.geom, ST_MakeEnvelope((%(bbox)s::float8[])[1], (%(bbox)s::float8[])[2],
                                    (%(bbox)s::float8[])[3], (%(bbox)s::float8[])[4], 4326)))
ORDER BY a.code
LIMIT %(limit)s OFFSET %(offset)s

-- A page of located incidents (no reporter details) as properties + WKB + how many match, in id order.
-- Parameters: bbox (4 floats or NULL), id, scope (area ids of a jurisdiction or NULL = everywhere),
-- start, end (received between, either NULL = open), limit, offset.
SELECT jsonb_build_object('id', i.id, 'category', i.category, 'state', i.state, 'channel', i.channel,
           'received_at', i.received_at, 'closed_at', i.closed_at, 'deadline_at', i.deadline_at, 'level', i.level,
           'microgrid', (SELECT a.code FROM area a WHERE a.id = i.microgrid_id ORDER BY a.version DESC LIMIT 1),
           'reports', i.reports),
       ST_AsBinary(i.geom), count(*) OVER ()
FROM incident i
WHERE i.geom IS NOT NULL
  AND (%(bbox)s::float8[] IS NULL
       OR i.geom && ST_MakeEnvelope((%(bbox)s::float8[])[1], (%(bbox)s::float8[])[2],
                                    (%(bbox)s::float8[])[3], (%(bbox)s::float8[])[4], 4326))
  AND (%(id)s::bigint IS NULL OR i.id = %(id)s::bigint)
  AND (%(scope)s::bigint[] IS NULL OR i.area_path && %(scope)s::bigint[])
  AND (%(start)s::timestamptz IS NULL OR i.received_at >= %(start)s::timestamptz)
  AND (%(end)s::timestamptz IS NULL OR i.received_at <= %(end)s::timestamptz)
ORDER BY i.id
LIMIT %(limit)s OFFSET %(offset)s

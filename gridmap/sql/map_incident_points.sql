-- Located incidents routed into a map's scope within the filters: lon, lat (for the heat layer).
-- Parameters: scope (area identity id), since, until, category, jurisdiction (the viewer's area ids from
-- access.jurisdiction_ids, NULL = everywhere: only cases inside it).
SELECT ST_X(i.geom), ST_Y(i.geom)
FROM incident i
WHERE i.geom IS NOT NULL AND i.area_path @> ARRAY[%(scope)s]::bigint[]
  AND (%(since)s::timestamptz IS NULL OR i.received_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR i.received_at < %(until)s::timestamptz)
  AND (%(category)s::text IS NULL OR i.category = %(category)s::text)
  AND (%(jurisdiction)s::bigint[] IS NULL OR i.area_path && %(jurisdiction)s::bigint[])

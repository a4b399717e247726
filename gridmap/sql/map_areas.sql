-- Current areas of a map's scope (codes starting with `prefix`) with what the maps show: households,
-- land area, party cell, workers, and incidents routed there within the filters.
-- Parameters: prefix, since, until (received, NULL = open), category (NULL = all), now, jurisdiction (the
-- viewer's area ids from access.jurisdiction_ids, NULL = everywhere: only cases inside it are counted).
WITH cases AS (
    SELECT unnest(i.area_path) AS id, count(*) AS incidents,
           count(*) FILTER (WHERE incident_overdue(i.state, i.due_at, i.missed_at, %(now)s)) AS overdue
    FROM incident i
    WHERE (%(since)s::timestamptz IS NULL OR i.received_at >= %(since)s::timestamptz)
      AND (%(until)s::timestamptz IS NULL OR i.received_at < %(until)s::timestamptz)
      AND (%(category)s::text IS NULL OR i.category = %(category)s::text)
      AND (%(jurisdiction)s::bigint[] IS NULL OR i.area_path && %(jurisdiction)s::bigint[])
    GROUP BY 1
)
SELECT a.code, a.name, a.level, a.kind, a.layer, ST_AsBinary(a.geom) AS wkb,
       coalesce(h.households, 0) AS households,
       ST_Area(a.geom::geography) AS area_m2,
       pc.name AS party_cell,
       (SELECT string_agg(pe.name, '、' ORDER BY pe.name) FROM person pe
        WHERE pe.area_id = a.id AND pe.role IN ('grid_worker', 'microgrid_worker')) AS workers,
       coalesce(c.incidents, 0) AS incidents, coalesce(c.overdue, 0) AS overdue
FROM area a
LEFT JOIN area_households h ON h.id = a.id
LEFT JOIN party_cell_microgrid pm ON pm.microgrid_id = a.id
LEFT JOIN party_cell pc ON pc.id = pm.party_cell_id
LEFT JOIN cases c ON c.id = a.id
WHERE a.valid_to IS NULL AND a.code LIKE %(prefix)s || '%%'
ORDER BY a.code

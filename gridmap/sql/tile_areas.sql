-- One Mapbox Vector Tile layer of current areas of one level and grid layer: code, name, kind,
-- households, micro-grids, and incidents routed there (all, and still open).
-- Parameters: z, x, y, level, layer, name (the MVT layer's name), jurisdiction (access.case_jurisdiction:
-- only cases whose area path meets it are counted; NULL counts all, an empty array none).
WITH bounds AS (
    SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env,
           ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / 4096), 4326) AS env4326
),
rows AS (
    SELECT a.id, a.code, a.name, a.kind, a.version,
           coalesce(h.households, 0) AS households, coalesce(h.microgrids, 0) AS microgrids,
           coalesce(i.incidents, 0) AS incidents, coalesce(i.open_incidents, 0) AS open_incidents,
           ST_AsMVTGeom(ST_Transform(a.geom, 3857), b.env, 4096, 64, true) AS geom
    FROM area a
    CROSS JOIN bounds b
    LEFT JOIN area_households h ON h.id = a.id
    LEFT JOIN LATERAL (
        SELECT count(*) AS incidents,
               count(*) FILTER (WHERE n.state NOT IN ('closed', 'rated', 'rejected')) AS open_incidents
        FROM incident n WHERE n.area_path @> ARRAY[a.id]
          AND (%(jurisdiction)s::bigint[] IS NULL OR n.area_path && %(jurisdiction)s::bigint[])
    ) i ON true
    WHERE a.valid_to IS NULL AND a.level = %(level)s AND a.layer = %(layer)s AND a.geom && b.env4326
)
SELECT ST_AsMVT(rows, %(name)s, 4096, 'geom', 'id') FROM rows WHERE geom IS NOT NULL

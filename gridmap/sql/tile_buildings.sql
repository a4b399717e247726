-- One Mapbox Vector Tile layer of buildings: code, name, households, floors, and the micro-grid
-- holding them (the first by code when units are shared). Parameters: z, x, y, name.
WITH bounds AS (
    SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS env,
           ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / 4096), 4326) AS env4326
),
rows AS (
    SELECT bl.id, bl.code, coalesce(bl.name, '') AS name, bl.households, bl.floors,
           (SELECT min(a.code) FROM microgrid_member m JOIN area a ON a.id = m.microgrid_id AND a.valid_to IS NULL
            WHERE m.building_id = bl.id) AS microgrid,
           ST_AsMVTGeom(ST_Transform(bl.geom, 3857), b.env, 4096, 64, true) AS geom
    FROM building bl CROSS JOIN bounds b
    WHERE bl.geom && b.env4326
)
SELECT ST_AsMVT(rows, %(name)s, 4096, 'geom', 'id') FROM rows WHERE geom IS NOT NULL

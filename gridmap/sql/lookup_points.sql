-- Where many points × layers fall, in one statement: the match, the base area row the owner chain starts
-- from, the owning micro-grid(s), the building and its units. Who owns a base area (chain, party cell, people)
-- depends on the area, not the point: lookup_owners.sql builds it once per owner. Rules: gridmap/lookup.py.
-- Memberships, party cells and households as they stood at t (<table>_at(%(at)s): a table's history; loaded
-- with gridmap.sql.load_at, which reads the current tables for now, see lookup_owners.sql). Buildings are
-- not versioned: today's.
-- Parameters: lon, lat float8[] (WGS-84), layers text[], at timestamptz (NULL = now),
-- nearest_m float8, unit int, floor int (NULL = not given).
WITH params AS (
    SELECT coalesce(%(at)s::timestamptz, now()) AS t, %(nearest_m)s::float8 AS nearest_m,
           %(unit)s::int AS unit, %(floor)s::int AS floor
),
pt AS (
    SELECT u.ord, l.layer, ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326) AS geom,
           -- degrees of longitude spanning nearest_m at this latitude: the index prefilter for "nearest"
           %(nearest_m)s::float8 / (111320.0 * greatest(cos(radians(u.lat)), 0.01)) AS near_deg
    FROM unnest(%(lon)s::float8[], %(lat)s::float8[]) WITH ORDINALITY AS u (lon, lat, ord)
    CROSS JOIN unnest(%(layers)s::text[]) AS l (layer)
),
resolved AS (
    SELECT pt.ord, pt.layer, params.t, cover.ids AS cover_ids, cover.row_ids AS cover_rows, bld.id AS building_id,
           split.ids AS split_ids, picked.id AS picked_id, near.id AS near_id, near.row_id AS near_row, near.distance_m,
           fallback.row_id AS fallback_row
    FROM pt
    CROSS JOIN params
    -- Micro-grids whose territory covers the point, boundary included (ST_Covers), lowest code first.
    LEFT JOIN LATERAL (
        SELECT array_agg(a.id ORDER BY a.code) AS ids, array_agg(a.row_id ORDER BY a.code) AS row_ids
        FROM area a
        WHERE a.row_id IN (
            SELECT p.row_id FROM area_piece p
            WHERE p.level = 'microgrid' AND p.layer = pt.layer AND ST_Covers(p.geom, pt.geom)
              AND valid_at(p.valid_from, p.valid_to, params.t))
    ) cover ON true
    LEFT JOIN LATERAL (
        SELECT b.id FROM building b WHERE ST_Covers(b.geom, pt.geom) ORDER BY b.code LIMIT 1
    ) bld ON true
    -- A building split by unit (单元) or floor: several covering micro-grids hold parts of it.
    LEFT JOIN LATERAL (
        SELECT array_agg(DISTINCT m.microgrid_id) AS ids
        FROM microgrid_member_at(%(at)s::timestamptz) m
        WHERE m.building_id = bld.id AND m.microgrid_id = ANY(cover.ids)
        HAVING count(DISTINCT m.microgrid_id) > 1
    ) split ON true
    LEFT JOIN LATERAL (
        SELECT min(m.microgrid_id) AS id
        FROM microgrid_member_at(%(at)s::timestamptz) m
        WHERE split.ids IS NOT NULL AND (params.unit IS NOT NULL OR params.floor IS NOT NULL)
          AND m.building_id = bld.id AND m.microgrid_id = ANY(split.ids)
          AND (params.unit IS NULL OR int4range(m.unit_from, m.unit_to, '[]') @> params.unit)
          AND (params.floor IS NULL OR int4range(m.floor_from, m.floor_to, '[]') @> params.floor)
        HAVING count(DISTINCT m.microgrid_id) = 1
    ) picked ON true
    -- In no micro-grid: the nearest one within nearest_m (geodesic metres), lowest code on a tie.
    LEFT JOIN LATERAL (
        SELECT a.id, p.row_id, ST_Distance(p.geom::geography, pt.geom::geography) AS distance_m
        FROM area_piece p JOIN area a ON a.row_id = p.row_id
        WHERE cover.ids IS NULL AND p.level = 'microgrid' AND p.layer = pt.layer
          AND p.geom && ST_Expand(pt.geom, pt.near_deg, pt.near_deg)
          AND valid_at(p.valid_from, p.valid_to, params.t)
          AND ST_Distance(p.geom::geography, pt.geom::geography) <= params.nearest_m
        ORDER BY 3, a.code
        LIMIT 1
    ) near ON true
    -- Still nothing: the smallest enclosing grid, community or subdistrict owns it (属地兜底).
    LEFT JOIN LATERAL (
        SELECT a.row_id
        FROM area_piece p JOIN area a ON a.row_id = p.row_id
        WHERE cover.ids IS NULL AND near.row_id IS NULL
          AND (p.level IN ('community', 'subdistrict') OR (p.level = 'grid' AND p.layer = pt.layer))
          AND ST_Covers(p.geom, pt.geom)
          AND valid_at(p.valid_from, p.valid_to, params.t)
        ORDER BY array_position(ARRAY['grid', 'community', 'subdistrict'], a.level), a.code
        LIMIT 1
    ) fallback ON true
),
owner AS (
    SELECT r.*,
           CASE WHEN r.split_ids IS NULL THEN coalesce(r.cover_rows[1], r.near_row)
                ELSE r.cover_rows[array_position(r.cover_ids, r.picked_id)] END AS microgrid_row,
           -- the micro-grids whose people and party cells answer for the point
           CASE WHEN r.picked_id IS NOT NULL THEN ARRAY[r.picked_id]
                WHEN r.split_ids IS NOT NULL THEN r.split_ids
                WHEN r.cover_ids IS NOT NULL THEN r.cover_ids[1:1]
                WHEN r.near_id IS NOT NULL THEN ARRAY[r.near_id]
                ELSE '{}' END AS owner_ids
    FROM resolved r
)
SELECT o.ord, o.layer,
       CASE WHEN o.cover_rows IS NOT NULL THEN 'inside' WHEN o.near_row IS NOT NULL THEN 'nearest'
            ELSE 'unassigned' END AS match,
       o.distance_m,
       coalesce(o.microgrid_row, o.cover_rows[1], o.fallback_row) AS base_row,
       o.microgrid_row,
       o.owner_ids,
       bld.building,
       units.units
FROM owner o
LEFT JOIN LATERAL (
    SELECT jsonb_build_object(
        'id', b.id, 'code', b.code, 'name', b.name, 'compound', b.compound, 'type', b.building_type,
        'households', b.households, 'floors', b.floors, 'units', b.units) AS building
    FROM building b WHERE b.id = o.building_id
) bld ON true
LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object(
        'microgrid', area_json_at(a, %(at)s::timestamptz), 'unit_from', m.unit_from, 'unit_to', m.unit_to,
        'floor_from', m.floor_from, 'floor_to', m.floor_to, 'households', m.households,
        'party_cell', pc.code) ORDER BY a.code, m.unit_from, m.floor_from) AS units
    FROM microgrid_member_at(%(at)s::timestamptz) m
    JOIN area a ON a.row_id = o.cover_rows[array_position(o.cover_ids, m.microgrid_id)]
    LEFT JOIN party_cell_microgrid_at(%(at)s::timestamptz) pcm ON pcm.microgrid_id = m.microgrid_id
    LEFT JOIN party_cell_at(%(at)s::timestamptz) pc ON pc.id = pcm.party_cell_id
    WHERE o.split_ids IS NOT NULL AND m.building_id = o.building_id AND m.microgrid_id = ANY(o.split_ids)
) units ON true
ORDER BY o.ord, o.layer

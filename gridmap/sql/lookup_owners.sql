-- Who answers for each owner key that lookup_points.sql found: the chain upwards from the base area (each
-- parent as it stood at time t), the party cell of the owning micro-grid and the people to call, all as
-- they stood at t, households included: <table>_at(%(at)s) reads a table's history (migration 0010).
-- Load it with gridmap.sql.load_at: for now (at NULL) each <table>_at(…) is the current table itself, so
-- now is read and planned as it was before there was history.
-- One row per key, in key order. Set-wise, not per key: a grid, community or subdistrict shared by many
-- keys is read and turned into JSON once. The generic plan guesses 10 keys whatever the batch: tables are
-- reached through their indexes and no CTE is joined to another big one, else one would be scanned per
-- row of the other.
-- Parameters: base_rows bigint[] (area row the chain starts from), microgrid_rows bigint[] (NULL: the
-- chain shows no micro-grid), owners text[] (each a bigint[] literal: the micro-grids whose people and
-- party cells answer), at timestamptz (NULL = now).
WITH RECURSIVE params AS (
    SELECT coalesce(%(at)s::timestamptz, now()) AS t
),
k AS (
    SELECT u.ord, u.base_row, u.microgrid_row, u.owners::bigint[] AS owner_ids
    FROM unnest(%(base_rows)s::bigint[], %(microgrid_rows)s::bigint[], %(owners)s::text[]) WITH ORDINALITY
         AS u (base_row, microgrid_row, owners, ord)
),
up AS (
    SELECT k.ord, a.id, a.parent_id, a.level, a.row_id, k.microgrid_row IS NULL AS hide_microgrid
    FROM k JOIN area a ON a.row_id = k.base_row
    UNION ALL
    SELECT up.ord, p.id, p.parent_id, p.level, p.row_id, up.hide_microgrid
    FROM up JOIN area p ON p.id = up.parent_id
    WHERE valid_at(p.valid_from, p.valid_to, (SELECT t FROM params))
),
-- area_json once per area, not once per key that shares it; by index, whatever the row estimate
doc AS MATERIALIZED (
    SELECT r.row_id, (SELECT area_json_at(a, %(at)s::timestamptz) FROM area a WHERE a.row_id = r.row_id) AS doc
    FROM (SELECT DISTINCT row_id FROM up) r
),
chain AS (
    SELECT up.ord, jsonb_object_agg(up.level, doc.doc) FILTER (WHERE up.level <> 'microgrid' OR NOT up.hide_microgrid)
               AS areas,
           array_agg(up.id) FILTER (WHERE up.level <> 'microgrid') AS upper_ids
    FROM up JOIN doc ON doc.row_id = up.row_id
    GROUP BY up.ord
),
-- Whom to call: people of the owning micro-grid(s), of their party cell(s), and of every area above.
callee AS (
    SELECT k.ord, pe.id, pe.name, pe.role, pe.phone, pe.area_id, pe.party_cell_id
    FROM k
    LEFT JOIN chain c ON c.ord = k.ord
    CROSS JOIN unnest(coalesce(c.upper_ids, '{}') || k.owner_ids) x (area_id)
    JOIN person_at(%(at)s::timestamptz) pe ON pe.area_id = x.area_id
    UNION
    SELECT k.ord, pe.id, pe.name, pe.role, pe.phone, pe.area_id, pe.party_cell_id
    FROM k
    CROSS JOIN unnest(k.owner_ids) x (microgrid_id)
    JOIN party_cell_microgrid_at(%(at)s::timestamptz) pcm ON pcm.microgrid_id = x.microgrid_id
    JOIN person_at(%(at)s::timestamptz) pe ON pe.party_cell_id = pcm.party_cell_id
),
-- Codes by index, one per person row: a join here is planned for the generic plan's guess of the rows
-- and then reads the whole area table for one point.
people AS (
    SELECT pe.ord, jsonb_agg(jsonb_build_object(
        'name', pe.name, 'role', pe.role, 'phone', pe.phone, 'area', pe.area_code, 'party_cell', pe.cell_code)
        ORDER BY array_position(ARRAY['microgrid_worker', 'building_chief', 'cell_leader', 'grid_worker'], pe.role),
                 pe.area_code DESC, pe.name) AS people
    FROM (
        SELECT c.*,
               CASE WHEN %(at)s::timestamptz IS NULL
                    THEN (SELECT ar.code FROM area ar WHERE ar.id = c.area_id AND ar.valid_to IS NULL)
                    ELSE (SELECT ar.code FROM area ar
                          WHERE ar.id = c.area_id AND valid_at(ar.valid_from, ar.valid_to, %(at)s::timestamptz))
               END AS area_code,
               (SELECT pc.code FROM party_cell_at(%(at)s::timestamptz) pc WHERE pc.id = c.party_cell_id) AS cell_code
        FROM callee c
    ) pe
    GROUP BY pe.ord
),
cell AS (
    SELECT k.ord, jsonb_build_object('id', pc.id, 'code', pc.code, 'name', pc.name, 'branch', pc.branch) AS party_cell
    FROM k
    JOIN area a ON a.row_id = k.microgrid_row
    JOIN party_cell_microgrid_at(%(at)s::timestamptz) pcm ON pcm.microgrid_id = a.id
    JOIN party_cell_at(%(at)s::timestamptz) pc ON pc.id = pcm.party_cell_id
)
-- The parts meet by grouping on ord, not by joins that the generic plan would nest.
SELECT u.ord,
       (array_agg(u.chain) FILTER (WHERE u.chain IS NOT NULL))[1] AS chain,
       (array_agg(u.party_cell) FILTER (WHERE u.party_cell IS NOT NULL))[1] AS party_cell,
       (array_agg(u.people) FILTER (WHERE u.people IS NOT NULL))[1] AS people
FROM (
    SELECT k.ord, NULL::jsonb AS chain, NULL::jsonb AS party_cell, NULL::jsonb AS people FROM k
    UNION ALL
    SELECT ord, areas, NULL, NULL FROM chain
    UNION ALL
    SELECT ord, NULL, party_cell, NULL FROM cell
    UNION ALL
    SELECT ord, NULL, NULL, people FROM people
) u
GROUP BY u.ord
ORDER BY u.ord

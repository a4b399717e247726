-- Who answers for each owner key that lookup_points.sql found: the chain upwards from the base area (each
-- parent as it stood at time t), the party cell of the owning micro-grid and the people to call.
-- One row per key, in key order. Set-wise, not per key: a grid, community or subdistrict shared by many
-- keys is read and turned into JSON once.
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
    SELECT b.base_row, a.id, a.parent_id, a.level, a.row_id
    FROM (SELECT DISTINCT base_row FROM k) b JOIN area a ON a.row_id = b.base_row
    UNION ALL
    SELECT up.base_row, p.id, p.parent_id, p.level, p.row_id
    FROM up JOIN area p ON p.id = up.parent_id
    WHERE valid_at(p.valid_from, p.valid_to, (SELECT t FROM params))
),
doc AS MATERIALIZED (  -- area_json once per area, not once per key that shares it
    SELECT a.row_id, area_json(a) AS doc FROM area a WHERE a.row_id IN (SELECT row_id FROM up)
),
chain AS (
    SELECT up.base_row, jsonb_object_agg(up.level, doc.doc) AS areas,
           array_agg(up.id) FILTER (WHERE up.level <> 'microgrid') AS upper_ids
    FROM up JOIN doc ON doc.row_id = up.row_id
    GROUP BY up.base_row
),
-- Whom to call: people of the owning micro-grid(s), of their party cell(s), and of every area above.
callee AS (
    SELECT k.ord, pe.id AS person_id
    FROM k
    LEFT JOIN chain c ON c.base_row = k.base_row
    CROSS JOIN unnest(coalesce(c.upper_ids, '{}') || k.owner_ids) x (area_id)
    JOIN person pe ON pe.area_id = x.area_id
    UNION
    SELECT k.ord, pe.id
    FROM k
    CROSS JOIN unnest(k.owner_ids) x (microgrid_id)
    JOIN party_cell_microgrid pcm ON pcm.microgrid_id = x.microgrid_id
    JOIN person pe ON pe.party_cell_id = pcm.party_cell_id
),
people AS (
    SELECT c.ord, jsonb_agg(jsonb_build_object(
        'name', pe.name, 'role', pe.role, 'phone', pe.phone, 'area', ar.code, 'party_cell', pc.code)
        ORDER BY array_position(ARRAY['microgrid_worker', 'building_chief', 'cell_leader', 'grid_worker'], pe.role),
                 ar.code DESC, pe.name) AS people
    FROM callee c
    JOIN person pe ON pe.id = c.person_id
    LEFT JOIN area ar ON ar.id = pe.area_id AND ar.valid_to IS NULL
    LEFT JOIN party_cell pc ON pc.id = pe.party_cell_id
    GROUP BY c.ord
)
SELECT k.ord,
       chain.areas - CASE WHEN k.microgrid_row IS NULL THEN 'microgrid' ELSE '' END AS chain,
       cell.party_cell,
       people.people
FROM k
LEFT JOIN chain ON chain.base_row = k.base_row
-- per key through the indexes: a join here may be planned for the generic plan's guess of 10 keys
LEFT JOIN LATERAL (
    SELECT jsonb_build_object('id', pc.id, 'code', pc.code, 'name', pc.name, 'branch', pc.branch) AS party_cell
    FROM area a
    JOIN party_cell_microgrid pcm ON pcm.microgrid_id = a.id
    JOIN party_cell pc ON pc.id = pcm.party_cell_id
    WHERE a.row_id = k.microgrid_row
) cell ON true
LEFT JOIN people ON people.ord = k.ord
ORDER BY k.ord

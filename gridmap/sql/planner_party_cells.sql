-- Party cells (党小组) by id, with the people who answer for them. Parameter: ids.
SELECT pc.id, pc.code, pc.name,
       coalesce((SELECT json_agg(json_build_object('name', pe.name, 'role', pe.role) ORDER BY pe.role, pe.name)
                 FROM person pe WHERE pe.party_cell_id = pc.id), '[]'::json) AS people
FROM party_cell pc
WHERE pc.id = ANY(%(ids)s)

-- Party cells with their micro-grid codes joined by ';'.
SELECT c.code, c.name, coalesce(c.branch, '') AS branch,
       coalesce(string_agg(a.code, ';' ORDER BY a.code), '') AS microgrids
FROM party_cell c
LEFT JOIN party_cell_microgrid m ON m.party_cell_id = c.id
LEFT JOIN area a ON a.id = m.microgrid_id AND a.valid_to IS NULL
GROUP BY c.id ORDER BY c.code

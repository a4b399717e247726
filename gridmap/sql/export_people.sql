-- People with the codes of their area and party cell.
SELECT p.name, p.phone, p.role, coalesce(a.code, '') AS area, coalesce(c.code, '') AS party_cell
FROM person p
LEFT JOIN area a ON a.id = p.area_id AND a.valid_to IS NULL
LEFT JOIN party_cell c ON c.id = p.party_cell_id
ORDER BY p.role, area, party_cell, p.name

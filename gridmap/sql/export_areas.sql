-- Current areas of one level in the import columns.
SELECT a.code, a.name, coalesce(p.code, '') AS parent, a.kind, a.layer, ST_AsBinary(a.geom) AS wkb
FROM area a LEFT JOIN area p ON p.id = a.parent_id AND p.valid_to IS NULL
WHERE a.valid_to IS NULL AND a.level = %s ORDER BY a.code

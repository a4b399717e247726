-- Current versions of the given codes at one level, with their parent's code.
SELECT a.id, a.version, a.code, a.name, a.kind, a.layer, p.code AS parent, ST_AsBinary(a.geom) AS wkb
FROM area a
LEFT JOIN area p ON p.id = a.parent_id AND p.valid_to IS NULL
WHERE a.valid_to IS NULL AND a.level = %(level)s AND a.code = ANY(%(codes)s)

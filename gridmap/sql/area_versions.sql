-- Every version of one area, newest first, with who wrote it and when (the audit entry that made it,
-- when there is one: imports record the batch, not each version). Parameter: id.
SELECT a.version, a.code, a.name, a.kind, a.layer, a.valid_from, a.valid_to, ST_AsBinary(a.geom) AS wkb,
       l.actor, l.action, l.detail, area_path(a.id) AS path
FROM area a
LEFT JOIN LATERAL (
    SELECT actor, action, detail FROM audit_log
    WHERE object_type = 'area' AND object_id = a.id AND after_version = a.version
    ORDER BY id DESC LIMIT 1
) l ON true
WHERE a.id = %(id)s
ORDER BY a.version DESC

-- Current areas for a coverage check: the scope (codes starting with `prefix`; '' = every area), its
-- ancestors (to test containment), and other micro-grids and grids touching the scope (to find
-- overlaps across its edge). With households, party cell and how many people can be called.
-- Parameters: prefix.
WITH scope AS (
    SELECT geom FROM area WHERE code = %(prefix)s AND valid_to IS NULL
)
SELECT a.id, a.code, a.name, a.level, a.layer, a.kind, a.parent_id, ST_AsBinary(a.geom) AS wkb,
       coalesce(h.households, 0) AS households,
       pc.party_cell_id IS NOT NULL AS has_party_cell,
       (SELECT count(*) FROM person pe
        WHERE pe.area_id = a.id OR pe.party_cell_id = pc.party_cell_id) AS people,
       a.code LIKE %(prefix)s || '%%' AS in_scope
FROM area a
LEFT JOIN area_households h ON h.id = a.id
LEFT JOIN party_cell_microgrid pc ON pc.microgrid_id = a.id
WHERE a.valid_to IS NULL
  AND (a.code LIKE %(prefix)s || '%%'
       OR %(prefix)s LIKE a.code || '%%'
       OR (a.level IN ('grid', 'microgrid')
           AND EXISTS (SELECT 1 FROM scope s WHERE a.geom && s.geom AND ST_Intersects(a.geom, s.geom))))
ORDER BY a.code

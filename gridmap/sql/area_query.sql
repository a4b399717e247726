-- Everything a polygon touches, for emergency mobilisation: micro-grids (of one layer), buildings,
-- party cells and the people to call. Parameters: wkb (WGS-84 polygon), layer text.
WITH q AS (
    SELECT ST_SetSRID(ST_GeomFromWKB(%(wkb)s), 4326) AS geom
),
mg AS (
    SELECT a.*
    FROM area a
    WHERE a.row_id IN (
        SELECT p.row_id FROM area_piece p, q
        WHERE p.level = 'microgrid' AND p.layer = %(layer)s AND p.valid_to IS NULL AND ST_Intersects(p.geom, q.geom))
),
cells AS (
    SELECT DISTINCT pc.* FROM mg JOIN party_cell_microgrid pcm ON pcm.microgrid_id = mg.id
    JOIN party_cell pc ON pc.id = pcm.party_cell_id
),
grids AS (
    SELECT DISTINCT mg.parent_id AS id FROM mg
),
bld AS (
    SELECT b.* FROM building b, q WHERE ST_Intersects(b.geom, q.geom)
),
people AS (
    SELECT * FROM person WHERE area_id IN (SELECT id FROM mg UNION SELECT id FROM grids)
    UNION
    SELECT * FROM person WHERE party_cell_id IN (SELECT id FROM cells)
)
SELECT
    (SELECT coalesce(jsonb_agg(area_json(mg) || jsonb_build_object(
                'grid', (SELECT g.code FROM area g WHERE g.id = mg.parent_id AND g.valid_to IS NULL),
                'party_cell', (SELECT pc.code FROM party_cell_microgrid pcm JOIN party_cell pc ON pc.id = pcm.party_cell_id
                               WHERE pcm.microgrid_id = mg.id))
            ORDER BY mg.code), '[]') FROM mg) AS microgrids,
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'id', b.id, 'code', b.code, 'name', b.name, 'compound', b.compound, 'type', b.building_type,
                'households', b.households, 'floors', b.floors, 'units', b.units,
                'microgrids', (SELECT jsonb_agg(DISTINCT a.code) FROM microgrid_member m
                               JOIN area a ON a.id = m.microgrid_id AND a.valid_to IS NULL
                               WHERE m.building_id = b.id))
            ORDER BY b.code), '[]') FROM bld b) AS buildings,
    (SELECT coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'code', c.code, 'name', c.name, 'branch', c.branch)
            ORDER BY c.code), '[]') FROM cells c) AS party_cells,
    (SELECT coalesce(jsonb_agg(jsonb_build_object(
                'name', pe.name, 'role', pe.role, 'phone', pe.phone, 'area', ar.code, 'party_cell', pc.code)
            ORDER BY coalesce(ar.code, pc.code), pe.role, pe.name), '[]')
     FROM people pe
     LEFT JOIN area ar ON ar.id = pe.area_id AND ar.valid_to IS NULL
     LEFT JOIN party_cell pc ON pc.id = pe.party_cell_id) AS people

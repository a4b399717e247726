-- One version of an area; triggers check the parent and fill area_piece.
INSERT INTO area (id, version, level, code, parent_id, name, kind, layer, geom, attrs)
VALUES (%(id)s, %(version)s, %(level)s, %(code)s, %(parent_id)s, %(name)s, %(kind)s, %(layer)s,
        ST_Multi(ST_GeomFromWKB(%(wkb)s, 4326)), %(attrs)s)

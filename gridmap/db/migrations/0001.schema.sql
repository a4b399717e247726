-- The area hierarchy (街镇—社区—网格—微网格), buildings, micro-grid membership, party cells, people.
-- Database-side rules are a backstop: the import and edit paths check the same things first and
-- report them row by row.

CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- One row per logical area; its versions live in `area`. References to an area that must survive
-- a redraw (parents, memberships, people) point here, not at one version.
CREATE TABLE area_identity (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    level text NOT NULL CHECK (level IN ('subdistrict', 'community', 'grid', 'microgrid'))
);

CREATE TABLE area (
    row_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id bigint NOT NULL REFERENCES area_identity (id),
    version integer NOT NULL CHECK (version >= 1),
    level text NOT NULL CHECK (level IN ('subdistrict', 'community', 'grid', 'microgrid')),
    code text NOT NULL,
    parent_id bigint REFERENCES area_identity (id),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- 综合网格 (comprehensive) or 专属网格 (specialised: one school, hospital, company, station).
    kind text NOT NULL DEFAULT 'comprehensive' CHECK (kind IN ('comprehensive', 'specialised')),
    -- 多格合一: the merged layer is 'comprehensive'; other layers (e.g. public_security) may coexist.
    layer text NOT NULL DEFAULT 'comprehensive' CHECK (layer ~ '^[a-z][a-z0-9_]{0,39}$'),
    geom geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
    attrs jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attrs) = 'object'),
    valid_from timestamptz NOT NULL DEFAULT now(),
    valid_to timestamptz,
    CHECK (valid_to IS NULL OR valid_to >= valid_from),
    CHECK ((level = 'subdistrict') = (parent_id IS NULL)),
    -- DB11/T 2157-2023: 6-digit district + 3 subdistrict + 3 community + 3 grid (+ 3 micro-grid).
    CHECK (code ~ CASE level
        WHEN 'subdistrict' THEN '^[0-9]{9}$'
        WHEN 'community' THEN '^[0-9]{12}$'
        WHEN 'grid' THEN '^[0-9]{15}$'
        ELSE '^[0-9]{18}$' END),
    UNIQUE (id, version)
);

CREATE UNIQUE INDEX area_current_code ON area (code) WHERE valid_to IS NULL;
CREATE UNIQUE INDEX area_current_id ON area (id) WHERE valid_to IS NULL;
CREATE INDEX area_parent ON area (parent_id) WHERE valid_to IS NULL;
CREATE INDEX area_level ON area (level, layer) WHERE valid_to IS NULL;
CREATE INDEX area_geom ON area USING gist (geom);

-- Small pieces of every area version (ST_Subdivide) so point-in-polygon tests touch few vertices.
CREATE TABLE area_piece (
    row_id bigint NOT NULL REFERENCES area (row_id),
    id bigint NOT NULL,
    level text NOT NULL,
    layer text NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz,
    geom geometry(Geometry, 4326) NOT NULL
);
CREATE INDEX area_piece_geom ON area_piece USING gist (geom);
CREATE INDEX area_piece_row ON area_piece (row_id);

CREATE FUNCTION area_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent area%ROWTYPE;
    expected_parent_level text;
BEGIN
    IF (SELECT level FROM area_identity WHERE id = NEW.id) IS DISTINCT FROM NEW.level THEN
        RAISE EXCEPTION 'area % has level % but its identity says otherwise', NEW.code, NEW.level
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.parent_id IS NOT NULL THEN
        SELECT * INTO parent FROM area WHERE id = NEW.parent_id AND valid_to IS NULL;
        expected_parent_level := CASE NEW.level
            WHEN 'community' THEN 'subdistrict' WHEN 'grid' THEN 'community' WHEN 'microgrid' THEN 'grid' END;
        IF parent.row_id IS NULL THEN
            RAISE EXCEPTION 'area %: parent % has no current version', NEW.code, NEW.parent_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        IF parent.level <> expected_parent_level THEN
            RAISE EXCEPTION 'area % (%) cannot have a % as parent', NEW.code, NEW.level, parent.level
                USING ERRCODE = 'check_violation';
        END IF;
        IF left(NEW.code, length(parent.code)) <> parent.code THEN
            RAISE EXCEPTION 'area code % does not start with its parent''s code %', NEW.code, parent.code
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER area_before_insert BEFORE INSERT ON area
    FOR EACH ROW EXECUTE FUNCTION area_before_insert();

CREATE FUNCTION area_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO area_piece (row_id, id, level, layer, valid_from, valid_to, geom)
    SELECT NEW.row_id, NEW.id, NEW.level, NEW.layer, NEW.valid_from, NEW.valid_to, piece
    FROM ST_Subdivide(NEW.geom, 64) AS piece;
    RETURN NULL;
END $$;

CREATE TRIGGER area_after_insert AFTER INSERT ON area
    FOR EACH ROW EXECUTE FUNCTION area_after_insert();

-- Versions are history: the only change allowed to a stored version is closing it.
CREATE FUNCTION area_before_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.valid_to IS NOT NULL THEN
        RAISE EXCEPTION 'area % version % is closed and cannot change', OLD.code, OLD.version
            USING ERRCODE = 'check_violation';
    END IF;
    IF (NEW.id, NEW.version, NEW.level, NEW.code, NEW.parent_id, NEW.name, NEW.kind, NEW.layer,
        NEW.attrs, NEW.valid_from) IS DISTINCT FROM
       (OLD.id, OLD.version, OLD.level, OLD.code, OLD.parent_id, OLD.name, OLD.kind, OLD.layer,
        OLD.attrs, OLD.valid_from)
       OR NOT ST_Equals(NEW.geom, OLD.geom) THEN
        RAISE EXCEPTION 'area % version %: write a new version instead of changing this one',
            OLD.code, OLD.version USING ERRCODE = 'check_violation';
    END IF;
    UPDATE area_piece SET valid_to = NEW.valid_to WHERE row_id = NEW.row_id;
    RETURN NEW;
END $$;

CREATE TRIGGER area_before_update BEFORE UPDATE ON area
    FOR EACH ROW EXECUTE FUNCTION area_before_update();

CREATE FUNCTION refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are history and are never deleted; close the version instead', TG_TABLE_NAME
        USING ERRCODE = 'check_violation';
END $$;

CREATE TRIGGER area_no_delete BEFORE DELETE ON area
    FOR EACH ROW EXECUTE FUNCTION refuse_delete();

CREATE TABLE building (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
    name text CHECK (length(name) <= 200),
    compound text CHECK (length(compound) <= 200),   -- 小区 / 院落
    building_type text CHECK (length(building_type) <= 60),
    households integer NOT NULL DEFAULT 0 CHECK (households >= 0 AND households <= 100000),
    floors integer CHECK (floors BETWEEN 1 AND 200),
    units integer NOT NULL DEFAULT 1 CHECK (units BETWEEN 1 AND 100),   -- 单元 (stairwell units)
    geom geometry(MultiPolygon, 4326) NOT NULL CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
    attrs jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attrs) = 'object'),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX building_geom ON building USING gist (geom);

-- Which micro-grid holds a building, or part of one: a tower is split by unit (单元) and, where one
-- unit is still too big, by floor range. NULL bounds mean "all units" / "all floors".
CREATE TABLE microgrid_member (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    microgrid_id bigint NOT NULL REFERENCES area_identity (id),
    building_id bigint NOT NULL REFERENCES building (id) ON DELETE CASCADE,
    unit_from integer CHECK (unit_from >= 1),
    unit_to integer CHECK (unit_to >= 1),
    floor_from integer CHECK (floor_from >= 1),
    floor_to integer CHECK (floor_to >= 1),
    households integer NOT NULL CHECK (households >= 0),
    CHECK (unit_from IS NULL OR unit_to IS NULL OR unit_from <= unit_to),
    CHECK (floor_from IS NULL OR floor_to IS NULL OR floor_from <= floor_to),
    -- No two memberships may claim the same unit and floor of one building.
    EXCLUDE USING gist (
        building_id WITH =,
        int4range(unit_from, unit_to, '[]') WITH &&,
        int4range(floor_from, floor_to, '[]') WITH &&
    )
);
CREATE INDEX microgrid_member_microgrid ON microgrid_member (microgrid_id);

CREATE FUNCTION member_is_microgrid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT level FROM area_identity WHERE id = NEW.microgrid_id) IS DISTINCT FROM 'microgrid' THEN
        RAISE EXCEPTION 'area % is not a micro-grid', NEW.microgrid_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TABLE party_cell (   -- 党小组
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    branch text CHECK (length(branch) <= 200),   -- the compound party branch (小区党支部) above it
    attrs jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attrs) = 'object')
);

-- A micro-grid belongs to at most one party cell; a cell usually owns about two micro-grids.
CREATE TABLE party_cell_microgrid (
    microgrid_id bigint PRIMARY KEY REFERENCES area_identity (id),
    party_cell_id bigint NOT NULL REFERENCES party_cell (id) ON DELETE CASCADE
);
CREATE INDEX party_cell_microgrid_cell ON party_cell_microgrid (party_cell_id);

CREATE TRIGGER microgrid_member_level BEFORE INSERT OR UPDATE ON microgrid_member
    FOR EACH ROW EXECUTE FUNCTION member_is_microgrid();
CREATE TRIGGER party_cell_microgrid_level BEFORE INSERT OR UPDATE ON party_cell_microgrid
    FOR EACH ROW EXECUTE FUNCTION member_is_microgrid();

CREATE TABLE person (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    phone text NOT NULL CHECK (phone ~ '^\+?[0-9][0-9 -]{4,19}$'),
    -- 网格员, 微网格员, 楼栋长, 党小组长
    role text NOT NULL CHECK (role IN ('grid_worker', 'microgrid_worker', 'building_chief', 'cell_leader')),
    area_id bigint REFERENCES area_identity (id),
    party_cell_id bigint REFERENCES party_cell (id) ON DELETE CASCADE,
    CHECK (area_id IS NOT NULL OR party_cell_id IS NOT NULL),
    UNIQUE NULLS NOT DISTINCT (role, area_id, party_cell_id, name)
);
CREATE INDEX person_area ON person (area_id);
CREATE INDEX person_party_cell ON person (party_cell_id);

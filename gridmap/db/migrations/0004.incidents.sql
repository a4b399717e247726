-- Incidents (民生诉求 / 工单): categories with deadlines per stage, cases routed to the owning areas
-- (the area versions used are kept), the citizen reports attached to each case (repeats join an open
-- case), an append-only event history, and photos.
-- depends: 0003.access

-- Two more roles: field workers (网格员) who accept and answer cases, and channel systems (a WeChat
-- mini-program's back end, the 12345 hotline bridge) that may only report.
ALTER TABLE app_user DROP CONSTRAINT app_user_role_check;
ALTER TABLE app_user ADD CONSTRAINT app_user_role_check
    CHECK (role IN ('admin', 'planner', 'dispatcher', 'worker', 'intake', 'viewer'));
ALTER TABLE api_key DROP CONSTRAINT api_key_role_check;
ALTER TABLE api_key ADD CONSTRAINT api_key_role_check
    CHECK (role IN ('admin', 'planner', 'dispatcher', 'worker', 'intake', 'viewer'));

CREATE TABLE incident_category (
    code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{0,39}$'),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    name_zh text NOT NULL CHECK (length(name_zh) BETWEEN 1 AND 100),
    -- 'working': deadlines count the working hours of the calendar; 'continuous': the wall clock
    -- (safety hazards are not left over a weekend).
    calendar text NOT NULL DEFAULT 'working' CHECK (calendar IN ('working', 'continuous')),
    active boolean NOT NULL DEFAULT true
);

-- Minutes allowed per stage: dispatch (received → dispatched), accept (→ in progress),
-- handle (→ replied), verify (→ closed). Counted on the category's calendar.
CREATE TABLE incident_deadline (
    category text NOT NULL REFERENCES incident_category (code),
    stage text NOT NULL CHECK (stage IN ('dispatch', 'accept', 'handle', 'verify')),
    minutes integer NOT NULL CHECK (minutes BETWEEN 1 AND 525600),
    PRIMARY KEY (category, stage)
);

INSERT INTO incident_category (code, name, name_zh, calendar) VALUES
    ('sanitation', 'Sanitation and litter', '环境卫生', 'working'),
    ('streetlight', 'Street lighting', '路灯照明', 'working'),
    ('road', 'Roads and pavements', '道路设施', 'working'),
    ('greenery', 'Trees and greenery', '园林绿化', 'working'),
    ('noise', 'Noise', '噪音扰民', 'working'),
    ('illegal_building', 'Illegal construction', '违法建设', 'working'),
    ('property', 'Property management', '物业管理', 'working'),
    ('utilities', 'Water, power and gas supply', '水电气', 'working'),
    ('dispute', 'Neighbour dispute', '邻里纠纷', 'working'),
    ('safety_hazard', 'Safety hazard', '安全隐患', 'continuous'),
    ('public_order', 'Public order', '治安秩序', 'continuous'),
    ('other', 'Other', '其他', 'working');

-- Defaults in working minutes (an 8-hour day is 480): dispatch within 1 h, accept within 2 h, handle
-- within 3 working days, verify within 1 day; hazards and public order run on the wall clock and faster.
INSERT INTO incident_deadline (category, stage, minutes)
SELECT c.code, s.stage,
       CASE WHEN c.calendar = 'continuous' THEN s.urgent ELSE s.normal END
FROM incident_category c
CROSS JOIN (VALUES ('dispatch', 60, 15), ('accept', 120, 30), ('handle', 1440, 240), ('verify', 480, 120))
    AS s (stage, normal, urgent);

CREATE TABLE incident (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category text NOT NULL REFERENCES incident_category (code),
    description text NOT NULL CHECK (length(description) BETWEEN 1 AND 4000),
    channel text NOT NULL CHECK (channel IN ('wechat', 'hotline_12345', 'patrol', 'camera', 'web', 'api', 'open311', 'import')),
    state text NOT NULL DEFAULT 'received' CHECK (state IN (
        'received', 'dispatched', 'in_progress', 'replied', 'closed', 'rated', 'escalated', 'rejected', 'reopened')),
    -- Where: a point (WGS-84), and how it was found; NULL while the case waits for a location.
    geom geometry(Point, 4326),
    address text CHECK (length(address) <= 500),
    building_id bigint REFERENCES building (id),
    location_source text NOT NULL CHECK (location_source IN ('point', 'address', 'building', 'none')),
    location_confidence real CHECK (location_confidence BETWEEN 0 AND 1),
    -- needs_location, unassigned, nearest, near_boundary, overdue, reported_after_close …
    flags text[] NOT NULL DEFAULT '{}',
    -- The lookup answer the case was routed by, area versions included: a later redraw never rewrites it.
    route jsonb NOT NULL DEFAULT '{}'::jsonb,
    microgrid_id bigint REFERENCES area_identity (id),
    grid_id bigint REFERENCES area_identity (id),
    community_id bigint REFERENCES area_identity (id),
    subdistrict_id bigint REFERENCES area_identity (id),
    area_path bigint[] NOT NULL DEFAULT '{}',
    -- Who answers now; escalation climbs micro-grid → grid → community → subdistrict.
    level text CHECK (level IN ('microgrid', 'grid', 'community', 'subdistrict')),
    assignee text CHECK (length(assignee) <= 200),
    reports integer NOT NULL DEFAULT 1 CHECK (reports >= 1),
    received_at timestamptz NOT NULL,
    stage text CHECK (stage IN ('dispatch', 'accept', 'handle', 'verify')),
    stage_started_at timestamptz NOT NULL,
    due_at timestamptz,          -- the current stage's deadline
    deadline_at timestamptz,     -- the whole case's deadline (Open311 expected_datetime)
    closed_at timestamptz,
    satisfaction smallint CHECK (satisfaction BETWEEN 1 AND 5),
    reason text CHECK (length(reason) <= 2000),
    external_id text CHECK (length(external_id) <= 100),
    updated_at timestamptz NOT NULL,
    version integer NOT NULL DEFAULT 1,
    UNIQUE (channel, external_id)
);
CREATE INDEX incident_geom ON incident USING gist (geom);
CREATE INDEX incident_area_path ON incident USING gin (area_path);
CREATE INDEX incident_state ON incident (state, category);
CREATE INDEX incident_received ON incident (received_at);
CREATE INDEX incident_due ON incident (due_at) WHERE state NOT IN ('closed', 'rated', 'rejected');
CREATE INDEX incident_building ON incident (building_id);

-- Every citizen report: the first one of a case and each repeat (只投诉一次) that joined it.
CREATE TABLE incident_report (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incident (id),
    is_repeat boolean NOT NULL,
    channel text NOT NULL,
    description text NOT NULL CHECK (length(description) BETWEEN 1 AND 4000),
    reporter_name text CHECK (length(reporter_name) <= 100),
    reporter_phone text CHECK (length(reporter_phone) <= 30),
    geom geometry(Point, 4326),
    address text CHECK (length(address) <= 500),
    building_id bigint REFERENCES building (id),
    location_source text NOT NULL,
    location_confidence real,
    reported_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    token text UNIQUE   -- Open311 tokens/{token}.json
);
CREATE INDEX incident_report_incident ON incident_report (incident_id);

-- The case history: every action with its actor, time and note. Append-only, like audit_log.
CREATE TABLE incident_event (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incident (id),
    at timestamptz NOT NULL,
    action text NOT NULL,
    from_state text,
    to_state text,
    actor text NOT NULL,
    actor_kind text NOT NULL,
    role text,
    note text CHECK (length(note) <= 2000),
    detail jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id text
);
CREATE INDEX incident_event_incident ON incident_event (incident_id, at);

CREATE FUNCTION append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER incident_event_no_update BEFORE UPDATE OR DELETE ON incident_event
    FOR EACH ROW EXECUTE FUNCTION append_only();
CREATE TRIGGER incident_event_no_truncate BEFORE TRUNCATE ON incident_event
    FOR EACH STATEMENT EXECUTE FUNCTION append_only();

-- Photos: a link given by the reporter, or an upload kept on disk under the data dir (path relative).
CREATE TABLE incident_photo (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incident (id),
    url text CHECK (length(url) <= 2000),
    path text,
    content_type text,
    bytes integer,
    sha256 text,
    added_at timestamptz NOT NULL,
    CHECK ((url IS NULL) <> (path IS NULL))
);
CREATE INDEX incident_photo_incident ON incident_photo (incident_id);

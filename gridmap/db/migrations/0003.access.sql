-- Who may change what (users, API keys, sessions, jurisdictions), the append-only audit log,
-- idempotency keys for creates, and a version counter on buildings for optimistic concurrency.
-- depends: 0002.households

-- A jurisdiction is a set of area identities (subdistricts or communities); empty = everywhere,
-- which only makes sense for admin, dispatcher and viewer.
CREATE TABLE app_user (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
    password_hash text NOT NULL,
    role text NOT NULL CHECK (role IN ('admin', 'planner', 'dispatcher', 'viewer')),
    scope bigint[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz,
    CHECK (role <> 'planner' OR cardinality(scope) > 0)
);

-- Tokens are random; only an HMAC of each is stored, so a copy of the database does not log anyone in.
CREATE TABLE api_key (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$'),
    digest text NOT NULL UNIQUE,
    role text NOT NULL CHECK (role IN ('admin', 'planner', 'dispatcher', 'viewer')),
    scope bigint[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CHECK (role <> 'planner' OR cardinality(scope) > 0)
);

CREATE TABLE user_session (
    digest text PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES app_user (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX user_session_user ON user_session (user_id);

-- One row per write, in the writer's transaction. area_path holds the area and its ancestors (identity
-- ids) at the time of the write, so "everything that changed in this community" is one index probe.
CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor text NOT NULL,
    actor_kind text NOT NULL CHECK (actor_kind IN ('user', 'key', 'cli')),
    role text,
    action text NOT NULL,
    object_type text NOT NULL,
    object_id bigint,
    object_code text,
    area_path bigint[] NOT NULL DEFAULT '{}',
    before_version integer,
    after_version integer,
    request_id text,
    detail jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, at);
CREATE INDEX audit_log_area ON audit_log USING gin (area_path);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- A create sent again with the same Idempotency-Key replays the stored answer instead of creating twice.
CREATE TABLE idempotency_key (
    principal text NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    status integer,
    body jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);

ALTER TABLE building ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1);

-- The current area and its current ancestors, nearest first (identity ids): what jurisdiction checks
-- and the audit log's area filter look at.
CREATE FUNCTION area_path(target bigint) RETURNS bigint[] LANGUAGE sql STABLE AS $$
    WITH RECURSIVE up (id, parent_id, depth) AS (
        SELECT id, parent_id, 0 FROM area WHERE id = target AND valid_to IS NULL
        UNION ALL
        SELECT a.id, a.parent_id, up.depth + 1 FROM area a JOIN up ON a.id = up.parent_id AND a.valid_to IS NULL
    )
    SELECT coalesce(array_agg(id ORDER BY depth), '{}') FROM up
$$;

-- A building's areas: those of the micro-grids holding it, and the current areas its footprint's
-- inner point lies in (so an unassigned building still has a jurisdiction).
CREATE FUNCTION building_area_path(target bigint) RETURNS bigint[] LANGUAGE sql STABLE AS $$
    SELECT coalesce(array_agg(DISTINCT id), '{}') FROM (
        SELECT unnest(area_path(m.microgrid_id)) AS id FROM microgrid_member m WHERE m.building_id = target
        UNION ALL
        SELECT a.id FROM building b
        JOIN area a ON a.valid_to IS NULL AND a.layer = 'comprehensive' AND a.level <> 'microgrid'
             AND ST_Covers(a.geom, ST_PointOnSurface(b.geom))
        WHERE b.id = target
    ) s
$$;

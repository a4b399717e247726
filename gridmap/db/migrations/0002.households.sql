-- Household totals per area, kept current at commit; which version was valid when; the JSON shape of an area.
-- depends: 0001.schema

-- Totals roll up memberships: micro-grid = its members, grid = its current micro-grids, and so on.
-- Membership is not versioned, so a lookup in the past (at=) reports today's totals.
CREATE MATERIALIZED VIEW area_households AS
WITH member_total AS (
    SELECT microgrid_id AS id, sum(households)::bigint AS households
    FROM microgrid_member GROUP BY microgrid_id
),
chain AS (
    SELECT m.id AS microgrid, g.id AS grid, c.id AS community, s.id AS subdistrict,
           coalesce(t.households, 0) AS households
    FROM area m
    LEFT JOIN member_total t ON t.id = m.id
    LEFT JOIN area g ON g.id = m.parent_id AND g.valid_to IS NULL
    LEFT JOIN area c ON c.id = g.parent_id AND c.valid_to IS NULL
    LEFT JOIN area s ON s.id = c.parent_id AND s.valid_to IS NULL
    WHERE m.level = 'microgrid' AND m.valid_to IS NULL
)
SELECT id, sum(households)::bigint AS households, count(*) AS microgrids
FROM (
    SELECT microgrid AS id, households FROM chain
    UNION ALL SELECT grid, households FROM chain
    UNION ALL SELECT community, households FROM chain
    UNION ALL SELECT subdistrict, households FROM chain
) rolled
WHERE id IS NOT NULL
GROUP BY id;

CREATE UNIQUE INDEX area_households_id ON area_households (id);

-- Any write to areas or memberships marks the totals stale; one deferred trigger per transaction
-- refreshes them at commit. CONCURRENTLY, so lookups keep reading the old totals meanwhile.
CREATE TABLE area_households_stale (stale boolean PRIMARY KEY DEFAULT true CHECK (stale));

CREATE FUNCTION area_households_mark_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO area_households_stale DEFAULT VALUES ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER area_households_stale AFTER INSERT OR UPDATE ON area
    FOR EACH STATEMENT EXECUTE FUNCTION area_households_mark_stale();
CREATE TRIGGER area_households_stale AFTER INSERT OR UPDATE OR DELETE ON microgrid_member
    FOR EACH STATEMENT EXECUTE FUNCTION area_households_mark_stale();

CREATE FUNCTION area_households_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM area_households_stale;
    IF FOUND THEN
        REFRESH MATERIALIZED VIEW CONCURRENTLY area_households;
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER area_households_refresh AFTER INSERT ON area_households_stale
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION area_households_refresh();

REFRESH MATERIALIZED VIEW area_households;

-- Was a version current at instant t? (valid_from inclusive, valid_to exclusive, so exactly one
-- version of an area answers any instant.) Plain SQL, so the planner inlines it and indexes still apply.
CREATE FUNCTION valid_at(valid_from timestamptz, valid_to timestamptz, t timestamptz) RETURNS boolean
    LANGUAGE sql IMMUTABLE AS $$ SELECT valid_from <= t AND (valid_to IS NULL OR valid_to > t) $$;

-- One area version as it appears in every answer.
CREATE FUNCTION area_json(a area) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', a.id, 'code', a.code, 'name', a.name, 'level', a.level, 'kind', a.kind, 'layer', a.layer,
        'version', a.version, 'valid_from', a.valid_from, 'valid_to', a.valid_to,
        'households', coalesce((SELECT h.households FROM area_households h WHERE h.id = a.id), 0))
$$;

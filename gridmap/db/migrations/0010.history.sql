-- History for memberships, party cells and people, as `area` has it: every version of every row of
-- microgrid_member, party_cell, party_cell_microgrid and person, valid from valid_from (inclusive) to
-- valid_to (exclusive; NULL = current), so `at=` answers with who was where and whom to call then.
-- depends: 0009.lookup_notices
--
-- The current tables stay what every writer writes and every reader of now reads. Triggers on them
-- keep the history in the same transaction, whatever the write path (imports, the API, draft saves,
-- partition applies, psql): one trigger per statement and operation, over its transition tables, so an
-- import of a million memberships stays a few set-based statements.
--
-- * INSERT opens a version at now() (the transaction's time, as area versions are closed and opened).
-- * UPDATE closes the changed rows' versions and opens their new ones; an update that changes nothing
--   (every column equal) leaves the history alone.
-- * DELETE (also by cascade from building or party_cell) and TRUNCATE close them.
-- * Closing a version this transaction opened (valid_from = now()) deletes it: a row inserted and deleted
--   in one transaction leaves no trace, one updated twice leaves one version, no period is empty. A
--   version another transaction opened after this one began (a later now()) is dropped the same way,
--   and one it closed later is cut back to now(): history never runs backwards, the last writer wins.
-- * A row changed back, within the transaction that closed its version, to what that version holds
--   reopens it: relinked and relinked back, or deleted and inserted again, is no change.
-- * A column added to one of the four tables later must be added to its history table and to its
--   trigger function (the column lists below) by the same migration.
--
-- Backfill: the rows already stored were written before there was any history, so when each began is
-- not recorded anywhere; each is taken as valid from the creation of what it belongs to, the earliest
-- instant the data can vouch for (later than the truth only if the row is older than its area, which
-- cannot be):
--   memberships and cell links: the micro-grid's first version (min(area.valid_from) of its identity);
--   a party cell: the earliest of its micro-grids' (a cell with none: '-infinity');
--   a person: the later of its area's first version and its party cell's (either may be absent; with
--   neither known, '-infinity').
-- None of the four tables has a created_at, and building.updated_at says when a building last changed,
-- not when it joined a micro-grid; so an `at=` after an area's creation answers with today's rows, as
-- it did before this migration, and nothing is invented for the time before it.

CREATE TABLE microgrid_member_history (
    id bigint NOT NULL,                 -- microgrid_member.id
    microgrid_id bigint NOT NULL,
    building_id bigint NOT NULL,
    unit_from integer,
    unit_to integer,
    floor_from integer,
    floor_to integer,
    households integer NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz,
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    PRIMARY KEY (id, valid_from)
);
CREATE INDEX microgrid_member_history_building ON microgrid_member_history (building_id, valid_from);
CREATE INDEX microgrid_member_history_microgrid ON microgrid_member_history (microgrid_id, valid_from);

CREATE TABLE party_cell_history (
    id bigint NOT NULL,                 -- party_cell.id
    code text NOT NULL,
    name text NOT NULL,
    branch text,
    attrs jsonb NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz,
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    PRIMARY KEY (id, valid_from)
);

CREATE TABLE party_cell_microgrid_history (
    microgrid_id bigint NOT NULL,       -- party_cell_microgrid's key
    party_cell_id bigint NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz,
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    PRIMARY KEY (microgrid_id, valid_from)
);
CREATE INDEX party_cell_microgrid_history_cell ON party_cell_microgrid_history (party_cell_id, valid_from);

CREATE TABLE person_history (
    id bigint NOT NULL,                 -- person.id
    name text NOT NULL,
    phone text NOT NULL,
    role text NOT NULL,
    area_id bigint,
    party_cell_id bigint,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz,
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    PRIMARY KEY (id, valid_from)
);
CREATE INDEX person_history_area ON person_history (area_id, valid_from);
CREATE INDEX person_history_party_cell ON person_history (party_cell_id, valid_from);

-- No foreign keys: a version outlives the building or party cell it named (ON DELETE CASCADE removes
-- the current rows, never their history); area identities are never deleted.

-- One trigger function per table, with static SQL (plans kept by PL/pgSQL), made from one template:
-- %1$s history table, %2$s key column, %3$s the other columns, %4$s those of new_rows n, %5$s those of
-- the history row h, %6$s what an INSERT does first: nothing for an identity key (a new id has no
-- history), for a natural key (party_cell_microgrid's micro-grid, linked again) what an UPDATE does.
--
-- "A version reopens": a row changed back, in the transaction that closed its version, to what that
-- version holds (relinked and relinked back, deleted and inserted again) keeps the version open, rather
-- than leaving two versions that meet at now() with the same content.
DO $do$
DECLARE
    t record;
    template text := $tpl$
CREATE FUNCTION %1$s_record() RETURNS trigger LANGUAGE plpgsql AS $body$
DECLARE
    changed bigint[];    -- keys whose row changed (UPDATE)
    dropped bigint[];    -- keys whose version this transaction had opened and now drops
    reopened bigint[];   -- keys whose closed version opened again
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM %1$s WHERE valid_from >= now();
        UPDATE %1$s SET valid_to = now() WHERE valid_to IS NULL OR valid_to > now();
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        DELETE FROM %1$s h USING old_rows o WHERE h.%2$s = o.%2$s AND h.valid_from >= now();
        UPDATE %1$s h SET valid_to = now() FROM old_rows o
        WHERE h.%2$s = o.%2$s AND (h.valid_to IS NULL OR h.valid_to > now());
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        -- the rows that changed, compared whole (NULLs equal; EXCEPT, not a join of the transition
        -- tables, which have no statistics): their keys' versions close and new ones open. An updated
        -- key closes the old key's version and opens one under the new key.
        SELECT array_agg(c.%2$s) INTO changed FROM (
            SELECT d.%2$s FROM (SELECT * FROM old_rows EXCEPT SELECT * FROM new_rows) d
            UNION
            SELECT d.%2$s FROM (SELECT * FROM new_rows EXCEPT SELECT * FROM old_rows) d) c;
        IF changed IS NULL THEN
            RETURN NULL;   -- every row as it was
        END IF;
        WITH d AS (DELETE FROM %1$s h WHERE h.valid_from >= now() AND h.%2$s IN (SELECT unnest(changed))
                   RETURNING h.%2$s)
        SELECT array_agg(d.%2$s) INTO dropped FROM d;
        UPDATE %1$s h SET valid_to = now()
        WHERE (h.valid_to IS NULL OR h.valid_to > now()) AND h.%2$s IN (SELECT unnest(changed));
        IF dropped IS NOT NULL THEN   -- changed twice in this transaction: perhaps back
            WITH r AS (UPDATE %1$s h SET valid_to = NULL FROM new_rows n
                       WHERE h.%2$s = n.%2$s AND n.%2$s = ANY(dropped) AND h.valid_to = now()
                         AND (%5$s) IS NOT DISTINCT FROM (%4$s)
                       RETURNING h.%2$s)
            SELECT array_agg(r.%2$s) INTO reopened FROM r;
        END IF;
        INSERT INTO %1$s (%2$s, %3$s, valid_from)
        SELECT n.%2$s, %4$s, now() FROM new_rows n
        WHERE n.%2$s IN (SELECT unnest(changed)) AND n.%2$s <> ALL(coalesce(reopened, '{}'));
        RETURN NULL;
    END IF;
    %6$s
    INSERT INTO %1$s (%2$s, %3$s, valid_from)
    SELECT n.%2$s, %4$s, now() FROM new_rows n WHERE n.%2$s <> ALL(coalesce(reopened, '{}'));
    RETURN NULL;
END $body$
$tpl$;
    natural_insert text := $tpl$
    DELETE FROM %1$s h USING new_rows n WHERE h.%2$s = n.%2$s AND h.valid_from >= now();
    UPDATE %1$s h SET valid_to = now() FROM new_rows n WHERE h.%2$s = n.%2$s AND h.valid_to > now();
    WITH r AS (UPDATE %1$s h SET valid_to = NULL FROM new_rows n
               WHERE h.%2$s = n.%2$s AND h.valid_to = now() AND (%5$s) IS NOT DISTINCT FROM (%4$s)
               RETURNING h.%2$s)
    SELECT array_agg(r.%2$s) INTO reopened FROM r;
$tpl$;
BEGIN
    FOR t IN SELECT v.tbl || '_history' AS hist, v.*,
                    (SELECT string_agg('n.' || c, ', ') FROM unnest(v.cols) c) AS n_cols,
                    (SELECT string_agg('h.' || c, ', ') FROM unnest(v.cols) c) AS h_cols
             FROM (VALUES
        ('microgrid_member', 'id', ARRAY['microgrid_id', 'building_id', 'unit_from', 'unit_to', 'floor_from',
                                         'floor_to', 'households'], false),
        ('party_cell', 'id', ARRAY['code', 'name', 'branch', 'attrs'], false),
        ('party_cell_microgrid', 'microgrid_id', ARRAY['party_cell_id'], true),
        ('person', 'id', ARRAY['name', 'phone', 'role', 'area_id', 'party_cell_id'], false)
    ) v (tbl, key, cols, natural_key) LOOP
        EXECUTE format(template, t.hist, t.key, array_to_string(t.cols, ', '), t.n_cols, t.h_cols,
                       CASE WHEN t.natural_key THEN format(natural_insert, t.hist, t.key, NULL, t.n_cols, t.h_cols)
                            ELSE '-- an identity key: a new id has no history' END);
        EXECUTE format('CREATE TRIGGER history_ins AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %I()', t.tbl, t.hist || '_record');
        EXECUTE format('CREATE TRIGGER history_upd AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows'
                       ' NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION %I()', t.tbl, t.hist || '_record');
        EXECUTE format('CREATE TRIGGER history_del AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %I()', t.tbl, t.hist || '_record');
        EXECUTE format('CREATE TRIGGER history_trunc AFTER TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION %I()',
                       t.tbl, t.hist || '_record');
    END LOOP;
END $do$;

-- Backfill (the choice of instants: see the top of this file).
CREATE VIEW history_backfill_born AS   -- dropped below; a view, not a temporary table: no transaction assumed
SELECT id, min(valid_from) AS born FROM area WHERE level = 'microgrid' GROUP BY id;

INSERT INTO microgrid_member_history (id, microgrid_id, building_id, unit_from, unit_to, floor_from, floor_to,
                                      households, valid_from)
SELECT m.id, m.microgrid_id, m.building_id, m.unit_from, m.unit_to, m.floor_from, m.floor_to, m.households,
       coalesce(b.born, '-infinity')
FROM microgrid_member m LEFT JOIN history_backfill_born b ON b.id = m.microgrid_id;

INSERT INTO party_cell_microgrid_history (microgrid_id, party_cell_id, valid_from)
SELECT pcm.microgrid_id, pcm.party_cell_id, coalesce(b.born, '-infinity')
FROM party_cell_microgrid pcm LEFT JOIN history_backfill_born b ON b.id = pcm.microgrid_id;

INSERT INTO party_cell_history (id, code, name, branch, attrs, valid_from)
SELECT pc.id, pc.code, pc.name, pc.branch, pc.attrs, coalesce(min(l.valid_from), '-infinity')
FROM party_cell pc LEFT JOIN party_cell_microgrid_history l ON l.party_cell_id = pc.id
GROUP BY pc.id;

INSERT INTO person_history (id, name, phone, role, area_id, party_cell_id, valid_from)
SELECT pe.id, pe.name, pe.phone, pe.role, pe.area_id, pe.party_cell_id,
       -- greatest() skips NULLs: the later of the two that are known
       coalesce(greatest((SELECT min(a.valid_from) FROM area a WHERE a.id = pe.area_id), c.valid_from), '-infinity')
FROM person pe LEFT JOIN party_cell_history c ON c.id = pe.party_cell_id;

DROP VIEW history_backfill_born;

ANALYZE microgrid_member_history, party_cell_history, party_cell_microgrid_history, person_history;

-- The four tables as they stood at instant t (NULL = now), read from the history: plain SQL over one
-- table, so the planner inlines each and pulls it up into the query, where a join or key condition
-- reaches the history's indexes. For now the current tables answer the same, and from fewer rows: a
-- statement written with these functions can read them instead (gridmap.sql.load_at does, for NULL).
CREATE FUNCTION microgrid_member_at(t timestamptz)
    RETURNS TABLE (id bigint, microgrid_id bigint, building_id bigint, unit_from integer, unit_to integer,
                   floor_from integer, floor_to integer, households integer)
    LANGUAGE sql STABLE AS $$
    SELECT h.id, h.microgrid_id, h.building_id, h.unit_from, h.unit_to, h.floor_from, h.floor_to, h.households
    FROM microgrid_member_history h WHERE valid_at(h.valid_from, h.valid_to, coalesce(t, now()))
$$;

CREATE FUNCTION party_cell_at(t timestamptz)
    RETURNS TABLE (id bigint, code text, name text, branch text, attrs jsonb)
    LANGUAGE sql STABLE AS $$
    SELECT h.id, h.code, h.name, h.branch, h.attrs
    FROM party_cell_history h WHERE valid_at(h.valid_from, h.valid_to, coalesce(t, now()))
$$;

CREATE FUNCTION party_cell_microgrid_at(t timestamptz)
    RETURNS TABLE (microgrid_id bigint, party_cell_id bigint)
    LANGUAGE sql STABLE AS $$
    SELECT h.microgrid_id, h.party_cell_id
    FROM party_cell_microgrid_history h WHERE valid_at(h.valid_from, h.valid_to, coalesce(t, now()))
$$;

CREATE FUNCTION person_at(t timestamptz)
    RETURNS TABLE (id bigint, name text, phone text, role text, area_id bigint, party_cell_id bigint)
    LANGUAGE sql STABLE AS $$
    SELECT h.id, h.name, h.phone, h.role, h.area_id, h.party_cell_id
    FROM person_history h WHERE valid_at(h.valid_from, h.valid_to, coalesce(t, now()))
$$;

-- Household totals per area (area_households) as they stood at any instant: each refresh at commit
-- records the totals that changed, at now(), like the rows they add up. Reading a total at t is one
-- index probe, not a sum over every membership below a subdistrict; the refresh already recomputes
-- every total, and comparing them with the open versions adds a few per cent to it.
CREATE TABLE area_households_history (
    id bigint NOT NULL,                 -- area identity
    households bigint NOT NULL,
    microgrids bigint NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_to timestamptz,
    CHECK (valid_to IS NULL OR valid_to > valid_from),
    PRIMARY KEY (id, valid_from)
);

-- Backfill: today's totals, valid from each area's first version (as the memberships above).
INSERT INTO area_households_history (id, households, microgrids, valid_from)
SELECT h.id, h.households, h.microgrids, coalesce((SELECT min(a.valid_from) FROM area a WHERE a.id = h.id), '-infinity')
FROM area_households h;
ANALYZE area_households_history;

CREATE OR REPLACE FUNCTION area_households_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint[];
BEGIN
    DELETE FROM area_households_stale;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    REFRESH MATERIALIZED VIEW CONCURRENTLY area_households;
    -- areas whose total changed, appeared or went (an area with no micro-grid below has none)
    SELECT array_agg(coalesce(c.id, h.id)) INTO changed
    FROM area_households c
    FULL JOIN (SELECT * FROM area_households_history WHERE valid_to IS NULL) h ON h.id = c.id
    WHERE (c.households, c.microgrids) IS DISTINCT FROM (h.households, h.microgrids);
    IF changed IS NULL THEN
        RETURN NULL;
    END IF;
    -- as for the rows: a version opened by this transaction (or a later one) gives way, none runs backwards
    DELETE FROM area_households_history WHERE id = ANY(changed) AND valid_from >= now();
    UPDATE area_households_history SET valid_to = now()
    WHERE id = ANY(changed) AND (valid_to IS NULL OR valid_to > now());
    INSERT INTO area_households_history (id, households, microgrids, valid_from)
    SELECT c.id, c.households, c.microgrids, now() FROM area_households c WHERE c.id = ANY(changed);
    RETURN NULL;
END $$;

-- The households of an area at instant t (NULL = now; 0 when it had none).
CREATE FUNCTION area_households_at(area_id bigint, t timestamptz) RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT h.households FROM area_households_history h
                     WHERE h.id = area_id AND valid_at(h.valid_from, h.valid_to, coalesce(t, now()))), 0)
$$;

-- area_json at instant t: households as they stood then; NULL = now, area_json itself (today's totals).
-- No sub-select here, so the planner inlines it and the present costs what area_json costs.
CREATE FUNCTION area_json_at(a area, t timestamptz) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN t IS NULL THEN area_json(a)
                ELSE area_json(a) || jsonb_build_object('households', area_households_at(a.id, t)) END
$$;

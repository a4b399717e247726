-- Change notices for the in-process lookup indexes (gridmap/lookup/live.py): every statement that
-- changes a table a lookup reads sends NOTIFY gridmap_lookup, '<kind>:<ids>' (ids of the rows to re-read,
-- or '*' for a big or truncating write). NOTIFY is transactional: it is delivered at commit, or never.
-- depends: 0008.report_external_id

CREATE FUNCTION lookup_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    kind text := TG_ARGV[0];
    col text := TG_ARGV[1];
    rows_sql text;
    ids text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('gridmap_lookup', kind || ':*');
        RETURN NULL;
    END IF;
    rows_sql := CASE TG_OP
        WHEN 'INSERT' THEN format('SELECT %I FROM new_rows', col)
        WHEN 'DELETE' THEN format('SELECT %I FROM old_rows', col)
        ELSE format('SELECT %I FROM new_rows UNION ALL SELECT %I FROM old_rows', col, col) END;
    -- More than 1,000 rows (an import): a notice of everything, and the indexes rebuild.
    EXECUTE format('SELECT CASE WHEN count(*) > 1000 THEN ''*'' ELSE string_agg(k::text, '','') END'
                   ' FROM (SELECT DISTINCT k FROM (%s) s (k) WHERE k IS NOT NULL LIMIT 1001) d', rows_sql)
        INTO ids;
    IF ids IS NOT NULL THEN
        PERFORM pg_notify('gridmap_lookup', kind || ':' || ids);
    END IF;
    RETURN NULL;
END $$;

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('area', 'area', 'id'),
        ('building', 'building', 'id'),
        ('microgrid_member', 'building', 'building_id'),
        ('microgrid_member', 'area', 'microgrid_id'),   -- household totals of the micro-grid and above
        ('person', 'person', 'id'),
        ('party_cell', 'cell', 'id'),
        ('party_cell_microgrid', 'cellmap', 'microgrid_id')
    ) v (tbl, kind, col) LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION lookup_notify(%L, %L)',
                       'lookup_ins_' || t.kind, t.tbl, t.kind, t.col);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION lookup_notify(%L, %L)',
                       'lookup_upd_' || t.kind, t.tbl, t.kind, t.col);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS old_rows'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION lookup_notify(%L, %L)',
                       'lookup_del_' || t.kind, t.tbl, t.kind, t.col);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION lookup_notify(%L, %L)',
                       'lookup_trunc_' || t.kind, t.tbl, t.kind, t.col);
    END LOOP;
END $$;

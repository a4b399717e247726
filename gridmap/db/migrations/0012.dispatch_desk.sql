-- The dispatch desk: who a case was given to (a person, not only a name), worker accounts tied to the
-- person they are on the ground, phone search, and the notifications outbox.
-- depends: 0011.incident_missed

-- A dispatch names the person who receives the case (their phone is where the work order goes); the
-- assignee text stays for a department or a name typed by hand.
ALTER TABLE incident ADD COLUMN assignee_person_id bigint REFERENCES person (id) ON DELETE SET NULL;
CREATE INDEX incident_assignee_person ON incident (assignee_person_id) WHERE assignee_person_id IS NOT NULL;

-- A worker's login and the person they are (网格员 王芳): "my cases" are the ones given to that person.
ALTER TABLE app_user ADD COLUMN person_id bigint REFERENCES person (id) ON DELETE SET NULL;

-- A caller's phone as digits read backwards, so "every case this number called about" is one index range
-- (LIKE 'reversed national number%') whatever way the number was written (+86, spaces, a trunk 0).
ALTER TABLE incident_report ADD COLUMN phone_key text
    GENERATED ALWAYS AS (reverse(regexp_replace(reporter_phone, '[^0-9]', '', 'g'))) STORED;
CREATE INDEX incident_report_phone ON incident_report (phone_key text_pattern_ops) WHERE phone_key <> '';

-- The outbox: each message is written in the transaction of the event that causes it (a case filed,
-- dispatched, escalated, overdue), so a rolled-back event sends nothing and a committed one is never lost.
-- A sender delivers it later (gridmap.notify.outbox); `id` goes with every delivery so a receiver that
-- sees one twice (a crash after sending, before it was marked sent) can tell.
CREATE TABLE notification (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id bigint NOT NULL REFERENCES incident (id) ON DELETE CASCADE,
    event text NOT NULL CHECK (event IN ('filed', 'joined', 'dispatched', 'escalated', 'overdue')),
    audience text NOT NULL CHECK (audience IN ('citizen', 'assignee', 'next_level')),
    recipient_name text CHECK (length(recipient_name) <= 100),
    recipient_phone text NOT NULL CHECK (length(recipient_phone) BETWEEN 3 AND 30),
    body text NOT NULL CHECK (length(body) BETWEEN 1 AND 1000),
    created_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    sent_at timestamptz,
    dead_at timestamptz,          -- given up after the last attempt (dead letter): a person must look
    last_error text CHECK (length(last_error) <= 1000),
    CHECK (sent_at IS NULL OR dead_at IS NULL)
);
CREATE INDEX notification_due ON notification (next_attempt_at) WHERE sent_at IS NULL AND dead_at IS NULL;
CREATE INDEX notification_incident ON notification (incident_id);

-- The queue's text search (case address and description, any words in any position) uses trigrams, so
-- "民乐" finds its cases among a year's history without reading every row.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX incident_search ON incident USING gin ((coalesce(address, '') || ' ' || description) gin_trgm_ops);

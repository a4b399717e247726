-- A channel's own id on every report, not only on the one that opened a case: a retry of a report that
-- joined a case as a repeat must find that report again instead of joining a second time.
-- depends: 0007.login_throttle

ALTER TABLE incident_report ADD COLUMN external_id text CHECK (length(external_id) <= 100);
UPDATE incident_report r SET external_id = i.external_id
FROM incident i
WHERE r.incident_id = i.id AND NOT r.is_repeat AND i.external_id IS NOT NULL AND r.channel = i.channel;
CREATE UNIQUE INDEX incident_report_external ON incident_report (channel, external_id) WHERE external_id IS NOT NULL;

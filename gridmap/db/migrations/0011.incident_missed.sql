-- A missed deadline stays visible: missed_at is when a case first ran past a deadline, kept after
-- escalation gives it a new one (the new level's dispatch deadline), so the queue's overdue filter, the
-- case's `overdue` and the figures still show that it failed; NULL while every deadline has been met.
-- depends: 0010.history
ALTER TABLE incident ADD COLUMN missed_at timestamptz;

-- Cases escalated before this migration missed the deadline of the level below: when is not kept (the
-- escalation event's time is the nearest record of it).
UPDATE incident i SET missed_at = e.first_at
FROM (SELECT incident_id, min(at) AS first_at FROM incident_event WHERE action IN ('escalate', 'overdue')
      GROUP BY incident_id) e
WHERE e.incident_id = i.id;

-- Whether a case is overdue at instant t: open, and past its deadline or past one it missed before
-- (gridmap.incidents.cases.is_overdue says the same in Python). The one definition the queue filter, the
-- maps' counts and the figures use.
CREATE FUNCTION incident_overdue(state text, due_at timestamptz, missed_at timestamptz, t timestamptz)
    RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT state NOT IN ('closed', 'rated', 'rejected') AND (missed_at IS NOT NULL OR coalesce(due_at < t, false))
$$;

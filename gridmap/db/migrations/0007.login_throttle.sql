-- Failed-login counters, per account name and per client address (gridmap/throttle.py). They live in
-- the database, not in a server process, so every worker enforces the same waits.
-- depends: 0006.planner

CREATE TABLE login_throttle (
    subject text PRIMARY KEY,                          -- 'account:<name as typed>' or 'address:<ip>'
    failures integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    last_attempt_at timestamptz NOT NULL DEFAULT now(),
    wait_until timestamptz NOT NULL DEFAULT '-infinity' -- no attempt for this subject before then
);
-- Counters idle for a day are forgotten; this finds them.
CREATE INDEX login_throttle_idle ON login_throttle (last_attempt_at);

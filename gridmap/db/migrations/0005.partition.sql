-- Partition drafts: a proposed set of micro-grids for one or more grids, kept until a planner applies
-- it (or makes a new one). Applying checks that nothing it was based on has changed since.
-- depends: 0004.incidents

CREATE TABLE partition_draft (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope_id bigint NOT NULL REFERENCES area_identity (id),
    scope_code text NOT NULL,
    scope_path bigint[] NOT NULL,         -- the scope area and its ancestors (jurisdiction checks)
    params jsonb NOT NULL,                -- band, seed, tries, cell size
    base jsonb NOT NULL,                  -- grid versions, micro-grid versions and building digest used
    proposal jsonb NOT NULL,              -- the proposed micro-grids, members and party cells per grid
    summary jsonb NOT NULL,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    applied_by text,
    applied_at timestamptz,
    CHECK ((applied_by IS NULL) = (applied_at IS NULL))
);
CREATE INDEX partition_draft_scope ON partition_draft (scope_id, created_at DESC);

-- Planner drafts: a planner's pending redraw of one community or grid (split, merge, moved buildings,
-- reshaped and drawn areas), kept on the server so nothing is lost on a reload. `steps` holds the
-- draft's changes after each edit (areas touched, keyed by area id or a new key), `position` how
-- many of them are in force (undo and redo move it), `revision` counts every change (If-Match).
-- depends: 0005.partition

CREATE TABLE plan_draft (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope_id bigint NOT NULL REFERENCES area_identity (id),
    scope_code text NOT NULL,
    scope_path bigint[] NOT NULL,        -- the scope area and its ancestors (jurisdiction checks)
    steps jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(steps) = 'array'),
    position integer NOT NULL DEFAULT 0 CHECK (position >= 0),
    revision integer NOT NULL DEFAULT 0 CHECK (revision >= 0),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    saved_by text,
    saved_at timestamptz,
    CHECK ((saved_by IS NULL) = (saved_at IS NULL))
);
CREATE INDEX plan_draft_scope ON plan_draft (scope_id, created_at DESC);

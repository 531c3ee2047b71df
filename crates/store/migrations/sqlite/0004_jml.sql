-- The JML engine: stored plans, runs with one item per applied person (so a run resumes after a crash without
-- applying anyone twice), and which users each feed source created or adopted.
CREATE TABLE jml_plans (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    source     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    has_errors INTEGER NOT NULL,
    policy     TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX jml_plans_source_idx ON jml_plans (source, id);

CREATE TABLE jml_runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id     INTEGER NOT NULL REFERENCES jml_plans (id),
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    finished_at TEXT,
    counts      TEXT NOT NULL DEFAULT '{}',
    message     TEXT
);
CREATE INDEX jml_runs_plan_idx ON jml_runs (plan_id, id);

CREATE TABLE jml_run_items (
    plan_id    INTEGER NOT NULL REFERENCES jml_plans (id),
    person_key TEXT NOT NULL,
    run_id     INTEGER NOT NULL REFERENCES jml_runs (id),
    outcome    TEXT NOT NULL,
    detail     TEXT,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (plan_id, person_key)
);
CREATE INDEX jml_run_items_run_idx ON jml_run_items (run_id);

CREATE TABLE jml_feed_users (
    source   TEXT NOT NULL,
    user_id  INTEGER NOT NULL REFERENCES users (id),
    relation TEXT NOT NULL,
    since    TEXT NOT NULL,
    PRIMARY KEY (source, user_id)
);

-- Future-dated work: activations, archives and grant expiries. A node claims a due action and applies it in one
-- transaction, so each runs exactly once.
CREATE TABLE scheduled_actions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    payload    TEXT NOT NULL DEFAULT '{}',
    due_at     TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending',
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    applied_at TEXT,
    result     TEXT
);
CREATE INDEX scheduled_actions_due_idx ON scheduled_actions (status, due_at, id);
CREATE INDEX scheduled_actions_user_idx ON scheduled_actions (user_id);

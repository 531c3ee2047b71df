-- Users, the role catalogue and assignments, snapshots, tokens and the audit trail.
-- Timestamps are TEXT in the fixed-width form YYYY-MM-DDTHH:MM:SS.ffffffZ, so text order is time order.
-- *_folded columns hold the Unicode lower case computed by the application, never by SQLite.

CREATE TABLE users (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    first_name        TEXT,
    first_name_folded TEXT NOT NULL DEFAULT '',
    last_name         TEXT,
    last_name_folded  TEXT NOT NULL DEFAULT '',
    email             TEXT,
    email_folded      TEXT,
    user_name         TEXT NOT NULL,
    user_name_folded  TEXT NOT NULL,
    unique_id         TEXT,
    unique_id_folded  TEXT,
    external_id       TEXT,
    mobile_number     TEXT,
    job_title         TEXT,
    job_title_folded  TEXT NOT NULL DEFAULT '',
    department        TEXT,
    department_folded TEXT NOT NULL DEFAULT '',
    manager_id        INTEGER REFERENCES users (id),
    start_date        TEXT,
    end_date          TEXT,
    custom_attributes TEXT NOT NULL DEFAULT '{}',
    status            TEXT NOT NULL,
    origin            TEXT NOT NULL DEFAULT 'api',
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    archived_at       TEXT,
    deleted_at        TEXT
);
CREATE UNIQUE INDEX users_email_folded_key ON users (email_folded) WHERE status <> 'deleted';
CREATE UNIQUE INDEX users_user_name_folded_key ON users (user_name_folded) WHERE status <> 'deleted';
CREATE UNIQUE INDEX users_unique_id_folded_key ON users (unique_id_folded) WHERE status <> 'deleted';
CREATE INDEX users_last_name_idx ON users (last_name_folded, id);
CREATE INDEX users_created_at_idx ON users (created_at, id);
CREATE INDEX users_updated_at_idx ON users (updated_at, id);
CREATE INDEX users_department_idx ON users (department_folded);
CREATE INDEX users_manager_idx ON users (manager_id);

CREATE TABLE role_types (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL,
    name_folded   TEXT NOT NULL,
    description   TEXT,
    category      TEXT,
    resource_type TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX role_types_name_folded_key ON role_types (name_folded);

-- One row per grant. A key held through several sources has several rows; the API shows the key once.
CREATE TABLE role_assignments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    role_type_id  INTEGER NOT NULL REFERENCES role_types (id),
    resource_type TEXT NOT NULL DEFAULT '',
    resource_id   TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL,
    source_ref    TEXT NOT NULL DEFAULT '',
    approved_by   TEXT,
    reason        TEXT,
    expires_at    TEXT,
    granted_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX role_assignments_grant_key
    ON role_assignments (user_id, role_type_id, resource_type, resource_id, source, source_ref);
CREATE INDEX role_assignments_role_type_idx ON role_assignments (role_type_id, user_id);
CREATE INDEX role_assignments_expires_idx ON role_assignments (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE snapshots (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id),
    taken_at    TEXT NOT NULL,
    attributes  TEXT NOT NULL,
    roles       TEXT NOT NULL,
    restored_at TEXT
);
CREATE INDEX snapshots_user_idx ON snapshots (user_id, id);

CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    user_id     INTEGER REFERENCES users (id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT,
    disabled_at TEXT
);
CREATE UNIQUE INDEX tokens_token_hash_key ON tokens (token_hash);
CREATE INDEX tokens_user_idx ON tokens (user_id);

-- Append-only and hash-chained: seq is the chain position and the entry's id.
CREATE TABLE audit_log (
    seq            INTEGER PRIMARY KEY,
    created_at     TEXT NOT NULL,
    actor_token_id INTEGER,
    actor_name     TEXT NOT NULL,
    action         TEXT NOT NULL,
    target_type    TEXT NOT NULL,
    target_id      TEXT,
    changes        TEXT NOT NULL,
    request_id     TEXT,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
);
CREATE INDEX audit_log_target_idx ON audit_log (target_type, target_id, seq);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_token_id, seq);
CREATE INDEX audit_log_action_idx ON audit_log (action, seq);
CREATE INDEX audit_log_created_at_idx ON audit_log (created_at);

-- The chain's head: one row, updated by every append in the appending transaction, which serialises appends.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

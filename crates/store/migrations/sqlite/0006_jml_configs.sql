-- Mappings and policies stored on the server by name, so every node plans with the same files, and the stored
-- configuration each plan used.
CREATE TABLE jml_configs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,
    version    BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    UNIQUE (kind, name)
);

ALTER TABLE jml_plans ADD COLUMN mapping_name TEXT;
ALTER TABLE jml_plans ADD COLUMN mapping_version BIGINT;
ALTER TABLE jml_plans ADD COLUMN mapping_sha256 TEXT;
ALTER TABLE jml_plans ADD COLUMN policy_name TEXT;
ALTER TABLE jml_plans ADD COLUMN policy_version BIGINT;
ALTER TABLE jml_plans ADD COLUMN policy_sha256 TEXT;

-- SCIM attributes without a Roster field, and groups whose members receive the group's role grants.
ALTER TABLE users ADD COLUMN scim_attributes TEXT NOT NULL DEFAULT '{}';

CREATE TABLE groups (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    display_name        TEXT NOT NULL,
    display_name_folded TEXT NOT NULL,
    external_id         TEXT,
    scim_attributes     TEXT NOT NULL DEFAULT '{}',
    version             INTEGER NOT NULL DEFAULT 1,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
);
CREATE INDEX groups_display_name_idx ON groups (display_name_folded, id);
CREATE INDEX groups_external_id_idx ON groups (external_id);

-- One row per member, so adding or removing a member never rewrites the membership.
CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id),
    added_at TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_idx ON group_members (user_id);

-- The roles a group grants to each active member, recorded on the member as source 'group'.
CREATE TABLE group_roles (
    group_id      INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    role_type_id  INTEGER NOT NULL REFERENCES role_types (id),
    resource_type TEXT NOT NULL DEFAULT '',
    resource_id   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (group_id, role_type_id, resource_type, resource_id)
);

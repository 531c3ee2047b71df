-- The users that SCIM deleted, alone in a partial index. A count of every user that is not deleted then
-- subtracts their number from the count of all users, which SQLite answers from index pages without visiting
-- each row. Active users are never in this index, so creating them costs nothing more.
CREATE INDEX users_deleted_idx ON users (id) WHERE status = 'deleted';

-- The audit chain's head follows each appended entry inside the INSERT, so an append costs two statements
-- instead of three, and one when the writer still knows the head from an earlier append in its open batch. On
-- SQLite every statement is a round trip to the single writer's connection thread, which bounds how many writes
-- per second the server can commit.
CREATE TRIGGER audit_log_moves_head AFTER INSERT ON audit_log
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
END;

-- A plan's changes get one row each, numbered in apply order, so that a plan is written, listed and applied a
-- page at a time. Held as one JSON document, a plan of 100,000 people took several hundred megabytes of memory
-- to store, and each page of its changes parsed all of them.
CREATE TABLE jml_plan_changes (
    plan_id   INTEGER NOT NULL REFERENCES jml_plans (id),
    position  INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    scheduled INTEGER NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (plan_id, position)
);
CREATE INDEX jml_plan_changes_kind_idx ON jml_plan_changes (plan_id, kind, position);
CREATE INDEX jml_plan_changes_scheduled_idx ON jml_plan_changes (plan_id, scheduled, position);

-- A plan is written in several transactions, first its row, then its changes in batches, and last its summary,
-- which sets `formed`. Until then nothing reads or applies it.
ALTER TABLE jml_plans ADD COLUMN formed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE jml_plans ADD COLUMN change_count BIGINT NOT NULL DEFAULT 0;

-- Plans stored before this migration carry their changes in the body; they move to rows. A change's kind is
-- stored as the plan's counts count it: a change without a state change counts as an update.
INSERT INTO jml_plan_changes (plan_id, position, kind, scheduled, body)
SELECT p.id,
       e.key + 1,
       CASE WHEN json_extract(e.value, '$.kind') = 'none' THEN 'update' ELSE json_extract(e.value, '$.kind') END,
       CASE WHEN json_type(e.value, '$.scheduled') = 'object' THEN 1 ELSE 0 END,
       e.value
FROM jml_plans p, json_each(p.body, '$.changes') e;

UPDATE jml_plans
SET change_count = (SELECT COUNT(*) FROM jml_plan_changes c WHERE c.plan_id = jml_plans.id),
    body = json_set(body, '$.changes', json('[]'));

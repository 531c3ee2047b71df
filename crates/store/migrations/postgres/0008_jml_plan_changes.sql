-- A plan's changes get one row each, numbered in apply order, so that a plan is written, listed and applied a
-- page at a time. Held as one JSON document, a plan of 100,000 people took several hundred megabytes of memory
-- to store, and each page of its changes parsed all of them.
CREATE TABLE jml_plan_changes (
    plan_id   BIGINT NOT NULL REFERENCES jml_plans (id),
    position  BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    scheduled BIGINT NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (plan_id, position)
);
CREATE INDEX jml_plan_changes_kind_idx ON jml_plan_changes (plan_id, kind, position);
CREATE INDEX jml_plan_changes_scheduled_idx ON jml_plan_changes (plan_id, scheduled, position);

-- A plan is written in several transactions, first its row, then its changes in batches, and last its summary,
-- which sets `formed`. Until then nothing reads or applies it.
ALTER TABLE jml_plans ADD COLUMN formed BIGINT NOT NULL DEFAULT 1;
ALTER TABLE jml_plans ADD COLUMN change_count BIGINT NOT NULL DEFAULT 0;

-- Plans stored before this migration carry their changes in the body; they move to rows. A change's kind is
-- stored as the plan's counts count it: a change without a state change counts as an update.
INSERT INTO jml_plan_changes (plan_id, position, kind, scheduled, body)
SELECT p.id,
       e.position,
       CASE WHEN e.value ->> 'kind' = 'none' THEN 'update' ELSE e.value ->> 'kind' END,
       CASE WHEN jsonb_typeof(e.value -> 'scheduled') = 'object' THEN 1 ELSE 0 END,
       e.value::text
FROM jml_plans p, jsonb_array_elements(p.body::jsonb -> 'changes') WITH ORDINALITY AS e (value, position);

UPDATE jml_plans
SET change_count = (SELECT COUNT(*) FROM jml_plan_changes c WHERE c.plan_id = jml_plans.id),
    body = jsonb_set(body::jsonb, '{changes}', '[]'::jsonb)::text
WHERE body::jsonb ? 'changes';

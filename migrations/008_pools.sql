-- Concurrency limits a team sets (README.md, "Concurrency"): named pools of slots, each task's pool and
-- priority, and each DAG's maxActiveTasks. A task's try holds a slot of its pool while it is queued or
-- running; executors claim scheduled tasks only into free slots, highest priority first.
CREATE TABLE pools (
  name        text PRIMARY KEY,
  slots       integer NOT NULL CHECK (slots >= 0),
  description text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
-- Tasks that name no pool use this one; it can be resized but not deleted.
INSERT INTO pools (name, slots, description) VALUES ('default', 128, 'tasks that name no pool');

ALTER TABLE task_instances ADD COLUMN pool text NOT NULL DEFAULT 'default';
ALTER TABLE task_instances ADD COLUMN priority integer NOT NULL DEFAULT 0;
-- What holds slots, found without reading every task ever run.
CREATE INDEX task_instances_active ON task_instances (pool) WHERE state IN ('queued', 'running');

-- The latest version's maxActiveTasks (NULL: no limit of its own), read when tasks are claimed.
ALTER TABLE dags ADD COLUMN max_active_tasks integer;

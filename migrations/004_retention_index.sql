-- Retention (scheduler/retention.ts) pages through finished runs by when they ended, oldest first,
-- every few minutes; this index keeps each page a short index scan however many runs the table holds.
CREATE INDEX dag_runs_ended ON dag_runs (ended_at, id) WHERE state IN ('success', 'failed', 'cancelled');

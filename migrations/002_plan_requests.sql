-- Plan only the runs that may have something to do. Whatever changes a running run's tasks (a try
-- ends, a retry comes due, a task is cleared) stamps plan_requested_at; the scheduler plans runs whose
-- request is newer than their last plan, instead of sweeping every running run.
ALTER TABLE dag_runs ADD COLUMN plan_requested_at timestamptz NOT NULL DEFAULT now();
UPDATE dag_runs SET planned_at = '-infinity' WHERE planned_at IS NULL;
ALTER TABLE dag_runs ALTER COLUMN planned_at SET DEFAULT '-infinity', ALTER COLUMN planned_at SET NOT NULL;
CREATE INDEX dag_runs_to_plan ON dag_runs (plan_requested_at) WHERE state = 'running' AND plan_requested_at > planned_at;

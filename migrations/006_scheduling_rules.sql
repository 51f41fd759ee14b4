-- Scheduling rules (README.md, "Scheduling rules"): backfills, the overlap policy's record of skipped
-- ticks, and each run's data interval.

-- A backfill: every schedule tick in [from_date, to_date] of one DAG, run within its own
-- max_active_runs. Written only by scheduler/backfills.repository.ts.
CREATE TABLE backfills (
  id              bigserial PRIMARY KEY,
  dag_id          text NOT NULL REFERENCES dags (dag_id) ON DELETE CASCADE,
  from_date       timestamptz NOT NULL,
  to_date         timestamptz NOT NULL,
  max_active_runs integer NOT NULL CHECK (max_active_runs >= 1),
  reprocess       text NOT NULL CHECK (reprocess IN ('none', 'failed', 'all')),
  -- The DAG version its new runs were created with (reprocessed runs keep their own).
  dag_version     integer NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  cancelled_at    timestamptz
);

-- The backfill that created or last reprocessed a run. Such a run is started by its backfill's queue,
-- not the DAG's, while the backfill is not cancelled.
ALTER TABLE dag_runs ADD COLUMN backfill_id bigint REFERENCES backfills (id) ON DELETE SET NULL;
CREATE INDEX dag_runs_backfill ON dag_runs (backfill_id, logical_date) WHERE backfill_id IS NOT NULL;

ALTER TABLE dag_runs DROP CONSTRAINT dag_runs_run_type_check;
ALTER TABLE dag_runs ADD CONSTRAINT dag_runs_run_type_check CHECK (run_type IN ('scheduled', 'manual', 'backfill'));

-- The span of data a run stands for: the previous schedule tick up to its own for scheduled and
-- backfilled runs, the logical date alone for manual ones. Runs made before this migration did not
-- record it; they get their logical date for both ends.
ALTER TABLE dag_runs ADD COLUMN data_interval_start timestamptz;
ALTER TABLE dag_runs ADD COLUMN data_interval_end timestamptz;
UPDATE dag_runs SET data_interval_start = logical_date, data_interval_end = logical_date;
ALTER TABLE dag_runs ALTER COLUMN data_interval_start SET NOT NULL, ALTER COLUMN data_interval_end SET NOT NULL;

-- The run id of the scheduled run that replaced this one (overlap: "replace"), so a cancelled run says why.
ALTER TABLE dag_runs ADD COLUMN replaced_by text;

-- Ticks the overlap policy "forbid" skipped: how many, and the latest with its reason.
ALTER TABLE dags ADD COLUMN skipped_ticks integer NOT NULL DEFAULT 0;
ALTER TABLE dags ADD COLUMN last_skipped_tick timestamptz;
ALTER TABLE dags ADD COLUMN last_skip_reason text;

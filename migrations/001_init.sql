-- Ferry's initial schema. Postgres is the one source of truth: every state below changes only through
-- conditional updates (compare-and-set on the current state) in the modules that own each table:
--   ferry_settings          db/settings.repository.ts
--   dags, dag_versions      scheduler/dags.repository.ts
--   dag_runs, task_instances scheduler/runs.repository.ts
--   task_tries              executor/tries.repository.ts

CREATE TABLE ferry_settings (
  key        text PRIMARY KEY,
  value      text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dags (
  dag_id         text PRIMARY KEY,
  latest_version integer NOT NULL,
  paused         boolean NOT NULL DEFAULT false,
  -- The next cron tick to fire; null for manual-only DAGs.
  next_run_at    timestamptz,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dags_due ON dags (next_run_at) WHERE NOT paused AND next_run_at IS NOT NULL;

CREATE TABLE dag_versions (
  dag_id        text NOT NULL REFERENCES dags (dag_id) ON DELETE CASCADE,
  version       integer NOT NULL,
  source        text NOT NULL,
  source_sha256 text NOT NULL,
  -- The compiled CommonJS bundle the worker evaluates to run function tasks.
  bundle        text NOT NULL,
  definition    jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (dag_id, version)
);

CREATE TABLE dag_runs (
  id           bigserial PRIMARY KEY,
  dag_id       text NOT NULL REFERENCES dags (dag_id) ON DELETE CASCADE,
  run_id       text NOT NULL,
  dag_version  integer NOT NULL,
  run_type     text NOT NULL CHECK (run_type IN ('scheduled', 'manual')),
  state        text NOT NULL CHECK (state IN ('queued', 'running', 'success', 'failed', 'cancelled')),
  logical_date timestamptz NOT NULL,
  params       jsonb NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  ended_at     timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  -- When a scheduler last planned this run; running runs are planned oldest-planned first.
  planned_at   timestamptz,
  UNIQUE (dag_id, run_id),
  FOREIGN KEY (dag_id, dag_version) REFERENCES dag_versions (dag_id, version)
);
CREATE INDEX dag_runs_active ON dag_runs (dag_id, logical_date) WHERE state IN ('queued', 'running');
CREATE INDEX dag_runs_newest ON dag_runs (dag_id, logical_date DESC, id DESC);

CREATE TABLE task_instances (
  id          bigserial PRIMARY KEY,
  run_pk      bigint NOT NULL REFERENCES dag_runs (id) ON DELETE CASCADE,
  task_id     text NOT NULL,
  state       text NOT NULL CHECK (state IN ('pending', 'scheduled', 'queued', 'running', 'success', 'failed',
                                             'up_for_retry', 'upstream_failed', 'skipped', 'cancelled')),
  -- The latest try's number; 0 before the first try.
  try_number  integer NOT NULL DEFAULT 0,
  -- Tries allowed in all (retries + 1, raised again when the task is cleared).
  max_tries   integer NOT NULL,
  retry_at    timestamptz,
  result      jsonb,
  started_at  timestamptz,
  ended_at    timestamptz,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (run_pk, task_id)
);
CREATE INDEX task_instances_ready ON task_instances (id) WHERE state = 'scheduled';
CREATE INDEX task_instances_retry ON task_instances (retry_at) WHERE state = 'up_for_retry';

CREATE TABLE task_tries (
  task_instance_id bigint NOT NULL REFERENCES task_instances (id) ON DELETE CASCADE,
  try_number       integer NOT NULL,
  namespace        text NOT NULL,
  pod_name         text NOT NULL,
  state            text NOT NULL CHECK (state IN ('queued', 'running', 'success', 'failed', 'cancelled')),
  -- The executor that looks after this try's Pod, and until when; another executor adopts the try
  -- once the lease has run out (its executor died).
  executor_id      text,
  lease_until      timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  ended_at         timestamptz,
  exit_code        integer,
  reason           text,
  message          text,
  -- True once the whole container output is in the log store.
  log_complete     boolean NOT NULL DEFAULT false,
  log_bytes        bigint NOT NULL DEFAULT 0,
  -- True once the Pod has been deleted; until then the try belongs to an executor.
  pod_reclaimed    boolean NOT NULL DEFAULT false,
  PRIMARY KEY (task_instance_id, try_number),
  UNIQUE (namespace, pod_name)
);
CREATE INDEX task_tries_unreclaimed ON task_tries (lease_until) WHERE NOT pod_reclaimed;

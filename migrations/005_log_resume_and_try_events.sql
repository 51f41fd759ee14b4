-- Log copies resume by timestamp, not by byte offset: a kubelet rotates container logs and then serves
-- only the current file, so "byte N of the log" no longer means anything after a rotation. The executor
-- records a checkpoint as it stores chunks: every line stamped at or after log_resume_since begins at or
-- after byte log_resume_offset of the stored log. A copy that resumes asks the Pod for its log since that
-- time (with timestamps), drops the older lines and skips what the store already holds past that offset.
ALTER TABLE task_tries ADD COLUMN log_resume_since text;
ALTER TABLE task_tries ADD COLUMN log_resume_offset bigint;
-- A try's outcome is recorded as soon as its container ends; its log copy may finish later (a log store
-- that is down holds it up, never loses it). This is when the copy ended, complete or not.
ALTER TABLE task_tries ADD COLUMN log_finished_at timestamptz;
UPDATE task_tries SET log_finished_at = ended_at WHERE log_complete OR pod_reclaimed;

-- Ferry's account of each try, beside its log and never mixed into it: what Ferry did and saw (created
-- the Pod, stopped it on a cancel and for whom, the container's end, a log copy that could not finish)
-- and the Pod's own Kubernetes Events (scheduling, image pulls, OOM kills, eviction).
CREATE TABLE task_try_events (
  id               bigserial PRIMARY KEY,
  task_instance_id bigint NOT NULL,
  try_number       integer NOT NULL,
  at               timestamptz NOT NULL,
  -- 'ferry' for Ferry's own records, 'kubernetes' for the Pod's Events.
  source           text NOT NULL CHECK (source IN ('ferry', 'kubernetes')),
  type             text NOT NULL CHECK (type IN ('Normal', 'Warning')),
  reason           text NOT NULL,
  message          text NOT NULL,
  -- How often Kubernetes saw it (its events are aggregated), and when last.
  count            integer NOT NULL DEFAULT 1,
  last_at          timestamptz,
  -- A Kubernetes Event's uid, so capturing the same Event twice updates it instead of adding it again.
  ref              text,
  FOREIGN KEY (task_instance_id, try_number) REFERENCES task_tries (task_instance_id, try_number) ON DELETE CASCADE
);
CREATE INDEX task_try_events_by_try ON task_try_events (task_instance_id, try_number, at, id);
CREATE UNIQUE INDEX task_try_events_ref ON task_try_events (task_instance_id, try_number, ref) WHERE ref IS NOT NULL;

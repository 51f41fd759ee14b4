-- FERRY_POD_DELETION=keepFailed: a failed try's Pod is kept for debugging until this time, then the
-- sweeper deletes it. The try itself is done (reclaimed) at once and never adopted again.
ALTER TABLE task_tries ADD COLUMN pod_kept_until timestamptz;

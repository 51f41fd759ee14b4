-- Failures outside the task (its Pod evicted, its node lost, an image that would not pull, no node
-- that fits, the Pod deleted by someone else) are retried without using up the task's retries, up to
-- the task's infraRetries. Such a try is recorded as not counted; its task's max_tries moves one further
-- so the retries it has left stay the same, and infra_tries says how many of those it has used.
ALTER TABLE task_tries ADD COLUMN counted boolean NOT NULL DEFAULT true;
ALTER TABLE task_instances ADD COLUMN infra_tries integer NOT NULL DEFAULT 0;

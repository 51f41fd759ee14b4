-- Deleting a DAG hides it instead of removing its rows. Its version numbers, run ids and log paths
-- (<dagId>/<runId>/...) therefore never come back for different code or a different run when a DAG of
-- the same id is posted again: that post revives the DAG as its next version.
ALTER TABLE dags ADD COLUMN deleted_at timestamptz;

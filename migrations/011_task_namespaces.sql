-- A task may run in a namespace of its own (task option `namespace`, only from the operator's
-- FERRY_ALLOWED_NAMESPACES); NULL: the executor's task namespace.
ALTER TABLE task_instances ADD COLUMN namespace text;

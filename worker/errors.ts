// Failures of the worker itself (configuration, fetching, a bad result) rather than of the task's
// code: reported as one plain line, since a stack through Ferry's internals helps no task author.
export class WorkerError extends Error {
  override name = "WorkerError";
}

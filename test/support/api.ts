// Small helpers shared by the API tests: a DAG file around a task body, and the error-body check.
import assert from "node:assert/strict";

export function dagFile(dagId: string, body: string, options = "schedule: null"): string {
  return `import { dag, task, podTask } from "ferry";

export default dag(${JSON.stringify(dagId)}, { ${options} }, () => {
${body}
});
`;
}

/** Asserts an error response: the status, `{"error": {code, message}}` and nothing else; returns the error. */
export function apiError(res: { status: number; body: any; text: string }, status: number, code: string): any {
  assert.equal(res.status, status, res.text);
  assert.ok(res.body && typeof res.body === "object", `a JSON error body: ${res.text}`);
  assert.deepEqual(Object.keys(res.body), ["error"], res.text);
  assert.equal(res.body.error.code, code, res.text);
  assert.equal(typeof res.body.error.message, "string");
  assert.ok(res.body.error.message.length > 0, "the error says what is wrong");
  return res.body.error;
}

// The API's error codes are one typed union (api/errors.ts) and the README lists them for clients: this
// keeps the two in step, with each code's HTTP status as the README states it. (That routes use only
// codes of the union, the type checker already guarantees.)
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { API_ERROR_STATUS, type ApiErrorCode } from "../../api/errors.ts";

async function restApiSection(): Promise<string> {
  const readme = await readFile(new URL("../../README.md", import.meta.url), "utf8");
  const start = readme.indexOf("\n## REST API");
  assert.ok(start >= 0, "README has a REST API section");
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

test("every API error code is listed in the README's REST API section", async () => {
  const section = await restApiSection();
  const missing = (Object.keys(API_ERROR_STATUS) as ApiErrorCode[]).filter((code) => !section.includes(`\`${code}\``));
  assert.deepEqual(missing, [], `codes missing from README's REST API section: ${missing.join(", ")}`);
});

test("the README's list of error codes names no code the API does not have, each with its status", async () => {
  const section = await restApiSection();
  const list = section.slice(section.indexOf("Codes:"), section.indexOf("States."));
  assert.ok(list.length > 0, "README lists the codes after 'Codes:'");
  // Each group in the list is a run of `code`s followed by its status in parentheses, e.g. "`a`, `b` (404)".
  const groups = [...list.matchAll(/((?:`[a-z_]+`(?:,\s*|\s+))+)\((\d{3})/g)];
  const listed = new Map<string, number>();
  for (const [, codes, status] of groups) for (const [, code] of codes!.matchAll(/`([a-z_]+)`/g)) listed.set(code!, Number(status));
  for (const [code, status] of listed) {
    assert.ok(code in API_ERROR_STATUS, `README lists ${code}, which api/errors.ts does not have`);
    assert.equal(API_ERROR_STATUS[code as ApiErrorCode], status, `README gives ${code} the status ${status}`);
  }
});

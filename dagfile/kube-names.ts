// Kubernetes' name rules (apimachinery/pkg/util/validation), with their wording where it helps: the
// names of the objects a Pod refers to, and label and annotation keys and values.
import { checkString, checkStringRecord, joinPath, type Problems } from "./check.ts";
import type { SourcePosition } from "./types.ts";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A string holding a template is checked when it is rendered (by the cluster), not here. */
export const templated = (value: string) => value.includes("{{");

export function checkName(problems: Problems, path: string, value: unknown, rule: "label" | "subdomain", what: string, at?: SourcePosition): string | undefined {
  const name = checkString(problems, path, value, at);
  if (name === undefined || templated(name)) return name;
  const ok = rule === "label" ? DNS_LABEL.test(name) && name.length <= 63 : DNS_SUBDOMAIN.test(name) && name.length <= 253;
  if (!ok) {
    const shape = rule === "label" ? "a DNS-1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)" : "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit)";
    problems.add(path, `${JSON.stringify(name)} is not a valid ${what}: it must be ${shape}`, at);
    return undefined;
  }
  return name;
}

export function checkLabels(problems: Problems, path: string, value: unknown, kind: "label" | "annotation", at?: SourcePosition): Record<string, string> | undefined {
  const map = checkStringRecord(problems, path, value, at);
  if (map === undefined) return undefined;
  for (const [key, item] of Object.entries(map)) {
    const parts = key.split("/");
    const name = parts[parts.length - 1]!;
    const prefixOk = parts.length === 1 || (parts.length === 2 && DNS_SUBDOMAIN.test(parts[0]!) && parts[0]!.length <= 253);
    if (!prefixOk || !QUALIFIED_NAME.test(name) || name.length > 63) {
      problems.add(joinPath(path, key), `"${key}" is not a valid ${kind} key: an optional DNS subdomain and "/", then at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`, at);
    } else if (kind === "label" && !templated(item) && (item.length > 63 || !LABEL_VALUE.test(item))) {
      problems.add(joinPath(path, key), `${JSON.stringify(item)} is not a valid label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`, at);
    }
  }
  return map;
}

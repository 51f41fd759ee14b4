// What the API server's decoder does to a Pod body before defaulting and validation: unknown fields
// are dropped, and reported according to `fieldValidation` (Strict: 400 BadRequest; Warn, the default:
// a `Warning: 299 - "unknown field ..."` response header; Ignore: nothing); quantities that do not
// parse fail the request with 400.

import type { ServerResponse } from "node:http";
import { checkQuantitiesDecode } from "./resources.ts";
import { POD, unknownFields } from "./schema.ts";
import { badRequest, fieldErr, invalid } from "./status.ts";
import type { KObject } from "./store.ts";

export type FieldValidation = "Strict" | "Warn" | "Ignore";

export interface DecodeOptions {
  validation: FieldValidation;
  warn: (message: string) => void;
}

const DIRECTIVES = ["", "Ignore", "Strict", "Warn"];

/** Reads `?fieldValidation`; `optionsKind` names the options type in the 422 (CreateOptions, ...). */
export function decodeOptions(q: URLSearchParams, res: ServerResponse, optionsKind: string): DecodeOptions {
  const v = q.get("fieldValidation") ?? "";
  if (!DIRECTIVES.includes(v)) throw invalid(`${optionsKind}.meta.k8s.io`, "", [fieldErr.notSupported("fieldValidation", v, DIRECTIVES)]);
  const warnings: string[] = [];
  return {
    validation: (v || "Warn") as FieldValidation,
    warn: (message) => {
      warnings.push(`299 - ${JSON.stringify(message)}`);
      if (!res.headersSent) res.setHeader("Warning", warnings);
    },
  };
}

/** Only defaults: for internal callers that have no request (none today) and for tests. */
export const LENIENT: DecodeOptions = { validation: "Ignore", warn: () => {} };

export function decodePod(pod: KObject, opts: DecodeOptions): void {
  const unknown = unknownFields(pod, POD, true).map((f) => `unknown field ${JSON.stringify(f)}`);
  if (unknown.length && opts.validation === "Strict") throw badRequest(`Pod in version "v1" cannot be handled as a Pod: strict decoding error: ${unknown.join(", ")}`);
  if (opts.validation === "Warn") unknown.forEach(opts.warn);
  checkQuantitiesDecode(pod);
}

// Kubernetes `Status` error bodies. Clients (client-node, kubectl, Ferry's executor) branch on `code`
// and `reason`, and show `message` to humans, so these strings follow apimachinery's errors.go exactly.

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusBody {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: string;
  details?: { name?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
  code: number;
}

/** Thrown by handlers; the router turns it into the HTTP response. */
export class KubeError extends Error {
  constructor(readonly body: StatusBody) {
    super(body.message);
  }
  get code(): number {
    return this.body.code;
  }
}

function status(code: number, reason: string, message: string, details?: StatusBody["details"]): KubeError {
  // Field order as the API server serialises it (details before code), for byte-level comparisons.
  const body = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code } as StatusBody;
  return new KubeError(body);
}

export const notFound = (resource: string, name: string) =>
  status(404, "NotFound", `${resource} "${name}" not found`, { name, kind: resource });

export const pathNotFound = () => status(404, "NotFound", "the server could not find the requested resource", {});

export const alreadyExists = (resource: string, name: string) =>
  status(409, "AlreadyExists", `${resource} "${name}" already exists`, { name, kind: resource });

export const conflict = (resource: string, name: string, err: string) =>
  status(409, "Conflict", `Operation cannot be fulfilled on ${resource} "${name}": ${err}`, { name, kind: resource });

export const OPTIMISTIC_LOCK_MSG =
  "the object has been modified; please apply your changes to the latest version and try again";

export interface FieldError {
  type: "FieldValueInvalid" | "FieldValueRequired" | "FieldValueNotSupported" | "FieldValueForbidden" | "FieldValueTooLong" | "FieldValueDuplicate";
  field: string;
  body: string; // e.g. `Invalid value: "x": detail` (what apimachinery calls ErrorBody)
}

function quote(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

export const fieldErr = {
  invalid: (field: string, value: unknown, detail: string): FieldError => ({
    type: "FieldValueInvalid",
    field,
    body: `Invalid value: ${quote(value)}: ${detail}`,
  }),
  required: (field: string, detail = ""): FieldError => ({
    type: "FieldValueRequired",
    field,
    body: detail ? `Required value: ${detail}` : "Required value",
  }),
  notSupported: (field: string, value: unknown, supported: string[]): FieldError => ({
    type: "FieldValueNotSupported",
    field,
    body: `Unsupported value: ${quote(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(", ")}`,
  }),
  forbidden: (field: string, detail: string): FieldError => ({ type: "FieldValueForbidden", field, body: `Forbidden: ${detail}` }),
  tooLong: (field: string, max: number): FieldError => ({
    type: "FieldValueTooLong",
    field,
    body: `Too long: may not be more than ${max} bytes`,
  }),
};

/** 422 Invalid; `kind` is the Kind (e.g. "Pod"), not the plural resource. */
export function invalid(kind: string, name: string, errs: FieldError[]): KubeError {
  const each = errs.map((e) => `${e.field}: ${e.body}`);
  const aggregate = each.length === 1 ? each[0] : `[${each.join(", ")}]`;
  return status(422, "Invalid", `${kind} "${name}" is invalid: ${aggregate}`, {
    name,
    kind,
    causes: errs.map((e) => ({ reason: e.type, message: e.body, field: e.field })),
  });
}

export const badRequest = (message: string) => status(400, "BadRequest", message);

export const expired = (message: string) => status(410, "Expired", message);

export const methodNotAllowed = () =>
  status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {});

export const unsupportedMediaType = (contentType: string) =>
  status(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${contentType || "none"})`);

export const forbidden = (resource: string, name: string, err: string) =>
  status(403, "Forbidden", `${resource} "${name}" is forbidden: ${err}`, { name, kind: resource });

export const internalError = (err: string) =>
  status(500, "InternalError", `Internal error occurred: ${err}`, { causes: [{ message: err }] });

export const status413 = () => status(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728");

/** What the API server's max-in-flight filter answers (with a Retry-After header set by the caller). */
export const tooManyRequests = (retryAfterSeconds: number) =>
  status(429, "TooManyRequests", "Too many requests, please try again later.", { retryAfterSeconds });

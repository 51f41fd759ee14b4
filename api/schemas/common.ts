// The building blocks of the routes' schemas (TypeBox, so each schema is also the handler's type): ids,
// paging, error bodies. Fastify validates params, query and bodies with them (api/validation.ts), and
// @fastify/swagger turns them into the OpenAPI document served at /openapi.json (api/openapi.ts).
import { Type, type TProperties, type TSchema, type TUnsafe } from "@sinclair/typebox";
import { ID_PATTERN } from "../../dagfile/validate.ts";
import { API_ERROR_STATUS, type ApiErrorCode } from "../errors.ts";

/** A string that is one of `values` (`{"type": "string", "enum": [...]}`; TypeBox's own unions of literals read worse in errors). */
export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string; default?: T[number] } = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: "string", enum: [...values], ...options });
}

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** An instant as Ferry writes it: ISO-8601 UTC with milliseconds. */
export const Instant = (description?: string) => Type.String({ format: "date-time", ...(description ? { description } : {}) });
export const MaybeInstant = (description?: string) => Nullable(Instant(description));

/** Any JSON value (a task's result, a DAG's params). */
export const AnyJson = (description: string) => Type.Unknown({ description });
export const JsonObject = (description: string) => Type.Object({}, { additionalProperties: true, description });

// Path parameters. DAG and task ids follow the DAG compiler's rule, so an id that no DAG can have is a 400
// that says why, not a lookup; a run id is one Ferry made or one a trigger was allowed to choose.
export const RUN_ID_PATTERN = /^[A-Za-z0-9_.:+@-]{1,250}$/;
export const DagId = Type.String({
  pattern: ID_PATTERN.source,
  description: "A DAG id: 1-200 characters, letters, digits, _ . - (not starting with . or -).",
});
export const TaskId = Type.String({
  pattern: ID_PATTERN.source,
  description: "A task id: 1-200 characters, letters, digits, _ . - (not starting with . or -).",
});
export const RunId = Type.String({
  pattern: RUN_ID_PATTERN.source,
  description: "A run id: 1-250 characters, letters, digits and _ . : + @ -.",
});

export const DagParams = Type.Object({ dagId: DagId });
export const RunParams = Type.Object({ dagId: DagId, runId: RunId });
export const TaskParams = Type.Object({ dagId: DagId, runId: RunId, taskId: TaskId });

/** `?limit=&cursor=` of a list; every list answers `nextCursor` (null on the last page). */
export function PageQuery<E extends TProperties = {}>(defaultLimit: number, maxLimit: number, extra: E = {} as E) {
  return Type.Object(
    {
      limit: Type.Optional(
        Type.Integer({ minimum: 1, maximum: maxLimit, default: defaultLimit, description: `How many to answer, 1 to ${maxLimit}.` }),
      ),
      cursor: Type.Optional(Type.String({ maxLength: 2048, description: "The `nextCursor` of the previous page." })),
      ...extra,
    },
    { additionalProperties: true },
  );
}
export const NextCursor = Nullable(Type.String({ description: "Pass it back as `cursor` for the next page; null on the last page." }));

const ErrorCode = (codes: readonly ApiErrorCode[]) => StringEnum(codes);

/** `{"error": {"code", "message", "details"?}}` with one of `codes`. */
export function ErrorBody(codes: readonly ApiErrorCode[], description: string) {
  return Type.Object(
    {
      error: Type.Object(
        {
          code: ErrorCode(codes),
          message: Type.String({ description: "What is wrong and how to fix it." }),
          details: Type.Optional(Type.Unknown({ description: "More about it, where the code has any (e.g. `line`, `column`, `problems`, `field`)." })),
        },
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false, description },
  );
}

/**
 * The error responses of a route: `codes` are the codes it may answer besides the ones every route
 * under /api/v1 may (`bad_request` 400, `unauthorized` 401, `forbidden` 403, `internal` 500), grouped
 * by status. `body: true` adds the answers to a request body (`invalid_json` 400, `body_too_large` 413,
 * `unsupported_media_type` 415).
 */
export function errorResponses(codes: readonly ApiErrorCode[] = [], opts: { body?: boolean; auth?: boolean } = {}): Record<number, TSchema> {
  const all = new Set<ApiErrorCode>(["bad_request", "internal", ...codes]);
  if (opts.auth !== false) {
    all.add("unauthorized");
    all.add("forbidden");
  }
  if (opts.body) {
    all.add("invalid_json");
    all.add("body_too_large");
    all.add("unsupported_media_type");
  }
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const code of all) {
    const status = API_ERROR_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<number, TSchema> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[status] = ErrorBody(list, `Error: ${list.map((c) => `\`${c}\``).join(", ")}.`);
  }
  return out;
}

/** A response with no body (204). */
export const NoContent = Type.Unsafe<void>({ description: "No content." });

// Every API error is `{"error": {"code", "message", "details"?}}` with a fitting HTTP status. The codes
// are one typed union (ApiErrorCode), each with its one status here, so a route cannot invent a code;
// the README's REST API section lists every one (test/api/error-codes.test.ts checks it). The messages
// say how to fix the problem.
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { DagFileErrorCode } from "../dagfile/types.ts";
import type { BackfillRefusalCode } from "../scheduler/backfills.ts";

/** Every code the API answers with, and its HTTP status. */
export const API_ERROR_STATUS = {
  bad_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  forbidden: 403,
  dag_not_found: 404,
  dag_version_not_found: 404,
  run_not_found: 404,
  backfill_not_found: 404,
  pool_not_found: 404,
  token_not_found: 404,
  task_not_found: 404,
  try_not_found: 404,
  no_log_yet: 404,
  no_try_yet: 404,
  route_not_found: 404,
  run_exists: 409,
  run_finished: 409,
  task_active: 409,
  nothing_to_clear: 409,
  dag_has_active_runs: 409,
  backfill_finished: 409,
  pool_protected: 409,
  body_too_large: 413,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  // A DAG file that is refused (dagfile/types.ts, DagFileErrorCode).
  compile_error: 422,
  import_not_allowed: 422,
  evaluation_error: 422,
  timeout: 422,
  memory_limit: 422,
  invalid_dag: 422,
  // A backfill that cannot be made (scheduler/backfills.ts, BackfillRefusalCode, and its dates).
  backfill_bad_date: 422,
  backfill_manual_dag: 422,
  backfill_reversed_range: 422,
  backfill_empty_range: 422,
  backfill_too_many_ticks: 422,
  backfill_in_future: 422,
  internal: 500,
  database_unreachable: 503,
} as const satisfies Record<string, number>;

export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

// Every code the DAG compiler can refuse a file with is an API code (a compile error fails here, not in a route).
type Missing<Sub extends string, All extends string> = Exclude<Sub, All>;
const dagFileCodesAreApiCodes: [Missing<DagFileErrorCode, ApiErrorCode>] extends [never] ? true : never = true;
void dagFileCodesAreApiCodes;
const backfillCodesAreApiCodes: [Missing<BackfillRefusalCode, ApiErrorCode>] extends [never] ? true : never = true;
void backfillCodesAreApiCodes;

/** The codes a refused DAG file is answered with (422), as the compiler names them. */
export const DAG_FILE_ERROR_CODES = [
  "compile_error",
  "import_not_allowed",
  "evaluation_error",
  "timeout",
  "memory_limit",
  "invalid_dag",
] as const satisfies readonly DagFileErrorCode[];
const everyDagFileCodeListed: [Exclude<DagFileErrorCode, (typeof DAG_FILE_ERROR_CODES)[number]>] extends [never] ? true : never = true;
void everyDagFileCodeListed;

export class ApiError extends Error {
  readonly status: number;

  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.status = API_ERROR_STATUS[code];
  }
}

type NotFoundCode = { [C in ApiErrorCode]: (typeof API_ERROR_STATUS)[C] extends 404 ? C : never }[ApiErrorCode];

export const notFound = (what: string, id: string, code: NotFoundCode) => new ApiError(code, `${what} ${JSON.stringify(id)} was not found`);
export const badRequest = (message: string, details?: unknown) => new ApiError("bad_request", message, details);
export const badCursor = () => badRequest("cursor is not valid: pass back the nextCursor of the previous page.", { field: "query.cursor" });

export function errorBody(code: ApiErrorCode, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** The code of another part's 4xx (a plugin's, e.g. the docs' file server refusing a path), by its status. */
const STATUS_CODES: Record<number, ApiErrorCode> = {
  403: "forbidden",
  404: "route_not_found",
  413: "body_too_large",
  415: "unsupported_media_type",
  416: "range_not_satisfiable",
};

export function handleError(err: FastifyError | ApiError | Error, req: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof ApiError) {
    void reply.status(err.status).send(errorBody(err.code, err.message, err.details));
    return;
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    void reply.status(400).send(errorBody("bad_request", fe.message));
    return;
  }
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code: ApiErrorCode =
      fe.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE"
        ? "unsupported_media_type"
        : fe.code === "FST_ERR_CTP_BODY_TOO_LARGE"
          ? "body_too_large"
          : fe.code === "FST_ERR_CTP_EMPTY_JSON_BODY" || fe.code === "FST_ERR_CTP_INVALID_JSON_BODY" || fe.name === "SyntaxError"
            ? "invalid_json"
            : (STATUS_CODES[fe.statusCode] ?? "bad_request");
    void reply.status(fe.statusCode).send(errorBody(code, fe.message));
    return;
  }
  req.log.error({ err }, "request failed");
  void reply.status(500).send(errorBody("internal", "Ferry failed to handle this request; the server log has the details."));
}

// Every API error is `{"error": {"code", "message", "details"?}}` with a fitting HTTP status. The codes
// are stable and listed in the README; the messages say how to fix the problem.
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const notFound = (what: string, id: string, code = "not_found") => new ApiError(404, code, `${what} ${JSON.stringify(id)} was not found`);
export const badRequest = (message: string, details?: unknown) => new ApiError(400, "bad_request", message, details);

export function errorBody(code: string, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

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
    const code =
      fe.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE"
        ? "unsupported_media_type"
        : fe.code === "FST_ERR_CTP_BODY_TOO_LARGE"
          ? "body_too_large"
          : fe.code === "FST_ERR_CTP_EMPTY_JSON_BODY" || fe.code === "FST_ERR_CTP_INVALID_JSON_BODY" || fe.name === "SyntaxError"
            ? "invalid_json"
            : "bad_request";
    void reply.status(fe.statusCode).send(errorBody(code, fe.message));
    return;
  }
  req.log.error({ err }, "request failed");
  void reply.status(500).send(errorBody("internal", "Ferry failed to handle this request; the server log has the details."));
}

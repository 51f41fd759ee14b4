// How fastify checks requests against the routes' schemas (api/schemas/), and how a refusal reads.
//
// - Path parameters and the query string are text on the wire: numbers and booleans in them are
//   coerced to their schema's type ("25" is the limit 25). A body is JSON and is taken as it is: `"5"` is
//   not the number 5, nor `1` the boolean true.
// - An unknown field of a body whose schema closes it (`additionalProperties: false`) is refused, never
//   silently dropped (fastify's default would drop it).
// - A refusal is Ferry's error shape: 400 `bad_request`, a message naming the field and what it must
//   be, and `details: {field}` (e.g. "body.runId", "query.limit", "params.dagId").
import { Ajv, type ErrorObject, type Options } from "ajv";
import type { FastifySchemaCompiler, FastifySchemaValidationError } from "fastify";
import { ApiError } from "./errors.ts";

const common: Options = {
  allErrors: false,
  verbose: true, // errors carry the failing value and schema, for the message
  strict: false,
  useDefaults: true,
  removeAdditional: false,
  allowUnionTypes: true,
  // Only responses use formats (date-time), and responses are documented, not validated at run time.
  formats: { "date-time": true },
};

const textParts = new Ajv({ ...common, coerceTypes: "array" });
const bodies = new Ajv({ ...common, coerceTypes: false });

/** fastify's validator compiler: bodies as they are, params and query coerced from text. */
export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === "body" ? bodies : textParts).compile(schema as object);

type SchemaErrorDataVar = "body" | "headers" | "params" | "querystring";
const PART_NAME: Record<SchemaErrorDataVar, string> = { body: "body", params: "params", querystring: "query", headers: "headers" };

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function fieldPath(part: string, instancePath: string): string {
  const steps = instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
  return [part, ...steps].map((s, i) => (i === 0 || /^[A-Za-z_$][\w$]*$/.test(s) ? s : `[${JSON.stringify(s)}]`)).join(".").replace(/\.\[/g, "[");
}

function knownFields(schema: unknown): string {
  const props = (schema as { properties?: Record<string, unknown> } | undefined)?.properties;
  const names = props ? Object.keys(props) : [];
  return names.length > 0 ? names.join(", ") : "no fields";
}

/** One sentence for the first problem ajv found, naming the field. */
export function describeValidationError(e: ErrorObject, part: string): { field: string; message: string } {
  const at = fieldPath(part, e.instancePath);
  const got = `, got ${describe(e.data)}`;
  const hint = (e.parentSchema as { description?: string } | undefined)?.description;
  switch (e.keyword) {
    case "required": {
      const field = `${at}.${String(e.params.missingProperty)}`;
      return { field, message: `${field} is missing (${at} takes ${knownFields(e.parentSchema)}).` };
    }
    case "additionalProperties": {
      const field = `${at}.${String(e.params.additionalProperty)}`;
      return { field, message: `${field} is not a field Ferry knows: ${at} takes ${knownFields(e.parentSchema)}.` };
    }
    case "type":
      return { field: at, message: `${at} must be ${/^[aeiou]/.test(String(e.params.type)) ? "an" : "a"} ${String(e.params.type).replace(",", " or ")}${got}.` };
    case "enum":
      return { field: at, message: `${at} must be one of ${(e.params.allowedValues as unknown[]).map((v) => String(v)).join(", ")}${got}.` };
    case "pattern":
    case "format":
      return { field: at, message: `${at} is not valid${got}${hint ? `: ${hint}` : ""}` + (hint?.endsWith(".") ? "" : ".") };
    default:
      return { field: at, message: `${at} ${e.message ?? "is not valid"}${got}${hint ? ` (${hint.replace(/\.$/, "")})` : ""}.` };
  }
}

/** fastify's schemaErrorFormatter: the refusal as an ApiError, which api/errors.ts answers as it is. */
export function schemaErrorFormatter(errors: FastifySchemaValidationError[], dataVar: SchemaErrorDataVar): Error {
  const first = errors[0] as ErrorObject | undefined;
  const part = PART_NAME[dataVar] ?? dataVar;
  if (!first) return new ApiError("bad_request", `The request's ${part} is not valid.`);
  const { field, message } = describeValidationError(first, part);
  return new ApiError("bad_request", message, { field });
}

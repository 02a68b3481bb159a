import type { FastifyError, FastifyInstance } from "fastify";
import { ConfigInvalidError, EDGE_ERRORS, EdgeError, type EdgeErrorCode } from "../errors.js";

/** One field error: a JSON-pointer path into the request body (or the site configuration) and what is wrong. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** An error the API answers with a specific status (and field problems or a retry time). */
export class HttpProblem extends EdgeError {
  constructor(
    code: EdgeErrorCode,
    message: string,
    readonly extra: { status?: number; problems?: FieldProblem[]; retryAfterS?: number } = {},
  ) {
    super(code, message);
  }
}

/** The HTTP status of each code the API can answer with; everything else is a 500. */
const STATUS: Partial<Record<EdgeErrorCode, number>> = {
  EDGE_ERR_AUTH_REQUIRED: 401,
  EDGE_ERR_AUTH_FAILED: 401,
  EDGE_ERR_AUTH_RATE_LIMITED: 429,
  EDGE_ERR_FORBIDDEN: 403,
  EDGE_ERR_CSRF: 403,
  EDGE_ERR_SETUP_DONE: 409,
  EDGE_ERR_REQUEST_INVALID: 400,
  EDGE_ERR_CONFIG_INVALID: 400,
  EDGE_ERR_CONFIG_CONFLICT: 412,
  EDGE_ERR_NOT_FOUND: 404,
  EDGE_ERR_PROFILE_INVALID: 400,
  EDGE_ERR_TLS: 400,
  EDGE_ERR_ENROLL: 400,
  EDGE_ERR_HUB_UNAVAILABLE: 502,
  EDGE_ERR_MODBUS_CONNECT: 502,
  EDGE_ERR_MODBUS_TIMEOUT: 502,
  EDGE_ERR_MODBUS_EXCEPTION: 502,
  EDGE_ERR_SUNSPEC_NOT_FOUND: 502,
  EDGE_ERR_MQTT: 502,
  EDGE_ERR_MQTT_STALE: 502,
};

/**
 * Answers every error as `application/problem+json` (RFC 9457) with the stable `code`: typed
 * edge errors with their status, schema violations as `EDGE_ERR_REQUEST_INVALID` with the path of
 * each field, anything unexpected as a logged `EDGE_ERR_INTERNAL` whose detail reveals nothing.
 */
export function installProblemHandler(app: FastifyInstance): void {
  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .type("application/problem+json")
      .send(problem(404, "EDGE_ERR_NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}`));
  });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    let body: ReturnType<typeof problem>;
    if (err instanceof EdgeError) {
      const extra = err instanceof HttpProblem ? err.extra : {};
      const status = extra.status ?? STATUS[err.code] ?? 500;
      const problems = err instanceof ConfigInvalidError ? [...err.problems] : extra.problems;
      body = { ...problem(status, err.code, err.message), problems, retryAfterS: extra.retryAfterS };
      if (extra.retryAfterS !== undefined) reply.header("retry-after", String(extra.retryAfterS));
      if (status >= 500 && status !== 502) req.log.error({ err }, "request failed");
    } else if (err.validation) {
      const problems = err.validation.map((v) => ({
        path: v.instancePath || `/${(v.params as { missingProperty?: string }).missingProperty ?? ""}`,
        message: v.message ?? v.keyword,
      }));
      body = { ...problem(400, "EDGE_ERR_REQUEST_INVALID", err.message), problems };
    } else if (err.statusCode && err.statusCode < 500) {
      // fastify's own 4xx: unparseable JSON, body too large, unsupported media type
      body = problem(err.statusCode, "EDGE_ERR_REQUEST_INVALID", err.message);
    } else {
      req.log.error({ err }, "request failed");
      body = problem(500, "EDGE_ERR_INTERNAL", "unexpected error; the edge's log has the details");
    }
    reply.code(body.status).type("application/problem+json").send(body);
  });
}

function problem(status: number, code: EdgeErrorCode, detail: string) {
  return {
    type: `about:blank#${code}`,
    title: EDGE_ERRORS[code].text,
    status,
    code,
    detail,
    problems: undefined as FieldProblem[] | undefined,
    retryAfterS: undefined as number | undefined,
  };
}

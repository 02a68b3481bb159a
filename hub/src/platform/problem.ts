import type { FastifyError, FastifyInstance } from "fastify";
import { type FieldProblem, HUB_ERRORS, type HubErrorCode } from "../errors.js";

/**
 * Answers every error as RFC 9457 problem+json with a stable `code`: schema violations become
 * HUB_ERR_VALIDATION (400; fastify's own 4xx such as a body too large keep their status), typed hub errors keep their code and status, anything else is
 * logged and becomes HUB_ERR_INTERNAL (500) without internals in the body.
 */
export function registerProblemHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, req, reply) => {
    let code: HubErrorCode;
    let detail: string;
    let status: number | undefined;
    let problems = (error as { problems?: FieldProblem[] }).problems;
    if (error.validation) {
      code = "HUB_ERR_VALIDATION";
      detail = error.message;
      // ajv's errors as JSON pointers into the part that failed: /name, /customerId, /limit
      // one problem per field: the first, most specific one (a nullable field's value that fails
      // its pattern is also "not null" and "none of anyOf")
      const byPath = new Map<string, FieldProblem>();
      for (const v of error.validation) {
        const missing = (v.params as { missingProperty?: string }).missingProperty;
        const extra = (v.params as { additionalProperty?: string }).additionalProperty;
        const path = `${v.instancePath}${missing ? `/${missing}` : extra ? `/${extra}` : ""}` || "/";
        if (!byPath.has(path)) {
          byPath.set(path, { path, message: extra ? "is not a field of this resource" : (v.message ?? "is invalid") });
        }
      }
      problems = [...byPath.values()];
    } else if (isDatabaseUnavailable(error)) {
      req.log.warn({ err: error }, "PostgreSQL unavailable");
      code = "HUB_ERR_DB_UNAVAILABLE";
      detail = "the database is unreachable; retry later";
    } else if (typeof error.code === "string" && error.code in HUB_ERRORS) {
      code = error.code as HubErrorCode;
      detail = error.message;
    } else if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      // fastify's own 4xx: unparseable JSON, body too large, unsupported media type
      code = "HUB_ERR_VALIDATION";
      detail = error.message;
      status = error.statusCode;
    } else {
      req.log.error({ err: error }, "request failed");
      code = "HUB_ERR_INTERNAL";
      detail = "an unexpected error occurred; see the hub log";
    }
    const problem = { ...problemOf(code, detail, req.url, status), ...(problems ? { problems } : {}) };
    reply.code(problem.status).header("content-type", "application/problem+json").send(problem);
  });
  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .header("content-type", "application/problem+json")
      .send(problemOf("HUB_ERR_NOT_FOUND", `${req.method} ${req.url} does not exist`, req.url));
  });
}

/** The problem+json body of `code` (status from the table unless given). */
export function problemOf(code: HubErrorCode, detail: string, instance: string, status?: number) {
  const entry = HUB_ERRORS[code];
  return { type: "about:blank", title: entry.text, status: status ?? entry.status, code, detail, instance };
}

/**
 * Connection-level failures (refused, reset, broken pipe, server shutting down, SQLSTATE class
 * 08): the database is unavailable, and a client that saw one is not given back to the pool.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code ?? "";
  return (
    ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "57P01", "57P02", "57P03"].includes(code) ||
    code.startsWith("08")
  );
}

import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type pg from "pg";
import type { Queryable } from "../db/queryable.js";
import type { HubMetrics } from "../metrics.js";
import { type AuditContext, beginWithAuditContextSql } from "./audit-context.js";
import {
  fingerprintOf,
  type IdempotentRequest,
  parseIdempotencyKey,
  type StoredResponse,
} from "./idempotency-store.js";
import { isDatabaseUnavailable, problemOf } from "./problem.js";
import { type KeyOutcome, keyTaken, UnitOfWork } from "./unit-of-work.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * An unsafe route that runs in one transaction (`txOf(request)`, committed when the response
     * is a success, rolled back otherwise) with the audit context set, and honours `Idempotency-Key`.
     */
    idempotent?: boolean;
    /** Tags of the audit records the route's writes produce. */
    auditTags?: string[];
  }
}

/** Options of the idempotency plugin. */
export interface IdempotencyOptions {
  pool: pg.Pool;
  metrics?: HubMetrics;
  /** How long a duplicate waits for the first request to finish before 409 (default 5000 ms). */
  inFlightWaitMs?: number;
  /**
   * BENCHMARK ONLY (`npm run bench -- platform`), never set from configuration: ignore
   * Idempotency-Key and run the handler's statements without a transaction, to measure what they cost.
   */
  benchBypass?: boolean;
}

/** Response headers stored with the first response and replayed. */
const REPLAYED_HEADERS = ["content-type", "etag", "location", "retry-after"];

const kUnit = Symbol("steinmetz.unitOfWork");
type WithUnit = FastifyRequest & { [kUnit]?: UnitOfWork | pg.PoolClient };

/** The transaction of a route declared with `config: { idempotent: true }`. */
export function txOf(req: FastifyRequest): Queryable {
  const unit = (req as WithUnit)[kUnit];
  if (!unit) throw new Error(`route ${req.routeOptions.url} uses txOf(request) without config.idempotent`);
  return unit;
}

function bodyText(payload: unknown): string | null | undefined {
  if (payload === null || payload === undefined || payload === "") return null;
  if (typeof payload === "string") return payload;
  if (Buffer.isBuffer(payload)) return payload.toString("utf8");
  return undefined; // a stream: not stored
}

/**
 * Unit of work and Idempotency-Key (IETF draft semantics) for every route that declares
 * `config: { idempotent: true }`: the handler's statements (`txOf(request)`) run in one
 * transaction on a dedicated client, begun with the audit context (principal, request id,
 * `Audit-Reason` header, the route's `auditTags`) and, with an `Idempotency-Key` (scoped to the
 * principal), the key's claim; the first response (status, content-type/ETag/Location, body) is
 * stored under the key in the commit of its effect and replayed to duplicates with
 * `Idempotency-Replayed: true`. A 4xx is rolled back and stored as well; a 5xx is rolled back and
 * not stored (a retry runs again). Same key with another method, path or body: 422; still in
 * flight after `inFlightWaitMs`: 409. See `UnitOfWork`.
 */
const idempotency: FastifyPluginAsync<IdempotencyOptions> = async (app, options) => {
  const { pool, metrics } = options;
  const count = (outcome: string) => metrics?.idempotencyRequests.inc({ outcome });

  app.addHook("preHandler", async (req: WithUnit) => {
    if (!req.routeOptions.config.idempotent) return;
    if (options.benchBypass) {
      req[kUnit] = await pool.connect();
      return;
    }
    const principalId = req.principal?.id ?? "anonymous";
    const keyText = parseIdempotencyKey(req.headers["idempotency-key"]);
    const key: IdempotentRequest | undefined =
      keyText === undefined
        ? undefined
        : {
            principalId,
            key: keyText,
            fingerprint: fingerprintOf(req.method, req.url, req.body),
            method: req.method,
            path: req.url,
          };
    const audit: AuditContext = {
      actorId: principalId,
      actorName: req.principal?.name,
      requestId: req.id,
      reason: headerText(req.headers["audit-reason"]),
      tags: req.routeOptions.config.auditTags,
    };
    const client = await pool.connect();
    req[kUnit] = new UnitOfWork(
      client,
      beginWithAuditContextSql(client, audit),
      key,
      options.inFlightWaitMs ?? 5000,
      count,
    );
  });

  app.addHook("onSend", async (req: WithUnit, reply, payload) => {
    const unit = req[kUnit];
    if (!unit) return payload;
    req[kUnit] = undefined;
    if (!(unit instanceof UnitOfWork)) {
      unit.release();
      return payload;
    }
    const status = reply.statusCode;
    let outcome: KeyOutcome | undefined;
    try {
      outcome = await unit.finish(status, unit.keyed ? stored(reply, payload) : undefined);
    } catch (err) {
      unit.client.release(isDatabaseUnavailable(err));
      throw err;
    }
    unit.client.release();
    if (!outcome) return payload;
    if (outcome.kind === "in-flight") reply.header("retry-after", "1");
    if (outcome.kind !== "replay") {
      const err = keyTaken(outcome);
      const problem = problemOf(err.code, err.message, req.url);
      reply.code(problem.status).header("content-type", "application/problem+json");
      return JSON.stringify(problem);
    }
    req.log.debug("idempotent replay");
    for (const name of REPLAYED_HEADERS) reply.removeHeader(name);
    reply.code(outcome.response.status);
    for (const [name, value] of Object.entries(outcome.response.headers)) reply.header(name, value);
    reply.header("idempotency-replayed", "true");
    return outcome.response.body ?? "";
  });

  // A request that ended without onSend (connection dropped): roll back, give the client back.
  app.addHook("onResponse", async (req: WithUnit) => {
    const unit = req[kUnit];
    if (!unit) return;
    req[kUnit] = undefined;
    if (!(unit instanceof UnitOfWork)) return unit.release();
    const err = await unit.rollback().catch((e: unknown) => e);
    unit.client.release(err !== undefined && isDatabaseUnavailable(err));
  });
};

/** The response to store under the key: undefined for a streamed body (stored without it). */
function stored(reply: FastifyReply, payload: unknown): StoredResponse | undefined {
  const body = bodyText(payload);
  const headers: Record<string, string> = {};
  for (const name of REPLAYED_HEADERS) {
    const value = reply.getHeader(name);
    if (value !== undefined) headers[name] = String(value);
  }
  if (body === undefined) reply.log.warn("streamed response: stored for Idempotency-Key replay without its body");
  return { status: reply.statusCode, headers, body: body ?? null };
}

function headerText(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value.join(", ") : value;
  return text ? text.slice(0, 1000) : undefined;
}

/** Idempotency and unit-of-work plugin (infrastructure: applies to every route that opts in). */
export const idempotencyPlugin = fp(idempotency, { name: "idempotency" });

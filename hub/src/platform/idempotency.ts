import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type pg from "pg";
import { hubError } from "../errors.js";
import type { HubMetrics } from "../metrics.js";
import { type AuditContext, beginWithAuditContextSql } from "./audit-context.js";
import {
  type ClaimOptions,
  claimKey,
  claimNewKeyAndBegin,
  completeKey,
  completeKeyAndCommit,
  fingerprintOf,
  type IdempotentRequest,
  parseIdempotencyKey,
  releaseKey,
  type StoredResponse,
} from "./idempotency-store.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * An unsafe route that runs in one transaction (`request.tx`, committed when the response is
     * a success, rolled back otherwise) with the audit context set, and honours `Idempotency-Key`.
     */
    idempotent?: boolean;
    /** Tags of the audit records the route's writes produce. */
    auditTags?: string[];
  }
  interface FastifyRequest {
    /** The route's transaction (routes with `config.idempotent` only); see `txOf`. */
    tx?: pg.PoolClient;
  }
}

/** Options of the idempotency plugin. */
export interface IdempotencyOptions extends ClaimOptions {
  pool: pg.Pool;
  metrics?: HubMetrics;
  /**
   * BENCHMARK ONLY (`npm run bench -- platform`), never set from configuration: ignore
   * Idempotency-Key and run the handler without a transaction, to measure what they cost.
   */
  benchBypass?: boolean;
}

/** Response headers stored with the first response and replayed. */
const REPLAYED_HEADERS = ["content-type", "etag", "location", "retry-after"];

interface UnitOfWork {
  client?: pg.PoolClient;
  key?: IdempotentRequest;
  token?: string;
  finished: boolean;
}

const kUnit = Symbol("steinmetz.unitOfWork");
type WithUnit = FastifyRequest & { [kUnit]?: UnitOfWork };

/** The transaction of a route declared with `config: { idempotent: true }`. */
export function txOf(req: FastifyRequest): pg.PoolClient {
  if (!req.tx) throw new Error(`route ${req.routeOptions.url} uses request.tx without config.idempotent`);
  return req.tx;
}

function replay(reply: FastifyReply, stored: StoredResponse) {
  reply.code(stored.status);
  for (const [name, value] of Object.entries(stored.headers)) reply.header(name, value);
  reply.header("idempotency-replayed", "true");
  return reply.send(stored.body ?? undefined);
}

function bodyText(payload: unknown): string | null | undefined {
  if (payload === null || payload === undefined || payload === "") return null;
  if (typeof payload === "string") return payload;
  if (Buffer.isBuffer(payload)) return payload.toString("utf8");
  return undefined; // a stream: not stored
}

/**
 * Unit of work and Idempotency-Key (IETF draft semantics) for every route that declares
 * `config: { idempotent: true }`:
 * - the handler runs in one transaction on a dedicated client (`request.tx`), begun with the
 *   audit context (principal, request id, `Audit-Reason` header, the route's `auditTags`);
 * - with an `Idempotency-Key`, scoped to the principal, the key is claimed first in its own
 *   statement; the first response (status, content-type/ETag/Location, body) is stored in the
 *   handler's transaction, so the effect and the stored response commit together, and replayed
 *   to duplicates with `Idempotency-Replayed: true`. A 4xx is rolled back and stored as well; a
 *   5xx releases the key (retry). Same key with another method, path or body: 422; still in
 *   flight after `inFlightWaitMs`: 409.
 */
const idempotency: FastifyPluginAsync<IdempotencyOptions> = async (app, options) => {
  const { pool, metrics } = options;
  const count = (outcome: string) => metrics?.idempotencyRequests.inc({ outcome });

  app.addHook("preHandler", async (req: WithUnit, reply) => {
    if (!req.routeOptions.config.idempotent) return;
    if (options.benchBypass) {
      const client = await pool.connect();
      req[kUnit] = { client, finished: false };
      req.tx = client;
      return;
    }
    const principalId = req.principal?.id ?? "anonymous";
    const keyText = parseIdempotencyKey(req.headers["idempotency-key"]);
    const audit: AuditContext = {
      actorId: principalId,
      actorName: req.principal?.name,
      requestId: req.id,
      reason: headerText(req.headers["audit-reason"]),
      tags: req.routeOptions.config.auditTags,
    };
    const unit: UnitOfWork = { finished: false };
    let client: pg.PoolClient | undefined = await pool.connect();
    try {
      const begin = beginWithAuditContextSql(client, audit);
      if (keyText === undefined) {
        await client.query(begin);
      } else {
        const key: IdempotentRequest = {
          principalId,
          key: keyText,
          fingerprint: fingerprintOf(req.method, req.url, req.body),
          method: req.method,
          path: req.url,
        };
        // A new key: claimed and the transaction begun in one round trip.
        let token = await claimNewKeyAndBegin(client, key, begin, options.leaseMs);
        if (token === undefined) {
          // The key exists: wait (if in flight) without holding a connection.
          client.release();
          client = undefined;
          const claim = await claimKey(pool, key, options);
          count(claim.kind);
          if (claim.kind === "mismatch") {
            throw hubError(
              "HUB_ERR_IDEMPOTENCY_MISMATCH",
              "this Idempotency-Key was used for a request with another method, path or body",
            );
          }
          if (claim.kind === "in-flight") {
            reply.header("retry-after", "1");
            throw hubError(
              "HUB_ERR_IDEMPOTENCY_IN_FLIGHT",
              "a request with this Idempotency-Key is still being processed",
            );
          }
          if (claim.kind === "replay") {
            req.log.debug({ idempotencyKey: keyText }, "idempotent replay");
            return replay(reply, claim.response);
          }
          token = claim.token;
          try {
            client = await pool.connect();
            await client.query(begin);
          } catch (err) {
            await releaseKey(pool, key, token).catch(() => undefined);
            throw err;
          }
        } else count("claimed");
        unit.key = key;
        unit.token = token;
      }
    } catch (err) {
      client?.release(isConnectionError(err));
      throw err;
    }
    unit.client = client;
    req[kUnit] = unit;
    req.tx = unit.client;
  });

  app.addHook("onSend", async (req: WithUnit, reply, payload) => {
    const unit = req[kUnit];
    if (!unit || unit.finished) return payload;
    unit.finished = true;
    const client = unit.client as pg.PoolClient;
    req.tx = undefined;
    if (options.benchBypass) {
      client.release();
      return payload;
    }
    const status = reply.statusCode;
    const stored = (): StoredResponse | undefined => {
      const body = bodyText(payload);
      if (body === undefined) return undefined;
      const headers: Record<string, string> = {};
      for (const name of REPLAYED_HEADERS) {
        const value = reply.getHeader(name);
        if (value !== undefined) headers[name] = String(value);
      }
      return { status, headers, body };
    };
    if (status < 400) {
      try {
        const response = unit.key ? stored() : undefined;
        if (unit.key && unit.token && response) {
          await completeKeyAndCommit(client, unit.key, unit.token, response);
        } else {
          if (unit.key) req.log.warn("streamed response: not stored for Idempotency-Key replay");
          await client.query("COMMIT");
        }
        client.release();
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        client.release();
        if (unit.key && unit.token) await releaseKey(pool, unit.key, unit.token).catch(() => undefined);
        throw err;
      }
      return payload;
    }
    await client.query("ROLLBACK").catch(() => undefined);
    client.release();
    if (unit.key && unit.token) {
      const response = status < 500 ? stored() : undefined;
      try {
        if (response) await completeKey(pool, unit.key, unit.token, response);
        else await releaseKey(pool, unit.key, unit.token);
      } catch (err) {
        req.log.warn({ err }, "idempotency key not updated after an error response");
      }
    }
    return payload;
  });

  // A request that ended without onSend (connection dropped): roll back, give the key up.
  app.addHook("onResponse", async (req: WithUnit) => {
    const unit = req[kUnit];
    if (!unit || unit.finished) return;
    unit.finished = true;
    req.tx = undefined;
    await unit.client?.query("ROLLBACK").catch(() => undefined);
    unit.client?.release();
    if (unit.key && unit.token) await releaseKey(pool, unit.key, unit.token).catch(() => undefined);
  });
};

/** A client whose connection broke is destroyed instead of returned to the pool. */
const isConnectionError = (err: unknown) => {
  const code = (err as { code?: string }).code ?? "";
  return ["ECONNRESET", "ECONNREFUSED", "EPIPE", "57P01"].includes(code) || code.startsWith("08");
};

function headerText(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value.join(", ") : value;
  return text ? text.slice(0, 1000) : undefined;
}

/** Idempotency and unit-of-work plugin (infrastructure: applies to every route that opts in). */
export const idempotencyPlugin = fp(idempotency, { name: "idempotency" });

import type { FastifyPluginAsync } from "fastify";
import fp from "fastify-plugin";
import type pg from "pg";
import { assertSupportedPostgres } from "../db/postgres-version.js";
import type { HubMetrics } from "../metrics.js";

/** Options of the health plugin. */
export interface HealthOptions {
  pool: pg.Pool;
  metrics: HubMetrics;
  version: string;
  /** Circuit breakers of external systems (platform/resilience.ts), each shown as a check. */
  breakers?: () => Array<{ name: string; state: string; since?: string }>;
}

async function checkPostgres(pool: pg.Pool): Promise<{ ok: boolean; ms: number; error?: string }> {
  const started = performance.now();
  try {
    await Promise.race([
      assertSupportedPostgres(pool),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timed out after 2000 ms")), 2000).unref()),
    ]);
    return { ok: true, ms: performance.now() - started };
  } catch (err) {
    return { ok: false, ms: performance.now() - started, error: (err as Error).message };
  }
}

/**
 * Health and metrics: `/livez` (the process answers; no dependencies), `/readyz` (503 while
 * PostgreSQL is unreachable or of an unsupported major), `/health` (application/health+json with per-dependency checks and
 * response times) and `/metrics` (Prometheus text, including HTTP latency per route).
 */
const health: FastifyPluginAsync<HealthOptions> = async (app, { pool, metrics, version, breakers }) => {
  app.addHook("onResponse", async (req, reply) => {
    metrics.httpDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? "unmatched", status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  app.get("/livez", { schema: { hide: true }, config: { permission: "public" } }, async () => ({ status: "ok" }));
  app.get("/readyz", { schema: { hide: true }, config: { permission: "public" } }, async (_req, reply) => {
    const pg = await checkPostgres(pool);
    return reply.code(pg.ok ? 200 : 503).send({ status: pg.ok ? "ready" : "not ready" });
  });
  app.get("/health", { schema: { hide: true }, config: { permission: "public" } }, async (_req, reply) => {
    const pg = await checkPostgres(pool);
    // An open breaker degrades (warn) but does not fail the hub: it keeps serving what it can.
    const circuits = breakers?.() ?? [];
    const degraded = circuits.some((b) => b.state !== "closed");
    reply.code(pg.ok ? 200 : 503).header("content-type", "application/health+json");
    return {
      status: pg.ok ? (degraded ? "warn" : "pass") : "fail",
      version,
      checks: {
        "postgresql:responseTime": [
          {
            componentType: "datastore",
            status: pg.ok ? "pass" : "fail",
            observedValue: Math.round(pg.ms * 100) / 100,
            observedUnit: "ms",
            time: new Date().toISOString(),
            ...(pg.error ? { output: pg.error } : {}),
          },
        ],
        ...Object.fromEntries(
          circuits.map((b) => [
            `${b.name}:circuitBreaker`,
            [
              {
                componentType: "component",
                status: b.state === "closed" ? "pass" : b.state === "half-open" ? "warn" : "fail",
                observedValue: b.state,
                ...(b.since ? { time: b.since } : {}),
              },
            ],
          ]),
        ),
      },
    };
  });
  app.get("/metrics", { schema: { hide: true }, config: { permission: "public" } }, async (_req, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};

/** Health/metrics plugin (infrastructure: applies to the whole app). */
export const healthPlugin = fp(health, { name: "health" });

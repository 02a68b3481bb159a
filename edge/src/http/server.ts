import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import type { Logger } from "pino";
import type { EdgeMetrics } from "../metrics.js";

/** What the HTTP server reads from the running agent. */
export interface EdgeHttpDeps {
  log: Logger;
  metrics: EdgeMetrics;
  /** The agent's status document (site, devices, buffer, sync). */
  status: () => unknown;
  /** False while starting or shutting down. */
  ready: () => boolean;
}

/**
 * The edge's HTTP server: liveness, readiness, Prometheus metrics and the status document.
 * The installer UI and its authenticated API grow on this instance as plugins.
 */
export function buildEdgeHttp(deps: EdgeHttpDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: "http" }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.get("/livez", async () => ({ status: "ok" }));
  app.get("/readyz", async (_req, reply) => {
    if (!deps.ready()) return reply.code(503).send({ status: "not ready" });
    return { status: "ready" };
  });
  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  app.get("/api/v1/status", async () => deps.status());
  return app;
}

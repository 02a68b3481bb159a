import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyBaseLogger, LogController } from "fastify";
import type pg from "pg";
import type { Logger } from "pino";
import type { HubMetrics } from "./metrics.js";
import { enrollRoutes } from "./pki/enroll-routes.js";
import { healthPlugin } from "./platform/health.js";
import { registerProblemHandler } from "./platform/problem.js";
import { telemetryRoutes } from "./telemetry/index.js";

/** What the HTTP app needs. */
export interface HubHttpDeps {
  pool: pg.Pool;
  log: Logger;
  metrics: HubMetrics;
  version: string;
  /** The hub CA's directory: edges redeem enrollment codes against it. */
  pkiDir: string;
}

/**
 * The hub's HTTP app: infrastructure plugins (errors, health, metrics, OpenAPI) on the root,
 * each domain an encapsulated plugin under /api/v1.
 */
export async function buildHubHttp(deps: HubHttpDeps) {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: "http" }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<TypeBoxTypeProvider>();
  registerProblemHandler(app);
  await app.register(swagger, {
    openapi: { info: { title: "SteinmetZ Hub API", version: deps.version } },
  });
  await app.register(swaggerUi, { routePrefix: "/api/docs" });
  app.get("/api/v1/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  await app.register(healthPlugin, { pool: deps.pool, metrics: deps.metrics, version: deps.version });
  await app.register(telemetryRoutes, { prefix: "/api/v1", pool: deps.pool });
  await app.register(enrollRoutes, { prefix: "/api/v1", pkiDir: deps.pkiDir });
  return app;
}

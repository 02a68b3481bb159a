import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyBaseLogger, LogController } from "fastify";
import type pg from "pg";
import type { Logger } from "pino";
import { approvalRoutes } from "./approvals/index.js";
import { auditRoutes } from "./audit/index.js";
import { type AuthPluginOptions, authPlugin } from "./auth/index.js";
import { commandRoutes } from "./commands/routes.js";
import { DeadLetterQueue, deadLetterRoutes, observeDeadLetters } from "./dead-letters/index.js";
import { erpRoutes } from "./erp/index.js";
import { deviceInventoryRoutes } from "./ingest/device-routes.js";
import { type HubMetrics, observePool } from "./metrics.js";
import { ENROLL_LIMIT, enrollRoutes } from "./pki/enroll-routes.js";
import { SharedFailureLimiter } from "./platform/failure-limiter.js";
import { healthPlugin } from "./platform/health.js";
import { type IdempotencyOptions, idempotencyPlugin } from "./platform/idempotency.js";
import { lockingPlugin } from "./platform/locking.js";
import { registerProblemHandler } from "./platform/problem.js";
import type { ResilienceRegistry } from "./platform/resilience.js";
import { requestIdOf, tracingPlugin } from "./platform/tracing.js";
import { retentionRoutes } from "./retention/routes.js";
import type { SagaDefinition } from "./sagas/definition.js";
import { sagaRoutes } from "./sagas/routes.js";
import { telemetryRoutes } from "./telemetry/index.js";
import { warehouseRoutes } from "./warehouse/routes.js";
import { webAppPlugin } from "./web-app.js";

/** What the HTTP app needs. */
export interface HubHttpDeps {
  pool: pg.Pool;
  log: Logger;
  metrics: HubMetrics;
  version: string;
  /** The hub CA's directory: edges redeem enrollment codes against it. */
  pkiDir: string;
  /** Sessions (lifetimes, Secure cookie) and login limits; see auth/index.ts. */
  auth?: Omit<AuthPluginOptions, "pool">;
  /** The dead letter queue (with its redrive handlers); a bare one when unset. */
  deadLetters?: DeadLetterQueue;
  /** Breakers shown in /health. */
  resilience?: ResilienceRegistry;
  /** The business processes `POST /api/v1/sagas` may start (none when unset). */
  sagas?: readonly SagaDefinition<never>[];
  /** How long an Idempotency-Key duplicate waits for the first request (default 5 s). */
  idempotency?: Pick<IdempotencyOptions, "inFlightWaitMs">;
  /**
   * BENCHMARK ONLY (`npm run bench -- platform`; no configuration reaches it): Idempotency-Key
   * ignored, no transaction per write, If-Match optional.
   */
  benchBypass?: boolean;
}

/**
 * The hub's HTTP app: infrastructure plugins (errors, health, metrics, OpenAPI) on the root,
 * each domain an encapsulated plugin under /api/v1.
 */
export async function buildHubHttp(deps: HubHttpDeps) {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: "http" }) as FastifyBaseLogger,
    // Request-Id / X-Request-Id or a new UUID: request.id, `requestId` in every log line of the
    // request, the `request-id` response header, the audit records' request id.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: "requestId" }),
    genReqId: requestIdOf,
    // A field the schema does not know is refused (named in `problems`), not silently dropped;
    // every field at fault is named, so a form shows them all at once.
    ajv: { customOptions: { removeAdditional: false, allErrors: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  registerProblemHandler(app);
  await app.register(tracingPlugin);
  // First: it checks that every route registered after it declares a permission, and enforces it.
  await app.register(authPlugin, { pool: deps.pool, publicPrefixes: ["/api/docs"], ...deps.auth });
  await app.register(swagger, {
    openapi: { info: { title: "SteinmetZ Hub API", version: deps.version } },
  });
  await app.register(swaggerUi, { routePrefix: "/api/docs" });
  app.get("/api/v1/openapi.json", { schema: { hide: true }, config: { permission: "public" } }, async () =>
    app.swagger(),
  );
  await app.register(healthPlugin, {
    pool: deps.pool,
    metrics: deps.metrics,
    version: deps.version,
    breakers: deps.resilience ? () => deps.resilience?.states() ?? [] : undefined,
  });
  observePool(deps.metrics, deps.pool);
  const deadLetters = deps.deadLetters ?? new DeadLetterQueue(deps.pool, deps.log.child({ component: "dlq" }));
  observeDeadLetters(deps.metrics, deadLetters);
  // Platform plugins every domain uses through route config: `idempotent`, If-Match helpers.
  await app.register(lockingPlugin, { enforce: !deps.benchBypass });
  await app.register(idempotencyPlugin, {
    pool: deps.pool,
    metrics: deps.metrics,
    benchBypass: deps.benchBypass,
    ...deps.idempotency,
  });
  await app.register(telemetryRoutes, { prefix: "/api/v1", pool: deps.pool });
  await app.register(deviceInventoryRoutes, { prefix: "/api/v1", pool: deps.pool });
  await app.register(enrollRoutes, {
    prefix: "/api/v1",
    pkiDir: deps.pkiDir,
    limiter: new SharedFailureLimiter(deps.pool, "enroll:address", ENROLL_LIMIT),
  });
  await app.register(erpRoutes, { prefix: "/api/v1", pool: deps.pool });
  await app.register(auditRoutes, { prefix: "/api/v1", pool: deps.pool });
  await app.register(deadLetterRoutes, { prefix: "/api/v1", pool: deps.pool, queue: deadLetters });
  await app.register(approvalRoutes, { prefix: "/api/v1", pool: deps.pool });
  await app.register(retentionRoutes, { prefix: "/api/v1", pool: deps.pool });
  await app.register(sagaRoutes, { prefix: "/api/v1", pool: deps.pool, definitions: deps.sagas });
  await app.register(commandRoutes, { prefix: "/api/v1", pool: deps.pool });
  await app.register(warehouseRoutes, { prefix: "/api/v1", pool: deps.pool });
  // the web app for ERP users at /
  await app.register(await webAppPlugin());
  return app;
}

import { join } from "node:path";
import cookie from "@fastify/cookie";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import { AGENT_VERSION } from "../version.js";
import { accountRoutes } from "./account-routes.js";
import { installAuth } from "./auth.js";
import { configRoutes } from "./config-routes.js";
import type { EdgeHttpDeps } from "./deps.js";
import { deviceRoutes } from "./device-routes.js";
import { liveRoutes } from "./live-routes.js";
import { installProblemHandler } from "./problem.js";
import { tlsRoutes } from "./tls-routes.js";
import { loadUiAssets, type UiAsset, uiAssetsPlugin } from "./ui-assets.js";
import { UserStore } from "./users.js";

let uiAssets: Promise<Map<string, UiAsset>> | undefined;

/**
 * The edge's HTTP server: liveness, readiness and Prometheus metrics (public, for probes and
 * scrapers on the LAN), and behind login the installer UI's API under /api/v1 (OpenAPI at
 * /api/v1/openapi.json) and the UI itself. Every error is problem+json with an EDGE_ERR_* code.
 */
export function buildEdgeHttp(deps: EdgeHttpDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: "http" }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
  });
  installProblemHandler(app);
  app.register(cookie);
  app.register(swagger, {
    openapi: {
      info: { title: "SteinmetZ edge API", version: AGENT_VERSION },
      components: { securitySchemes: { session: { type: "apiKey", in: "cookie", name: "edge_session" } } },
      security: [{ session: [] }],
    },
  });
  const auth = installAuth(app, new UserStore(join(deps.dataDir, "users.json")));

  const open = { config: { access: "public" as const }, schema: { hide: true } };
  app.get("/livez", open, async () => ({ status: "ok" }));
  app.get("/readyz", open, async (_req, reply) => {
    if (!deps.ready()) return reply.code(503).send({ status: "not ready" });
    return { status: "ready" };
  });
  app.get("/metrics", open, async (_req, reply) => {
    reply.header("content-type", deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  app.get("/api/v1/openapi.json", { config: { access: "viewer" }, schema: { hide: true } }, async () => app.swagger());

  app.register(accountRoutes, { auth, config: deps.config, siteName: () => deps.site().config.site.name });
  app.register(liveRoutes, { deps, sessions: auth.sessions });
  app.register(deviceRoutes, { deps });
  app.register(configRoutes, { config: deps.config });
  app.register(tlsRoutes, { tls: deps.tls });
  // Built (or read) once per process, however many agents it runs.
  uiAssets ??= loadUiAssets();
  app.register(async (ui) => ui.register(uiAssetsPlugin(await (uiAssets as Promise<Map<string, UiAsset>>))));
  return app;
}

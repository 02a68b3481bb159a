/**
 * Authentication and authorisation (infrastructure: wrapped with fastify-plugin, so its hooks
 * apply to the whole app). Register it before every other plugin with routes:
 *
 * - every route must declare `config.permission` (platform/principal.ts); the app refuses to
 *   start otherwise and lists the routes that do not;
 * - a root onRequest hook resolves the principal from `Authorization: Bearer <token>` (an API
 *   token or a session token) or the `hub_session` cookie, and enforces the permission against
 *   the role table (permissions.ts): none → 401 HUB_ERR_AUTH_REQUIRED, not allowed → 403
 *   HUB_ERR_FORBIDDEN; unsafe requests authenticated by the cookie need the session's
 *   `x-csrf-token` (403 HUB_ERR_CSRF); bearer requests are exempt (a browser never adds them).
 */
import cookie from "@fastify/cookie";
import type { FastifyPluginAsync } from "fastify";
import fp from "fastify-plugin";
import type pg from "pg";
import { hubError } from "../errors.js";
import { type FailureLimiter, purgeFailedAttempts, SharedFailureLimiter } from "../platform/failure-limiter.js";
import type { Permission } from "../platform/principal.js";
import { rolesAllow } from "./permissions.js";
import { authRoutes, SESSION_COOKIE } from "./routes.js";
import { type Authenticated, AuthService, type AuthServiceOptions } from "./service.js";

export { MIN_PASSWORD_LENGTH } from "./password.js";
export { ROLE_GRANTS, rolesAllow } from "./permissions.js";
export { SESSION_COOKIE } from "./routes.js";
export { type ApiToken, type Authenticated, AuthService, type AuthServiceOptions, type User } from "./service.js";

/** Options of the auth plugin. */
export interface AuthPluginOptions extends AuthServiceOptions {
  pool: pg.Pool;
  /** Mark the session cookie Secure: set when the hub is reached over https (default false). */
  secureCookie?: boolean;
  /** Routes under these prefixes are public whatever they declare (plugins that cannot, e.g. `/api/docs`). */
  publicPrefixes?: string[];
  /**
   * Failed logins per client address (default 20 within 15 min) and per e-mail (5 within 15 min),
   * counted in PostgreSQL by default, so every hub process on the database refuses alike.
   */
  ipLimiter?: FailureLimiter;
  emailLimiter?: FailureLimiter;
}

/** A route and what it needs. */
export interface RoutePermission {
  method: string;
  url: string;
  permission: Permission | "public";
}

declare module "fastify" {
  interface FastifyInstance {
    /** Users, sessions and API tokens. */
    authService: AuthService;
    /** Every route registered after the auth plugin, with its permission. */
    routePermissions(): RoutePermission[];
  }
  interface FastifyRequest {
    /** The credential behind `principal`: its user and, for a session token, the session. */
    authentication?: Authenticated;
  }
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

const auth: FastifyPluginAsync<AuthPluginOptions> = async (app, options) => {
  const service = new AuthService(options.pool, options);
  // Ended sessions go at each login and hourly, so the table holds only live ones; failed
  // attempts older than any limiter's window go hourly too.
  const purge = setInterval(() => {
    service.purgeEndedSessions().catch((err) => app.log.warn({ err }, "ended sessions not purged"));
    purgeFailedAttempts(options.pool).catch((err) => app.log.warn({ err }, "old failed attempts not purged"));
  }, 3_600_000);
  purge.unref();
  app.addHook("onClose", async () => clearInterval(purge));
  await app.register(cookie);
  app.decorate("authService", service);
  app.decorateRequest("principal", undefined);
  app.decorateRequest("authentication", undefined);

  const routes: RoutePermission[] = [];
  const undeclared: string[] = [];
  app.decorate("routePermissions", () => [...routes]);
  app.addHook("onRoute", (route) => {
    if (options.publicPrefixes?.some((prefix) => route.url.startsWith(prefix))) {
      route.config = { ...route.config, permission: "public" };
    }
    const permission = route.config?.permission;
    for (const method of [route.method].flat()) {
      if (permission) routes.push({ method, url: route.url, permission });
      else undeclared.push(`${method} ${route.url}`);
    }
  });
  app.addHook("onReady", async () => {
    if (undeclared.length > 0) {
      throw new Error(`routes without config.permission (every route must declare one): ${undeclared.join(", ")}`);
    }
  });

  app.addHook("onRequest", async (req, reply) => {
    const permission = req.routeOptions.config?.permission;
    // undefined: no route matched; the not-found handler answers 404
    if (permission === undefined || permission === "public") return;
    let authenticated: Authenticated | undefined;
    let byCookie = false;
    const header = req.headers.authorization;
    if (header !== undefined) {
      const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
      authenticated = token ? await service.authenticate(token) : undefined;
      if (!authenticated) {
        reply.header("www-authenticate", 'Bearer realm="steinmetz-hub", error="invalid_token"');
        throw hubError(
          "HUB_ERR_AUTH_REQUIRED",
          "the bearer token is unknown, expired or revoked, or its user is disabled",
        );
      }
    } else {
      const token = req.cookies[SESSION_COOKIE];
      if (token) {
        authenticated = await service.authenticate(token);
        if (!authenticated?.session) {
          reply.clearCookie(SESSION_COOKIE, { path: "/" });
          throw hubError("HUB_ERR_AUTH_REQUIRED", "the session has ended; log in again");
        }
        byCookie = true;
      }
    }
    if (!authenticated) {
      reply.header("www-authenticate", 'Bearer realm="steinmetz-hub"');
      throw hubError("HUB_ERR_AUTH_REQUIRED", "log in (POST /api/v1/auth/login) or send Authorization: Bearer <token>");
    }
    if (byCookie && !SAFE_METHODS.has(req.method)) {
      const given = req.headers["x-csrf-token"];
      if (
        !service.csrfMatches(
          authenticated.session as { csrfToken: string },
          typeof given === "string" ? given : undefined,
        )
      ) {
        throw hubError("HUB_ERR_CSRF", "send the session's csrfToken (from the login) as x-csrf-token");
      }
    }
    req.principal = authenticated.principal;
    req.authentication = authenticated;
    if (!rolesAllow(authenticated.principal.roles, permission)) {
      throw hubError(
        "HUB_ERR_FORBIDDEN",
        `${permission} is not granted to ${authenticated.principal.roles.join(", ") || "no role"}`,
      );
    }
  });

  await app.register(authRoutes, {
    prefix: "/api/v1",
    service,
    ipLimiter:
      options.ipLimiter ??
      new SharedFailureLimiter(options.pool, "login:address", { maxFailures: 20, windowMs: 15 * 60_000 }),
    emailLimiter:
      options.emailLimiter ??
      new SharedFailureLimiter(options.pool, "login:email", { maxFailures: 5, windowMs: 15 * 60_000 }),
    secureCookie: options.secureCookie ?? false,
  });
};

/** The auth plugin: register it first, before any plugin with routes. */
export const authPlugin = fp(auth, { name: "auth" });

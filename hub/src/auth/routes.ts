import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import { hubError } from "../errors.js";
import type { FailureLimiter } from "../platform/failure-limiter.js";
import { ROLE_GRANTS, rolesAllow } from "./permissions.js";
import {
  IdParams,
  IssuedToken,
  LoginBody,
  LoginReply,
  MeReply,
  PasswordBody,
  TokenBody,
  TokenItem,
  UserCreateBody,
  UserItem,
  UserPatchBody,
} from "./schemas.js";
import type { AuthService } from "./service.js";

/** The session cookie. */
export const SESSION_COOKIE = "hub_session";

/** Options of the auth routes. */
export interface AuthRoutesOptions {
  service: AuthService;
  /** Failed logins per client address. */
  ipLimiter: FailureLimiter;
  /** Failed logins (and wrong current passwords) per e-mail. */
  emailLimiter: FailureLimiter;
  /** Mark the cookie Secure (the hub is reached over https, e.g. behind a TLS proxy). */
  secureCookie: boolean;
}

/** The caller's user id, for routes about the caller's own account (sessions and session tokens only). */
function ownUser(req: FastifyRequest, what: string): string {
  const auth = req.authentication;
  if (!auth) throw hubError("HUB_ERR_AUTH_REQUIRED", "log in first");
  if (auth.principal.kind !== "user") throw hubError("HUB_ERR_FORBIDDEN", `an API token cannot ${what}; log in`);
  return auth.userId;
}

/** The version an If-Match header names: `"3"`, `W/"3"` or `3` (428 without, 412 when not a version). */
function ifMatch(req: FastifyRequest): number {
  const header = req.headers["if-match"];
  if (header === undefined) throw hubError("HUB_ERR_PRECONDITION_REQUIRED", "send If-Match with the user's version");
  const m = /^\s*(?:W\/)?"?(\d+)"?\s*$/.exec(header);
  if (!m) throw hubError("HUB_ERR_PRECONDITION_FAILED", `If-Match ${header} names no version`);
  return Number(m[1]);
}

const etag = (reply: FastifyReply, version: number) => reply.header("etag", `"${version}"`);

/**
 * Login, logout, the caller's account (password, API tokens) and user management by admins.
 * Each route declares its permission (`account:self`: any logged-in user).
 */
export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, options) => {
  const { service, ipLimiter, emailLimiter } = options;

  app.post(
    "/auth/login",
    {
      config: { permission: "public" },
      schema: {
        summary: "Log in: sets the hub_session cookie and returns the session token and its CSRF token",
        tags: ["auth"],
        body: LoginBody,
        response: { 200: LoginReply },
      },
    },
    async (req, reply) => {
      const email = req.body.email.trim().toLowerCase();
      const wait = Math.max(...(await Promise.all([ipLimiter.retryAfterS(req.ip), emailLimiter.retryAfterS(email)])));
      if (wait > 0) {
        reply.header("retry-after", String(wait));
        throw hubError("HUB_ERR_RATE_LIMITED", `too many failed logins; retry in ${wait} s`);
      }
      try {
        const result = await service.login(email, req.body.password, {
          ip: req.ip,
          userAgent: req.headers["user-agent"],
        });
        reply.setCookie(SESSION_COOKIE, result.token, {
          path: "/",
          httpOnly: true,
          sameSite: "strict",
          secure: options.secureCookie,
          expires: new Date(result.expiresAt),
        });
        req.log.info({ user: result.user.id, ip: req.ip }, "login");
        return result;
      } catch (err) {
        if ((err as { code?: unknown }).code === "HUB_ERR_AUTH_FAILED") {
          req.log.warn({ ip: req.ip }, "login refused");
          await Promise.all([ipLimiter.failed(req.ip), emailLimiter.failed(email)]).catch((failure) =>
            req.log.error({ err: failure }, "a failed login could not be counted"),
          );
        }
        throw err;
      }
    },
  );

  app.post(
    "/auth/logout",
    {
      config: { permission: "account:self" },
      schema: { summary: "Log out: ends the session (cookie or session token)", tags: ["auth"] },
    },
    async (req, reply) => {
      const session = req.authentication?.session;
      if (session) await service.logout(session.id);
      reply.clearCookie(SESSION_COOKIE, { path: "/" });
      return reply.code(204).send();
    },
  );

  app.get(
    "/auth/me",
    {
      config: { permission: "account:self" },
      schema: {
        summary: "The caller: principal, user and what its roles allow",
        tags: ["auth"],
        response: { 200: MeReply },
      },
    },
    async (req) => {
      const auth = req.authentication;
      if (!auth) throw hubError("HUB_ERR_AUTH_REQUIRED", "log in first");
      return {
        principal: auth.principal,
        user: await service.getUser(auth.userId),
        grants: [...new Set(auth.principal.roles.flatMap((r) => ROLE_GRANTS[r]))],
        csrfToken: auth.session?.csrfToken ?? null,
      };
    },
  );

  app.post(
    "/auth/password",
    {
      config: { permission: "account:self" },
      schema: {
        summary: "Change the own password; ends the user's other sessions",
        tags: ["auth"],
        body: PasswordBody,
      },
    },
    async (req, reply) => {
      const userId = ownUser(req, "change a password");
      const email = req.authentication?.principal.name ?? userId;
      const wait = await emailLimiter.retryAfterS(email);
      if (wait > 0) {
        reply.header("retry-after", String(wait));
        throw hubError("HUB_ERR_RATE_LIMITED", `too many wrong passwords; retry in ${wait} s`);
      }
      try {
        await service.changePassword(
          userId,
          req.body.currentPassword,
          req.body.newPassword,
          req.authentication?.session?.id,
        );
      } catch (err) {
        if ((err as { code?: unknown }).code === "HUB_ERR_AUTH_FAILED") {
          await emailLimiter
            .failed(email)
            .catch((failure) => req.log.error({ err: failure }, "a wrong password could not be counted"));
        }
        throw err;
      }
      return reply.code(204).send();
    },
  );

  app.post(
    "/auth/tokens",
    {
      config: { permission: "account:self" },
      schema: {
        summary: "Issue an API token (roles: a subset of the own); the secret is shown only in this answer",
        tags: ["auth"],
        body: TokenBody,
        response: { 201: IssuedToken },
      },
    },
    async (req, reply) => {
      const userId = ownUser(req, "issue tokens");
      const { name, roles, expiresInDays } = req.body;
      const { token, apiToken } = await service.createApiToken(userId, {
        name,
        roles,
        expiresInMs: expiresInDays ? expiresInDays * 86_400_000 : undefined,
      });
      return reply.code(201).send({ ...apiToken, token });
    },
  );

  app.get(
    "/auth/tokens",
    {
      config: { permission: "account:self" },
      schema: {
        summary: "The own API tokens (without secrets)",
        tags: ["auth"],
        response: { 200: Type.Array(TokenItem) },
      },
    },
    async (req) => {
      const auth = req.authentication;
      if (!auth) throw hubError("HUB_ERR_AUTH_REQUIRED", "log in first");
      return service.listApiTokens(auth.userId);
    },
  );

  app.delete(
    "/auth/tokens/:id",
    {
      config: { permission: "account:self" },
      schema: {
        summary: "Revoke an own API token (admins: any token)",
        tags: ["auth"],
        params: IdParams,
      },
    },
    async (req, reply) => {
      const auth = req.authentication;
      if (!auth) throw hubError("HUB_ERR_AUTH_REQUIRED", "log in first");
      const anyUser = rolesAllow(auth.principal.roles, "users:write");
      await service.revokeApiToken(req.params.id, anyUser ? undefined : auth.userId);
      req.log.info({ token: req.params.id, by: auth.principal.id }, "API token revoked");
      return reply.code(204).send();
    },
  );

  app.get(
    "/users",
    {
      config: { permission: "users:read" },
      schema: { summary: "Every user", tags: ["users"], response: { 200: Type.Array(UserItem) } },
    },
    async () => service.listUsers(),
  );

  app.post(
    "/users",
    {
      config: { permission: "users:write" },
      schema: { summary: "Create a user", tags: ["users"], body: UserCreateBody, response: { 201: UserItem } },
    },
    async (req, reply) => {
      const user = await service.createUser(req.body);
      req.log.info({ user: user.id, roles: user.roles, by: req.principal?.id }, "user created");
      etag(reply, user.version);
      return reply.code(201).send(user);
    },
  );

  app.get(
    "/users/:id",
    {
      config: { permission: "users:read" },
      schema: {
        summary: "One user (ETag: its version)",
        tags: ["users"],
        params: IdParams,
        response: { 200: UserItem },
      },
    },
    async (req, reply) => {
      const user = await service.getUser(req.params.id);
      etag(reply, user.version);
      return user;
    },
  );

  app.patch(
    "/users/:id",
    {
      config: { permission: "users:write" },
      schema: {
        summary: "Change a user (If-Match: its version); disabling or a new password ends its sessions",
        tags: ["users"],
        params: IdParams,
        body: UserPatchBody,
        response: { 200: UserItem },
      },
    },
    async (req, reply) => {
      const user = await service.updateUser(req.params.id, ifMatch(req), req.body);
      req.log.info({ user: user.id, fields: Object.keys(req.body), by: req.principal?.id }, "user changed");
      etag(reply, user.version);
      return user;
    },
  );

  app.delete(
    "/users/:id",
    {
      config: { permission: "users:write" },
      schema: { summary: "Delete a user (If-Match: its version)", tags: ["users"], params: IdParams },
    },
    async (req, reply) => {
      await service.deleteUser(req.params.id, ifMatch(req));
      req.log.info({ user: req.params.id, by: req.principal?.id }, "user deleted");
      return reply.code(204).send();
    },
  );
};

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { Auth } from "./auth.js";
import { SESSION_COOKIE } from "./auth.js";
import type { ConfigControl } from "./deps.js";
import { HttpProblem } from "./problem.js";

const UserSchema = Type.Object({
  username: Type.String(),
  role: Type.Union([Type.Literal("installer"), Type.Literal("viewer")]),
});
const LoggedIn = Type.Object({ user: UserSchema, csrfToken: Type.String() });

/**
 * First-run setup, login, logout, password change and the installer's user management.
 * Setup exists only while no account does: it names the site and creates the first installer.
 */
export const accountRoutes: FastifyPluginAsyncTypebox<{
  auth: Auth;
  config: ConfigControl;
  siteName: () => string;
}> = async (app, { auth, config, siteName }) => {
  app.get(
    "/api/v1/session",
    {
      config: { access: "public" },
      schema: {
        tags: ["account"],
        response: {
          200: Type.Object({
            setupRequired: Type.Boolean(),
            user: Type.Union([UserSchema, Type.Null()]),
            csrfToken: Type.Union([Type.String(), Type.Null()]),
            site: Type.String(),
          }),
        },
      },
    },
    async (req) => ({
      setupRequired: auth.users.empty,
      user: req.session?.user ?? null,
      csrfToken: req.session?.csrfToken ?? null,
      site: siteName(),
    }),
  );

  app.post(
    "/api/v1/setup",
    {
      config: { access: "public", csrfExempt: true },
      schema: {
        tags: ["account"],
        body: Type.Object({
          siteName: Type.String({ minLength: 1, maxLength: 200 }),
          username: Type.String(),
          password: Type.String(),
        }),
        response: { 201: LoggedIn },
      },
    },
    async (req, reply) => {
      const { siteName: name, username, password } = req.body;
      if (!auth.users.empty) throw new HttpProblem("EDGE_ERR_SETUP_DONE", "first-run setup was already done");
      const user = await auth.users.create({ username, role: "installer" }, password, true);
      const { version, config: current } = config.current();
      const document = (current ?? {}) as { site?: { name?: string } };
      await config.apply(
        { ...document, site: { ...document.site, name } },
        { baseVersion: version, author: "setup", comment: "first-run setup" },
      );
      req.log.info({ username }, "first-run setup done");
      const session = auth.login(reply, user);
      return reply.code(201).send({ user, csrfToken: session.csrfToken });
    },
  );

  app.post(
    "/api/v1/login",
    {
      config: { access: "public", csrfExempt: true },
      schema: {
        tags: ["account"],
        body: Type.Object({ username: Type.String({ maxLength: 64 }), password: Type.String({ maxLength: 1024 }) }),
        response: { 200: LoggedIn },
      },
    },
    async (req, reply) => {
      const { username, password } = req.body;
      const wait = auth.limiter.retryAfterS(req.ip, username);
      if (wait > 0) {
        throw new HttpProblem("EDGE_ERR_AUTH_RATE_LIMITED", `too many failed logins; try again in ${wait} s`, {
          retryAfterS: wait,
        });
      }
      const user = await auth.users.verify(username, password);
      if (!user) {
        auth.limiter.failed(req.ip, username);
        req.log.warn({ username, ip: req.ip }, "login failed");
        throw new HttpProblem("EDGE_ERR_AUTH_FAILED", "user name or password is wrong");
      }
      auth.limiter.succeeded(username);
      const session = auth.login(reply, user);
      return { user, csrfToken: session.csrfToken };
    },
  );

  app.post("/api/v1/logout", { config: { access: "viewer" }, schema: { tags: ["account"] } }, async (req, reply) => {
    if (req.sessionToken) auth.sessions.delete(req.sessionToken);
    reply.clearCookie(SESSION_COOKIE, { path: "/" });
    return reply.code(204).send();
  });

  app.post(
    "/api/v1/password",
    {
      config: { access: "viewer" },
      schema: {
        tags: ["account"],
        body: Type.Object({ currentPassword: Type.String({ maxLength: 1024 }), newPassword: Type.String() }),
      },
    },
    async (req, reply) => {
      const { username } = req.session?.user ?? { username: "" };
      if (!(await auth.users.verify(username, req.body.currentPassword))) {
        throw new HttpProblem("EDGE_ERR_AUTH_FAILED", "the current password is wrong", {
          problems: [{ path: "/currentPassword", message: "wrong password" }],
        });
      }
      await auth.users.setPassword(username, req.body.newPassword);
      auth.sessions.endAll(username, req.sessionToken);
      req.log.info({ username }, "password changed");
      return reply.code(204).send();
    },
  );

  app.get("/api/v1/users", { schema: { tags: ["account"], response: { 200: Type.Array(UserSchema) } } }, async () =>
    auth.users.list(),
  );

  app.post(
    "/api/v1/users",
    {
      schema: {
        tags: ["account"],
        body: Type.Object({ username: Type.String(), password: Type.String(), role: UserSchema.properties.role }),
        response: { 201: UserSchema },
      },
    },
    async (req, reply) => {
      const user = await auth.users.create({ username: req.body.username, role: req.body.role }, req.body.password);
      req.log.info({ username: user.username, role: user.role, by: req.session?.user.username }, "user created");
      return reply.code(201).send(user);
    },
  );

  app.delete(
    "/api/v1/users/:username",
    { schema: { tags: ["account"], params: Type.Object({ username: Type.String() }) } },
    async (req, reply) => {
      auth.users.delete(req.params.username);
      auth.sessions.endAll(req.params.username);
      req.log.info({ username: req.params.username, by: req.session?.user.username }, "user deleted");
      return reply.code(204).send();
    },
  );
};

/**
 * Authentication and authorisation of the hub's HTTP API against a real PostgreSQL: every route ×
 * every role gets exactly what the role table says, and the login, session, CSRF, token and user
 * management rules hold.
 */
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Fastify from "fastify";
import pino from "pino";
import t from "tap";
import { authPlugin, rolesAllow } from "../src/auth/index.js";
import { migrate } from "../src/db/migrate.js";
import { openPool } from "../src/db/pool.js";
import { buildHubHttp } from "../src/http.js";
import { createHubMetrics } from "../src/metrics.js";
import { purgeFailedAttempts, SharedFailureLimiter } from "../src/platform/failure-limiter.js";
import { type Permission, ROLES, type Role } from "../src/platform/principal.js";
import { startTestPostgres } from "./fixtures/postgres.js";

const log = pino({ level: process.env.LOG_LEVEL ?? "silent" });
const dataDir = mkdtempSync(join(tmpdir(), "hub-auth-"));
chmodSync(dataDir, 0o755);
const db = await startTestPostgres(join(dataDir, "db"), log);
t.teardown(() => db.stop());
const pool = openPool({ connectionString: db.url, max: 5 }, log);
t.teardown(() => pool.end());
await migrate(pool, log);

let clock = Date.parse("2030-01-01T00:00:00Z");
const app = await buildHubHttp({
  pool,
  log,
  metrics: createHubMetrics(),
  version: "test",
  pkiDir: join(dataDir, "pki"),
  auth: { now: () => clock },
});
await app.ready();
t.teardown(() => app.close());
const service = app.authService;

const PASSWORD = "correct horse battery";
const users = {} as Record<Role, { id: string; email: string; session: string }>;
for (const role of ROLES) {
  const email = `${role}@example.com`;
  const user = await service.createUser({ email, roles: [role], password: PASSWORD, displayName: role });
  users[role] = { id: user.id, email, session: (await service.login(email, PASSWORD)).token };
}

type Injected = Awaited<ReturnType<typeof app.inject>>;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const code = (res: Injected) => (res.json() as { code?: string }).code;
const login = (email: string, password: string, remoteAddress = "10.0.0.1") =>
  app.inject({ method: "POST", url: "/api/v1/auth/login", payload: { email, password }, remoteAddress });

t.test("the role table", async (t) => {
  const p = (x: string) => x as Permission;
  for (const perm of ["users:write", "audit:read", "dlq:redrive", "billing:write", "anything:new"]) {
    t.ok(rolesAllow(["admin"], p(perm)), `admin: ${perm}`);
  }
  const readers = ROLES.filter((r) => rolesAllow([r], p("audit:read")));
  t.same(readers, ["admin", "auditor"], "only admin and auditor read the audit trail");
  for (const perm of ["customers:write", "billing:write", "users:write", "tickets:write", "dlq:redrive"]) {
    t.notOk(rolesAllow(["auditor"], p(perm)), `auditor never writes: ${perm}`);
  }
  t.ok(rolesAllow(["auditor"], p("customers:read")) && rolesAllow(["auditor"], p("users:read")));
  t.ok(rolesAllow(["office"], p("customers:write")) && !rolesAllow(["office"], p("billing:write")));
  t.ok(rolesAllow(["office"], p("billing:read")));
  t.ok(rolesAllow(["accountant"], p("billing:write")) && !rolesAllow(["accountant"], p("customers:write")));
  t.ok(rolesAllow(["analyst"], p("telemetry:read")) && rolesAllow(["analyst"], p("warehouse:read")));
  t.notOk(rolesAllow(["analyst"], p("customers:read")));
  t.ok(rolesAllow(["technician"], p("tickets:write")) && !rolesAllow(["technician"], p("users:read")));
  t.ok(rolesAllow(["project_manager"], p("projects:write")) && !rolesAllow(["project_manager"], p("billing:write")));
  for (const role of ROLES) t.ok(rolesAllow([role], p("account:self")), `${role}: own account`);
  for (const role of ROLES.filter((r) => r !== "admin")) {
    t.notOk(rolesAllow([role], p("users:write")), `${role} does not manage users`);
  }
});

t.test("every route × every role: 401 without credentials, 403 exactly where the table says", async (t) => {
  const routes = app.routePermissions().filter((r) => r.method !== "HEAD" && r.method !== "OPTIONS");
  t.ok(routes.length >= 20, `${routes.length} routes`);
  t.ok(routes.some((r) => r.url === "/api/v1/readings" && r.permission === "telemetry:read"));
  t.ok(routes.some((r) => r.url === "/api/v1/pki/enroll" && r.permission === "public"));
  const url = (path: string) =>
    path
      .replace(/:id\b/g, "00000000-0000-4000-8000-000000000000")
      .replace(/:edgeId\b/g, "e1")
      .replace(/:[A-Za-z]+/g, "1")
      .replace("*", "x");
  const call = (route: (typeof routes)[number], headers: Record<string, string>) =>
    app.inject({
      method: route.method as "GET",
      url: url(route.url),
      headers,
      ...(["POST", "PUT", "PATCH"].includes(route.method) ? { payload: {} } : {}),
      remoteAddress: "10.9.9.9",
    });
  for (const route of routes) {
    const name = `${route.method} ${route.url} (${route.permission})`;
    const anonymous = await call(route, {});
    if (route.permission === "public") t.not(anonymous.statusCode, 401, `${name}: anonymous allowed`);
    else {
      t.equal(anonymous.statusCode, 401, `${name}: anonymous refused`);
      t.equal(code(anonymous), "HUB_ERR_AUTH_REQUIRED");
    }
    for (const role of ROLES) {
      // logout ends the session it is called with: give it one of its own
      const token = route.url.endsWith("/auth/logout")
        ? (await service.login(users[role].email, PASSWORD)).token
        : users[role].session;
      const res = await call(route, bearer(token));
      const allowed = route.permission === "public" || rolesAllow([role], route.permission);
      if (allowed) t.notOk([401, 403].includes(res.statusCode), `${name}: ${role} allowed (${res.statusCode})`);
      else t.equal(code(res), "HUB_ERR_FORBIDDEN", `${name}: ${role} refused`);
    }
  }
});

t.test("login: wrong password and unknown user 401, cookie attributes, problem+json", async (t) => {
  const wrong = await login("office@example.com", "not the password", "10.0.1.1");
  t.equal(wrong.statusCode, 401);
  t.match(wrong.headers["content-type"], /^application\/problem\+json/);
  t.equal(code(wrong), "HUB_ERR_AUTH_FAILED");
  t.equal(code(await login("nobody@example.com", PASSWORD, "10.0.1.1")), "HUB_ERR_AUTH_FAILED");
  const ok = await login("Office@Example.com", PASSWORD, "10.0.1.1");
  t.equal(ok.statusCode, 200);
  const body = ok.json();
  t.match(body, { token: /^hubs_/, csrfToken: /.{20,}/, user: { email: "office@example.com", roles: ["office"] } });
  t.notOk("passwordHash" in body.user);
  const cookie = String(ok.headers["set-cookie"]);
  t.match(cookie, `hub_session=${body.token}`);
  t.match(cookie, /HttpOnly/);
  t.match(cookie, /SameSite=Strict/);
  t.notMatch(cookie, /Secure/, "not Secure unless configured");
  const form = await app.inject({
    method: "POST",
    url: "/api/v1/auth/login",
    headers: { "content-type": "text/plain" },
    payload: `email=office@example.com&password=${PASSWORD}`,
  });
  t.equal(form.statusCode, 400, "a cross-site form post cannot log in");
});

t.test("login is rate limited per e-mail and per address: 429 with Retry-After", async (t) => {
  for (let i = 0; i < 5; i++)
    t.equal((await login("analyst@example.com", "wrong password!", "10.0.2.1")).statusCode, 401);
  const limited = await login("analyst@example.com", PASSWORD, "10.0.2.2");
  t.equal(limited.statusCode, 429, "even the right password waits");
  t.equal(code(limited), "HUB_ERR_RATE_LIMITED");
  t.ok(Number(limited.headers["retry-after"]) > 0);
  for (let i = 0; i < 20; i++) await login(`x${i}@example.com`, "wrong password!", "10.0.3.1");
  t.equal((await login("technician@example.com", PASSWORD, "10.0.3.1")).statusCode, 429, "per address");
  t.equal((await login("technician@example.com", PASSWORD, "10.0.3.2")).statusCode, 200, "another address");
});

t.test("failed logins count at every hub process on the database, stored hashed", async (t) => {
  const otherPool = openPool({ connectionString: db.url, max: 2 }, log);
  t.teardown(() => otherPool.end());
  const other = await buildHubHttp({
    pool: otherPool,
    log,
    metrics: createHubMetrics(),
    version: "test",
    pkiDir: join(dataDir, "pki"),
  });
  t.teardown(() => other.close());
  const email = "accountant@example.com";
  for (let i = 0; i < 5; i++) {
    const via = i % 2 === 0 ? app : other;
    const res = await via.inject({
      method: "POST",
      url: "/api/v1/auth/login",
      payload: { email, password: "wrong password!" },
      remoteAddress: `10.0.7.${i}`,
    });
    t.equal(res.statusCode, 401);
  }
  for (const [name, via] of [
    ["this process", app],
    ["the other process", other],
  ] as const) {
    const res = await via.inject({
      method: "POST",
      url: "/api/v1/auth/login",
      payload: { email, password: PASSWORD },
      remoteAddress: "10.0.7.9",
    });
    t.equal(res.statusCode, 429, `${name} refuses the e-mail that failed 5 times across both`);
  }
  const { rows } = await pool.query<{ n: number; plain: number }>(
    `SELECT count(*)::int n, count(*) FILTER (WHERE position(convert_to($1, 'UTF8') IN key_hash) > 0)::int plain
     FROM auth.failed_attempts WHERE scope = 'login:email' AND key_hash = sha256(convert_to($1, 'UTF8'))`,
    [email],
  );
  t.same(rows[0], { n: 5, plain: 0 }, "five failures under the e-mail's SHA-256, not the e-mail");
});

t.test("SharedFailureLimiter: a sliding window per scope and key, on the database's clock; purged", async (t) => {
  const limiter = new SharedFailureLimiter(pool, "test:window", { maxFailures: 2, windowMs: 1500 });
  const other = new SharedFailureLimiter(pool, "test:other", { maxFailures: 2, windowMs: 1500 });
  await limiter.failed("a");
  t.equal(await limiter.retryAfterS("a"), 0, "one failure of two allowed");
  await limiter.failed("a");
  const wait = await limiter.retryAfterS("a");
  t.ok(wait >= 1 && wait <= 2, `the first failure leaves the window within 2 s (${wait})`);
  t.equal(await limiter.retryAfterS("b"), 0, "another key");
  t.equal(await other.retryAfterS("a"), 0, "another scope");
  await sleep(1600);
  t.equal(await limiter.retryAfterS("a"), 0, "both left the window");
  t.ok((await purgeFailedAttempts(pool, 1000)) >= 2, "failures older than a second purged");
  const { rows } = await pool.query("SELECT 1 FROM auth.failed_attempts WHERE scope = 'test:window'");
  t.equal(rows.length, 0);
  t.throws(
    () => new SharedFailureLimiter(pool, "test:long", { maxFailures: 1, windowMs: 2 * 3_600_000 }),
    RangeError,
    "a window longer than failures are kept is refused",
  );
});

t.test("cookie sessions need the CSRF token on unsafe requests; bearer requests do not", async (t) => {
  const { token, csrfToken } = (await login("project_manager@example.com", PASSWORD, "10.0.4.1")).json();
  const cookies = { hub_session: token };
  t.equal(
    (await app.inject({ method: "GET", url: "/api/v1/auth/me", cookies })).statusCode,
    200,
    "safe: no token needed",
  );
  const payload = { name: "ci" };
  const missing = await app.inject({ method: "POST", url: "/api/v1/auth/tokens", cookies, payload });
  t.equal(missing.statusCode, 403);
  t.equal(code(missing), "HUB_ERR_CSRF");
  const forged = await app.inject({
    method: "POST",
    url: "/api/v1/auth/tokens",
    cookies,
    payload,
    headers: { "x-csrf-token": "guess" },
  });
  t.equal(code(forged), "HUB_ERR_CSRF");
  const withToken = await app.inject({
    method: "POST",
    url: "/api/v1/auth/tokens",
    cookies,
    payload,
    headers: { "x-csrf-token": csrfToken },
  });
  t.equal(withToken.statusCode, 201);
  const byBearer = await app.inject({ method: "POST", url: "/api/v1/auth/tokens", headers: bearer(token), payload });
  t.equal(byBearer.statusCode, 201, "the session token as Bearer needs no CSRF token");
  const logout = await app.inject({
    method: "POST",
    url: "/api/v1/auth/logout",
    cookies,
    headers: { "x-csrf-token": csrfToken },
  });
  t.equal(logout.statusCode, 204);
  t.match(String(logout.headers["set-cookie"]), /hub_session=;/);
  t.equal((await app.inject({ method: "GET", url: "/api/v1/auth/me", cookies })).statusCode, 401, "logged out");
});

t.test("API tokens: roles within the user's, usable as Bearer, revocable", async (t) => {
  const admin = bearer(users.admin.session);
  const over = await app.inject({
    method: "POST",
    url: "/api/v1/auth/tokens",
    headers: bearer(users.analyst.session),
    payload: { name: "too much", roles: ["admin"] },
  });
  t.equal(over.statusCode, 403, "a token cannot have roles its user lacks");
  t.equal(
    (
      await app.inject({
        method: "POST",
        url: "/api/v1/auth/tokens",
        headers: admin,
        payload: { name: "not mine", roles: ["analyst"] },
      })
    ).statusCode,
    403,
    "not even an admin's: roles, not permissions, are the bound",
  );
  await service.createUser({ email: "ops@example.com", roles: ["admin", "analyst"], password: PASSWORD });
  const issued = await app.inject({
    method: "POST",
    url: "/api/v1/auth/tokens",
    headers: bearer((await service.login("ops@example.com", PASSWORD)).token),
    payload: { name: "grafana", roles: ["analyst"], expiresInDays: 30 },
  });
  t.equal(issued.statusCode, 201);
  const { token, id } = issued.json();
  t.match(token, /^hubt_/);
  const readings = await app.inject({ method: "GET", url: "/api/v1/readings", headers: bearer(token) });
  t.equal(readings.statusCode, 200, "analyst token reads telemetry");
  const usersList = await app.inject({ method: "GET", url: "/api/v1/users", headers: bearer(token) });
  t.equal(usersList.statusCode, 403, "but not users, although its user is an admin");
  const me = (await app.inject({ method: "GET", url: "/api/v1/auth/me", headers: bearer(token) })).json();
  t.match(me, { principal: { id: `token:${id}`, kind: "token", name: "grafana", roles: ["analyst"] } });
  const own = await app.inject({
    method: "POST",
    url: "/api/v1/auth/tokens",
    headers: bearer(token),
    payload: { name: "x" },
  });
  t.equal(own.statusCode, 403, "a token cannot issue tokens");
  const ops = bearer((await service.login("ops@example.com", PASSWORD)).token);
  const listed = (await app.inject({ method: "GET", url: "/api/v1/auth/tokens", headers: ops })).json();
  t.ok(
    listed.some((x: { id: string; token?: string }) => x.id === id && x.token === undefined),
    "listed without secret",
  );
  const notMine = await app.inject({
    method: "DELETE",
    url: `/api/v1/auth/tokens/${id}`,
    headers: bearer(users.office.session),
  });
  t.equal(notMine.statusCode, 404, "another user's token is not found");
  t.equal((await app.inject({ method: "DELETE", url: `/api/v1/auth/tokens/${id}`, headers: ops })).statusCode, 204);
  const revoked = await app.inject({ method: "GET", url: "/api/v1/readings", headers: bearer(token) });
  t.equal(revoked.statusCode, 401);
  t.equal(code(revoked), "HUB_ERR_AUTH_REQUIRED");
  t.match(revoked.headers["www-authenticate"], /Bearer/);
  t.equal(
    (await app.inject({ method: "GET", url: "/api/v1/readings", headers: bearer("hubt_garbage") })).statusCode,
    401,
  );
  t.equal(
    (await app.inject({ method: "GET", url: "/api/v1/readings", headers: { authorization: "Basic x" } })).statusCode,
    401,
  );
});

t.test("sessions end after the idle timeout and at their absolute expiry", async (t) => {
  const session = (await service.login("accountant@example.com", PASSWORD)).token;
  const me = () => app.inject({ method: "GET", url: "/api/v1/auth/me", headers: bearer(session) });
  t.equal((await me()).statusCode, 200);
  clock += 11 * 3_600_000;
  t.equal((await me()).statusCode, 200, "11 h idle: still on (and seen now)");
  clock += 11 * 3_600_000;
  t.equal((await me()).statusCode, 200, "another 11 h");
  clock += 12 * 3_600_000 + 1000;
  t.equal((await me()).statusCode, 401, "12 h idle: ended");
  const long = (await service.login("accountant@example.com", PASSWORD)).token;
  for (let day = 0; day < 7; day++) {
    clock += 10 * 3_600_000;
    await app.inject({ method: "GET", url: "/api/v1/auth/me", headers: bearer(long) });
    clock += 10 * 3_600_000;
  }
  t.equal(
    (await app.inject({ method: "GET", url: "/api/v1/auth/me", headers: bearer(long) })).statusCode,
    401,
    "7 days: ended",
  );
  const sessions = async () => Number((await pool.query("SELECT count(*) AS n FROM auth.sessions")).rows[0].n);
  const before = await sessions();
  clock += 12 * 3_600_000 + 1000;
  t.equal(await service.purgeEndedSessions(), before, "the hourly purge deletes every ended session");
  t.equal(await sessions(), 0);
  // the role sessions of the matrix were made at the old clock: renew them
  for (const role of ROLES) users[role].session = (await service.login(users[role].email, PASSWORD)).token;
});

t.test("password change: current password checked, other sessions end", async (t) => {
  const email = "technician@example.com";
  const a = (await service.login(email, PASSWORD)).token;
  const b = (await service.login(email, PASSWORD)).token;
  const change = (current: string, next: string) =>
    app.inject({
      method: "POST",
      url: "/api/v1/auth/password",
      headers: bearer(a),
      payload: { currentPassword: current, newPassword: next },
    });
  t.equal(code(await change("wrong password!", "a brand new password")), "HUB_ERR_AUTH_FAILED");
  t.equal((await change(PASSWORD, "short")).statusCode, 400);
  t.equal((await change(PASSWORD, "a brand new password")).statusCode, 204);
  t.equal(
    (await app.inject({ method: "GET", url: "/api/v1/auth/me", headers: bearer(a) })).statusCode,
    200,
    "this one stays",
  );
  t.equal(
    (await app.inject({ method: "GET", url: "/api/v1/auth/me", headers: bearer(b) })).statusCode,
    401,
    "others end",
  );
  t.equal((await login(email, "a brand new password", "10.0.5.1")).statusCode, 200);
  users.technician.session = (await service.login(email, "a brand new password")).token;
});

t.test("user management by admins: create, If-Match, disable, last admin", async (t) => {
  const admin = bearer(users.admin.session);
  const created = await app.inject({
    method: "POST",
    url: "/api/v1/users",
    headers: admin,
    payload: { email: "Eve@Example.com", displayName: "Eve", roles: ["office"], password: "eve's long password" },
  });
  t.equal(created.statusCode, 201);
  const eve = created.json();
  t.match(eve, { email: "eve@example.com", roles: ["office"], version: 1, disabled: false });
  t.equal(created.headers.etag, '"1"');
  const dup = await app.inject({
    method: "POST",
    url: "/api/v1/users",
    headers: admin,
    payload: { email: "eve@example.com", roles: ["office"], password: "eve's long password" },
  });
  t.equal(code(dup), "HUB_ERR_USER_EXISTS");
  const weak = await app.inject({
    method: "POST",
    url: "/api/v1/users",
    headers: admin,
    payload: { email: "x@example.com", roles: ["office"], password: "short" },
  });
  t.equal(weak.statusCode, 400);
  const eveSession = (await login("eve@example.com", "eve's long password", "10.0.6.1")).json().token;
  const eveToken = (await service.createApiToken(eve.id, { name: "eve-script" })).token;
  const patch = (headers: Record<string, string>, payload: object) =>
    app.inject({ method: "PATCH", url: `/api/v1/users/${eve.id}`, headers: { ...admin, ...headers }, payload });
  t.equal((await patch({}, { displayName: "Eve E." })).statusCode, 428, "If-Match required");
  const renamed = await patch({ "if-match": '"1"' }, { displayName: "Eve E." });
  t.equal(renamed.statusCode, 200);
  t.equal(renamed.headers.etag, '"2"');
  const stale = await patch({ "if-match": '"1"' }, { roles: ["admin"] });
  t.equal(stale.statusCode, 412, "stale version never overwrites");
  t.same((await service.getUser(eve.id)).roles, ["office"]);
  t.equal((await patch({ "if-match": '"2"' }, { disabled: true })).statusCode, 200);
  t.equal(
    (await app.inject({ method: "GET", url: "/api/v1/auth/me", headers: bearer(eveSession) })).statusCode,
    401,
    "disabled: session ends",
  );
  t.equal(
    (await app.inject({ method: "GET", url: "/api/v1/auth/me", headers: bearer(eveToken) })).statusCode,
    401,
    "disabled: token refused",
  );
  t.equal(
    code(await login("eve@example.com", "eve's long password", "10.0.6.1")),
    "HUB_ERR_AUTH_FAILED",
    "disabled: no login",
  );
  const del = await app.inject({
    method: "DELETE",
    url: `/api/v1/users/${eve.id}`,
    headers: { ...admin, "if-match": '"3"' },
  });
  t.equal(del.statusCode, 204);
  t.equal((await app.inject({ method: "GET", url: `/api/v1/users/${eve.id}`, headers: admin })).statusCode, 404);
  const ops = (await service.listUsers()).find((u) => u.email === "ops@example.com");
  if (ops) await service.deleteUser(ops.id, ops.version);
  const lastAdmin = await app.inject({
    method: "PATCH",
    url: `/api/v1/users/${users.admin.id}`,
    headers: { ...admin, "if-match": '"1"' },
    payload: { roles: ["office"] },
  });
  t.equal(code(lastAdmin), "HUB_ERR_LAST_ADMIN");
});

t.test("a route without a permission keeps the app from starting", async (t) => {
  const bare = Fastify();
  await bare.register(authPlugin, { pool });
  bare.get("/forgotten", async () => "x");
  bare.post("/declared", { config: { permission: "public" } }, async () => "y");
  await t.rejects(async () => {
    await bare.ready();
  }, /routes without config\.permission.*GET \/forgotten/);
});

t.test("the cookie is Secure when configured (hub behind https)", async (t) => {
  const secure = Fastify();
  await secure.register(authPlugin, { pool, secureCookie: true });
  t.teardown(() => secure.close());
  const res = await secure.inject({
    method: "POST",
    url: "/api/v1/auth/login",
    payload: { email: "auditor@example.com", password: PASSWORD },
  });
  t.match(String(res.headers["set-cookie"]), /Secure/);
});

/**
 * The installer API of a real edge agent (HTTP on 127.0.0.1) against the Modbus simulator: first-run
 * setup, login and its rate limit, CSRF, roles, the add-device wizard's scan and test read, saving,
 * validation, conflicts, rollback, export/import, the live stream and certificate upload.
 */
import { join } from "node:path";
import { startEdgeAgent } from "@steinmetz/edge";
import { startSunSpecInverterSim } from "@steinmetz/sim";
import t from "tap";
import { EdgeClient } from "../support/edge-client.js";
import { log, tempDir, waitFor } from "../support/harness.js";

type Problem = { code: string; status: number; problems?: { path: string; message: string }[]; retryAfterS?: number };
type Config = {
  site: { name: string };
  connections: Record<string, unknown>[];
  devices: Record<string, unknown>[];
};

const sim = await startSunSpecInverterSim({ speed: 600, meter: true });
t.teardown(() => sim.close());
const dir = tempDir("edge-api");
const edge = await startEdgeAgent({
  configFile: join(dir, "site.yaml"), // does not exist: a fresh appliance
  dataDir: dir,
  hubUrl: undefined,
  insecureDev: true,
  httpPort: 0,
  log,
});
t.teardown(() => edge.close());
const installer = new EdgeClient(edge.httpUrl);
const PASSWORD = "correct horse battery";

/** Reads the live stream until `count` snapshots arrived. */
async function snapshots(client: EdgeClient, count: number): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${client.baseUrl}/api/v1/live`, {
    headers: { cookie: (client as unknown as { cookie: string }).cookie },
    signal: AbortSignal.timeout(15_000),
  });
  if (res.status !== 200 || !res.body) throw new Error(`live: ${res.status}`);
  const decoder = new TextDecoder();
  const found: Record<string, unknown>[] = [];
  let text = "";
  for await (const chunk of res.body) {
    text += decoder.decode(chunk, { stream: true });
    for (let end = text.indexOf("\n\n"); end >= 0; end = text.indexOf("\n\n")) {
      const event = text.slice(0, end);
      text = text.slice(end + 2);
      const data = /^data: (.*)$/m.exec(event)?.[1];
      if (/^event: snapshot$/m.test(event) && data) found.push(JSON.parse(data));
    }
    if (found.length >= count) break;
  }
  await res.body.cancel().catch(() => {});
  return found;
}

t.test("a fresh appliance asks for setup and nothing else is open", async (t) => {
  const session = await installer.call("GET", "/api/v1/session");
  t.match(session.body, { setupRequired: true, user: null });
  const status = await installer.call<Problem>("GET", "/api/v1/status");
  t.equal(status.status, 401);
  t.equal(status.headers.get("content-type"), "application/problem+json; charset=utf-8");
  t.equal(status.body.code, "EDGE_ERR_AUTH_REQUIRED");
  t.equal((await installer.call<Problem>("GET", "/api/v1/config")).status, 401);
  t.equal((await installer.call("GET", "/livez")).status, 200, "probes stay public");

  const short = await installer.call<Problem>("POST", "/api/v1/setup", {
    siteName: "Roof",
    username: "anna",
    password: "short",
  });
  t.equal(short.status, 400);
  t.same(
    short.body.problems?.map((p) => p.path),
    ["/password"],
  );
  const done = await installer.call("POST", "/api/v1/setup", {
    siteName: "Hof Berger",
    username: "anna",
    password: PASSWORD,
  });
  t.equal(done.status, 201);
  t.match(done.headers.get("set-cookie"), /edge_session=.+; Path=\/; HttpOnly; SameSite=Strict/);
  t.match(done.body, { user: { username: "anna", role: "installer" } });
  const again = await new EdgeClient(edge.httpUrl).call<Problem>("POST", "/api/v1/setup", {
    siteName: "Evil",
    username: "mallory",
    password: PASSWORD,
  });
  t.equal(again.status, 409);
  t.equal(again.body.code, "EDGE_ERR_SETUP_DONE");
  const config = await installer.call<{ version: number; config: Config }>("GET", "/api/v1/config");
  t.equal(config.body.config.site.name, "Hof Berger");
  t.equal(config.headers.get("etag"), `"${config.body.version}"`);
});

t.test("unsafe requests need the session's CSRF token", async (t) => {
  const current = await installer.call<{ version: number; config: Config }>("GET", "/api/v1/config");
  const body = { config: current.body.config };
  const etag = { "if-match": `"${current.body.version}"` };
  const noToken = await installer.call<Problem>("PUT", "/api/v1/config", body, { ...etag, "x-csrf-token": "" });
  t.equal(noToken.status, 403);
  t.equal(noToken.body.code, "EDGE_ERR_CSRF");
  const wrong = await installer.call<Problem>("PUT", "/api/v1/config", body, { ...etag, "x-csrf-token": "nope" });
  t.equal(wrong.body.code, "EDGE_ERR_CSRF");
  const formLogin = await fetch(`${edge.httpUrl}/api/v1/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "username=anna&password=x",
  });
  t.equal(formLogin.status, 403, "a cross-site form cannot log in");
});

t.test("the wizard scans the bus, test-reads with the suggested profile and saves", async (t) => {
  const scan = await installer.call<{
    units: {
      unitId: number;
      answers: boolean;
      sunspec: { devices: { class: string; suggestedProfile: string; serialNumber: string }[] } | null;
    }[];
  }>("POST", "/api/v1/scan", { transport: { type: "tcp", host: sim.host, port: sim.port }, unitIds: [1, 2] });
  t.equal(scan.status, 200);
  const unit = scan.body.units.find((u) => u.unitId === sim.unitId);
  t.same(
    unit?.sunspec?.devices.map((d) => d.class),
    ["inverter", "meter"],
  );
  t.equal(scan.body.units.find((u) => u.unitId === 2)?.answers, false, "a silent unit id is reported as silent");
  const [inverter, meter] = unit?.sunspec?.devices ?? [];

  const profiles = await installer.call<{ ref: string }[]>("GET", "/api/v1/profiles?q=sunspec meter");
  t.ok(
    profiles.body.some((p) => p.ref === meter?.suggestedProfile),
    "the suggested profile is in the library",
  );
  t.ok(
    profiles.body.every((p) => p.ref.includes("meter")),
    "search narrows the library",
  );

  const read = await installer.call<{ values: { point: string; value: number; unit: string; quality: string }[] }>(
    "POST",
    "/api/v1/test-read",
    {
      connection: { type: "tcp", host: sim.host, port: sim.port },
      unitId: sim.unitId,
      profile: inverter?.suggestedProfile,
    },
  );
  t.equal(read.status, 200);
  const power = read.body.values.find((v) => v.point === "active_power");
  t.match(power, { unit: "W", quality: "good" });
  t.type(power?.value, "number");

  const wrongUnit = await installer.call<Problem>("POST", "/api/v1/test-read", {
    connection: { type: "tcp", host: sim.host, port: sim.port },
    unitId: 7,
    profile: inverter?.suggestedProfile,
  });
  t.equal(wrongUnit.status, 502);
  t.equal(wrongUnit.body.code, "EDGE_ERR_SUNSPEC_NOT_FOUND", "nothing answers at a wrong unit id");
  t.match((wrongUnit.body as unknown as { detail: string }).detail, /unit 7.*wrong unit id/);

  const current = await installer.call<{ version: number; config: Config }>("GET", "/api/v1/config");
  const config: Config = {
    ...current.body.config,
    connections: [{ id: "lan", type: "tcp", host: sim.host, port: sim.port }],
    devices: [
      {
        id: "inverter-1",
        connection: "lan",
        unitId: sim.unitId,
        profile: inverter?.suggestedProfile,
        pollIntervalMs: 500,
      },
      {
        id: "grid-meter",
        connection: "lan",
        unitId: sim.unitId,
        profile: meter?.suggestedProfile,
        pollIntervalMs: 500,
      },
    ],
  };
  const saved = await installer.call<{ version: number; applied: { added: string[] } }>(
    "PUT",
    "/api/v1/config",
    { config, comment: "commissioning" },
    { "if-match": `"${current.body.version}"` },
  );
  t.equal(saved.status, 200);
  t.same(saved.body.applied.added.sort(), ["grid-meter", "inverter-1"]);
  await waitFor("both devices ok", () => edge.status().devices.every((d) => d.state.status === "ok"), 15_000);

  const [first, , third] = await snapshots(installer, 3);
  const flow = (s: Record<string, unknown> | undefined) => s?.flow as Record<string, number | null>;
  t.type(flow(third).pvW, "number", "PV power in the power flow");
  t.type(flow(third).gridW, "number", "grid power in the power flow");
  t.equal(flow(third).houseW, (flow(third).pvW as number) + (flow(third).gridW as number));
  type Snapshot = { devices: { id: string; values: { point: string; ts: number }[] }[] };
  const values = (s: Record<string, unknown> | undefined) =>
    (s as Snapshot | undefined)?.devices
      .find((d) => d.id === "inverter-1")
      ?.values.find((v) => v.point === "active_power")?.ts;
  t.ok((values(third) ?? 0) > (values(first) ?? 0), "live values move on");

  const rollups = await installer.call<{ rows: { t: number; count: number; avg: number }[] }>(
    "GET",
    `/api/v1/rollups?device=inverter-1&point=active_power&period=1m&from=0&to=${Date.now() + 60_000}`,
  );
  t.equal(rollups.status, 200);
  t.ok(rollups.body.rows.length > 0 && (rollups.body.rows[0]?.count ?? 0) > 0, "1-minute rollups for the charts");
  const badPeriod = await installer.call<Problem>("GET", "/api/v1/rollups?device=inverter-1&point=x&period=5m");
  t.equal(badPeriod.status, 400);
  t.equal(badPeriod.body.code, "EDGE_ERR_REQUEST_INVALID");
});

t.test("an invalid or stale change is refused and changes nothing", async (t) => {
  const current = await installer.call<{ version: number; config: Config }>("GET", "/api/v1/config");
  const broken = structuredClone(current.body.config);
  (broken.devices[0] as { pollIntervalMs: number }).pollIntervalMs = 5;
  const invalid = await installer.call<Problem>(
    "PUT",
    "/api/v1/config",
    { config: broken },
    { "if-match": `"${current.body.version}"` },
  );
  t.equal(invalid.status, 400);
  t.equal(invalid.body.code, "EDGE_ERR_CONFIG_INVALID");
  t.match(invalid.body.problems, [{ path: "/devices/0/pollIntervalMs" }]);
  const stale = await installer.call<Problem>(
    "PUT",
    "/api/v1/config",
    { config: current.body.config },
    { "if-match": `"${current.body.version - 1}"` },
  );
  t.equal(stale.status, 412);
  t.equal(stale.body.code, "EDGE_ERR_CONFIG_CONFLICT");
  const missing = await installer.call<Problem>("PUT", "/api/v1/config", { config: current.body.config });
  t.equal(missing.status, 428);
  const after = await installer.call<{ version: number; config: Config }>("GET", "/api/v1/config");
  t.same(after.body, current.body, "configuration unchanged");
});

t.test("rollback, export and import", async (t) => {
  const before = await installer.call<{ version: number; config: Config }>("GET", "/api/v1/config");
  const renamed = { ...before.body.config, site: { name: "Hof Berger (Scheune)" } };
  const saved = await installer.call<{ version: number }>(
    "PUT",
    "/api/v1/config",
    { config: renamed },
    { "if-match": `"${before.body.version}"` },
  );
  t.equal(saved.body.version, before.body.version + 1);
  const versions = await installer.call<{ version: number; author: string }[]>("GET", "/api/v1/config/versions");
  t.match(versions.body[0], { version: saved.body.version, author: "anna" });
  const back = await installer.call<{ version: number }>(
    "POST",
    `/api/v1/config/versions/${before.body.version}/rollback`,
    {},
  );
  t.equal(back.status, 200);
  const now = await installer.call<{ version: number; config: Config }>("GET", "/api/v1/config");
  t.same(now.body.config, before.body.config, "the earlier configuration is back");
  t.equal(now.body.version, saved.body.version + 1, "as a new version");

  const exported = await installer.call<string>("GET", "/api/v1/config/export");
  t.match(exported.headers.get("content-type"), /^text\/yaml/);
  t.match(exported.body, /name: Hof Berger\n/);
  const garbage = await installer.call<Problem>(
    "POST",
    "/api/v1/config/import",
    { yaml: "site: [unclosed" },
    { "if-match": `"${now.body.version}"` },
  );
  t.equal(garbage.status, 400);
  t.equal(garbage.body.code, "EDGE_ERR_CONFIG_INVALID");
  const imported = await installer.call<{ version: number }>(
    "POST",
    "/api/v1/config/import",
    { yaml: exported.body.replace("Hof Berger", "Hof Berger (import)") },
    { "if-match": `"${now.body.version}"` },
  );
  t.equal(imported.status, 200);
  t.equal((await installer.call<{ site: string }>("GET", "/api/v1/session")).body.site, "Hof Berger (import)");
});

t.test("a viewer reads but cannot change anything", async (t) => {
  const created = await installer.call("POST", "/api/v1/users", {
    username: "kunde",
    password: "viewer password",
    role: "viewer",
  });
  t.equal(created.status, 201);
  const viewer = new EdgeClient(edge.httpUrl);
  await viewer.login("kunde", "viewer password");
  t.equal((await viewer.call("GET", "/api/v1/status")).status, 200);
  const config = await viewer.call<{ version: number; config: Config }>("GET", "/api/v1/config");
  t.equal(config.status, 200);
  const put = await viewer.call<Problem>(
    "PUT",
    "/api/v1/config",
    { config: config.body.config },
    { "if-match": `"${config.body.version}"` },
  );
  t.equal(put.status, 403);
  t.equal(put.body.code, "EDGE_ERR_FORBIDDEN");
  const scan = await viewer.call<Problem>("POST", "/api/v1/scan", {
    transport: { type: "tcp", host: sim.host, port: sim.port },
  });
  t.equal(scan.body.code, "EDGE_ERR_FORBIDDEN");
  t.equal((await viewer.call<Problem>("GET", "/api/v1/users")).status, 403);
  t.equal((await viewer.call("POST", "/api/v1/logout", {})).status, 204);
  t.equal((await viewer.call("GET", "/api/v1/status")).status, 401, "logged out");
});

t.test("a password change needs the current password and ends the user's other sessions", async (t) => {
  const other = new EdgeClient(edge.httpUrl);
  await other.login("anna", PASSWORD);
  const wrong = await installer.call<Problem>("POST", "/api/v1/password", {
    currentPassword: "not it at all",
    newPassword: "a new long password",
  });
  t.equal(wrong.status, 401);
  t.match(wrong.body.problems, [{ path: "/currentPassword" }]);
  const short = await installer.call<Problem>("POST", "/api/v1/password", {
    currentPassword: PASSWORD,
    newPassword: "short",
  });
  t.match(short.body, { status: 400, problems: [{ path: "/newPassword" }] });
  const changed = await installer.call("POST", "/api/v1/password", {
    currentPassword: PASSWORD,
    newPassword: "a new long password",
  });
  t.equal(changed.status, 204);
  t.equal((await other.call("GET", "/api/v1/status")).status, 401, "the other session ended");
  t.equal((await installer.call("GET", "/api/v1/status")).status, 200, "this one goes on");
  await new EdgeClient(edge.httpUrl).login("anna", "a new long password");
  t.equal(
    (
      await installer.call("POST", "/api/v1/password", {
        currentPassword: "a new long password",
        newPassword: PASSWORD,
      })
    ).status,
    204,
  );
});

t.test("a certificate bundle that is not one is refused", async (t) => {
  const res = await installer.call<Problem>("POST", "/api/v1/tls/bundle", { bundle: "not a PEM" });
  t.equal(res.status, 400);
  t.equal(res.body.code, "EDGE_ERR_TLS");
  t.match((await installer.call("GET", "/api/v1/tls")).body, { enrolled: false });
});

t.test("the API is described as OpenAPI", async (t) => {
  const doc = await installer.call<{ paths: Record<string, unknown> }>("GET", "/api/v1/openapi.json");
  for (const path of ["/api/v1/login", "/api/v1/config", "/api/v1/scan", "/api/v1/test-read", "/api/v1/live"]) {
    t.ok(doc.body.paths[path], path);
  }
});

t.test("failed logins are rate-limited", async (t) => {
  const stranger = new EdgeClient(edge.httpUrl);
  for (let i = 0; i < 5; i++) {
    const res = await stranger.call<Problem>("POST", "/api/v1/login", { username: "anna", password: `guess ${i}` });
    t.equal(res.body.code, "EDGE_ERR_AUTH_FAILED");
  }
  const blocked = await stranger.call<Problem>("POST", "/api/v1/login", { username: "anna", password: PASSWORD });
  t.equal(blocked.status, 429, "even the right password waits");
  t.equal(blocked.body.code, "EDGE_ERR_AUTH_RATE_LIMITED");
  t.ok((blocked.body.retryAfterS ?? 0) > 0);
  t.equal(blocked.headers.get("retry-after"), String(blocked.body.retryAfterS));
  t.equal((await installer.call("GET", "/api/v1/status")).status, 200, "a logged-in session goes on");
});

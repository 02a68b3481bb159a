/**
 * Commands from the hub to an edge, all real: PostgreSQL, the hub with its CA, an edge agent over
 * mutual TLS, and a simulated SunSpec inverter with model 123 (its power limit registers). A power
 * limit asked by one user waits for another's approval, then reaches the inverter (read back from
 * its registers), reverts after its timeout and ends succeeded; the requester alone gets nothing
 * executed. An edge offline while approved runs a command still valid when it comes back and
 * reports an expired one without touching the device; a command sent again after its report was
 * lost runs once. Out-of-bounds values and unknown devices are rejected with the edge's reason,
 * nothing written; a flow cannot lift the hub's limit; a report on another edge's command is
 * refused; diagnostics answer with the edge's status; a configuration pushed from the hub applies
 * without a restart, a stale or invalid one is rejected.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Metadata } from "@grpc/grpc-js";
import { type EdgeAgent, loadEdgeTls } from "@steinmetz/edge";
import { AuthService, initPki, issueEdgeCertificate, pkiDirOf, startHub } from "@steinmetz/hub";
import { CommandState, EdgeSyncServiceClient } from "@steinmetz/proto";
import { type LimitWrite, startSunSpecInverterSim } from "@steinmetz/sim";
import t from "tap";
import { openPool } from "../../hub/src/db/pool.js";
import { log, startDatabase, startTestEdge, tempDir, waitFor } from "../support/harness.js";

const EDGE = "edge-cmd";
const db = await startDatabase();
t.teardown(() => db.stop());
const writes: LimitWrite[] = [];
const sim = await startSunSpecInverterSim({ speed: 1, controls: true, sun: 0.8, onWrite: (w) => writes.push(w) });
t.teardown(() => sim.close());

const hubDir = tempDir("hub");
await initPki(pkiDirOf(hubDir));
const tlsDir = tempDir("tls");
await issueEdgeCertificate(pkiDirOf(hubDir), EDGE, tlsDir);
const otherTls = tempDir("tls-other");
await issueEdgeCertificate(pkiDirOf(hubDir), "edge-other", otherTls);
const hub = await startHub({ databaseUrl: db.url, dataDir: hubDir, httpPort: 0, grpcPort: 0, insecureDev: false, log });
t.teardown(() => hub.close());
const hubUrl = `127.0.0.1:${hub.grpcPort}`;

/** A user with `roles` and an API token: its request headers. */
async function user(roles: string[]): Promise<{ authorization: string }> {
  const pool = openPool({ connectionString: db.url, max: 1 }, log);
  try {
    const auth = new AuthService(pool);
    const created = await auth.createUser({
      email: `${roles[0]}-${randomBytes(4).toString("hex")}@test.invalid`,
      roles,
      password: randomBytes(16).toString("hex"),
    });
    return { authorization: `Bearer ${(await auth.createApiToken(created.id, { name: "test" })).token}` };
  } finally {
    await pool.end();
  }
}
const technician = await user(["technician"]);
const admin = await user(["admin"]);
const secondAdmin = await user(["admin"]);

let idem = 0;
async function api(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(`${hub.httpUrl}/api/v1${path}`, {
    method,
    headers: {
      ...headers,
      ...(body === undefined ? {} : { "content-type": "application/json", "idempotency-key": `k-${++idem}` }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> & { id: string } };
}
const command = (id: string) => api("GET", `/commands/${id}`, technician).then((r) => r.json);
const ended = async (id: string) =>
  (await waitFor(`command ${id} to end`, async () => {
    const c = await command(id);
    return ["succeeded", "failed", "expired", "rejected"].includes(c.state as string) ? c : null;
  })) as Record<string, unknown> & { id: string };
async function requestLimit(body: Record<string, unknown>, by = technician) {
  const res = await api("POST", `/edges/${EDGE}/commands`, by, { type: "power_limit", ...body });
  if (res.status !== 201) throw new Error(`command not created: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json as { id: string; state: string; approvalId: string };
}
const approve = (approvalId: string, by = admin) =>
  api("POST", `/approvals/${approvalId}/approve`, by, { comment: "Netzbetreiber: Abregelung" });

const edgeDir = tempDir("edge");
const siteFile = join(tempDir("site"), "site.yaml");
writeFileSync(
  siteFile,
  [
    "site: { name: Commands }",
    `connections: [{ id: lan, type: tcp, host: ${sim.host}, port: ${sim.port}, timeoutMs: 1000 }]`,
    "devices:",
    "  - { id: inverter-1, connection: lan, profile: inverter/sunspec-inverter-tcp, pollIntervalMs: 500 }",
    "  - { id: meter-x, connection: lan, profile: meter/sunspec-meter-tcp, pollIntervalMs: 5000 }",
    "",
  ].join("\n"),
);
const startEdge = () => startTestEdge(siteFile, edgeDir, hubUrl, { insecureDev: false, tlsDir });
let edge: EdgeAgent = await startEdge();
t.teardown(() => edge.close());
await waitFor("the edge to connect and find the inverter's controls", () => {
  const s = edge.status();
  return s.sync.connected && edge.flowApi.devices().find((d) => d.id === "inverter-1")?.ready;
});

t.test(
  "a power limit: approved by a second person, on the inverter within 2 s, reverting after its timeout",
  async (t) => {
    const asked = await requestLimit({ limitPct: 40, revertTimeoutS: 4 });
    t.match(asked, { state: "pending_approval", approvalId: String, payload: { limitPct: 40, revertTimeoutS: 4 } });
    t.equal((await approve(asked.approvalId, technician)).status, 403, "a technician may not approve");
    await sleep(600);
    t.notOk(sim.snapshot().limitEnabled, "nothing reaches the inverter before the approval");
    const approved = await approve(asked.approvalId);
    t.equal(approved.status, 200, JSON.stringify(approved.json));
    const approvedAt = Date.now();
    await waitFor(
      "the limit at the inverter",
      () => sim.snapshot().limitEnabled && sim.snapshot().limitPct === 40,
      10_000,
    );
    const ms = Date.now() - approvedAt;
    t.comment(`on the inverter ${ms} ms after the approval`);
    t.ok(ms <= 2000, "within 2 s of the approval");
    const done = await ended(asked.id);
    t.match(done, {
      state: "succeeded",
      detail: /power limited to 40 % on inverter-1/,
      result: { written: { "inverter-1": { power_limit_pct: { value: 40, readBack: 40 } } } },
    });
    t.same(
      (done.history as { state: string }[]).map((h) => h.state),
      ["pending_approval", "queued", "delivered", "succeeded"],
      "every state with its time",
    );
    t.match(edge.status().commands, {
      recent: [{ id: asked.id, type: "power_limit", state: "succeeded" }],
      hubLimits: [{ deviceId: "inverter-1", limitPct: 40, commandId: asked.id }],
    });
    // a flow may go below the hub's limit, not above it
    await t.rejects(edge.flowApi.write("inverter-1", "power_limit_pct", 90, { source: "node-red:zero-export" }), {
      code: "EDGE_ERR_WRITE_REFUSED",
      reason: "limited-by-hub",
    });
    t.match(edge.status().commands.conflicts, [
      { deviceId: "inverter-1", point: "power_limit_pct", value: 90, source: "node-red:zero-export", limitPct: 40 },
    ]);
    await edge.flowApi.write("inverter-1", "power_limit_revert_timeout", 4, { source: "node-red:zero-export" });
    await edge.flowApi.write("inverter-1", "power_limit_pct", 30, { source: "node-red:zero-export" });
    t.equal(sim.snapshot().limitPct, 30, "a lower limit is written");
    await waitFor("the inverter to revert", () => !sim.snapshot().limitEnabled, 15_000);
    t.pass("reverted when nobody set the limit again");
  },
);

t.test("the requester alone gets nothing executed", async (t) => {
  const before = writes.length;
  const asked = await requestLimit({ limitPct: 50, revertTimeoutS: 60 }, admin);
  const self = await approve(asked.approvalId, admin);
  t.equal(self.status, 409);
  t.equal(self.json.code, "HUB_ERR_APPROVAL_SELF");
  const rejected = await api("POST", `/approvals/${asked.approvalId}/reject`, secondAdmin, { comment: "nicht nötig" });
  t.equal(rejected.status, 200);
  t.match(await command(asked.id), { state: "rejected", detail: /approval rejected by .*nicht nötig/ });
  await sleep(500);
  t.equal(writes.length, before, "nothing written");
});

t.test("an edge offline when approved: a valid command runs on reconnect, an expired one is reported", async (t) => {
  await edge.close();
  const valid = await requestLimit({ limitPct: 70, revertTimeoutS: 60, ttlSeconds: 120 });
  const late = await requestLimit({ limitPct: 20, revertTimeoutS: 60, ttlSeconds: 10 });
  await approve(valid.approvalId);
  await approve(late.approvalId);
  t.match(await command(late.id), { state: "queued" }, "queued while the edge is away");
  await waitFor(
    "the short one's not-after time to pass",
    async () => Date.now() > Date.parse((await command(late.id)).notAfter as string) + 200,
    15_000,
  );
  const before = writes.length;
  edge = await startEdge();
  t.match(await ended(valid.id), { state: "succeeded" });
  t.match(await ended(late.id), { state: "expired", detail: /EDGE_ERR_COMMAND_EXPIRED/ });
  const pctWrites = writes
    .slice(before)
    .filter((w) => w.register === "WMaxLimPct")
    .map((w) => w.value);
  t.same(pctWrites, [700], "only the valid command touched the inverter (70.0 %)");
  t.equal(sim.snapshot().limitPct, 70);
});

t.test("a command sent again after its report was lost runs once", async (t) => {
  // the hub cannot store reports for a moment: the command stays queued there
  const owner = openPool({ connectionString: db.url, max: 1 }, log);
  t.teardown(() => owner.end());
  await owner.query(`CREATE FUNCTION ops.test_refuse_reports() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'test: reports refused'; END $$`);
  await owner.query(`CREATE TRIGGER test_refuse_reports BEFORE UPDATE ON ops.edge_commands FOR EACH ROW
    WHEN (OLD.state IN ('queued', 'delivered')) EXECUTE FUNCTION ops.test_refuse_reports()`);
  const before = writes.length;
  const asked = await requestLimit({ limitPct: 55, revertTimeoutS: 60 });
  await approve(asked.approvalId);
  await waitFor("the edge to run it", () =>
    edge.status().commands.recent.find((c) => c.id === asked.id && c.state === "succeeded"),
  );
  t.match(await command(asked.id), { state: "queued" }, "its reports were lost");
  await owner.query("DROP TRIGGER test_refuse_reports ON ops.edge_commands; DROP FUNCTION ops.test_refuse_reports()");
  // a new session (the agent restarts over its data directory): the hub sends the command again
  await edge.close();
  edge = await startEdge();
  t.match(await ended(asked.id), { state: "succeeded", detail: /power limited to 55 %/ });
  const pctWrites = writes.slice(before).filter((w) => w.register === "WMaxLimPct");
  t.equal(pctWrites.length, 1, "written once");
});

t.test("values out of bounds and unknown devices are rejected with the edge's reason, nothing written", async (t) => {
  const before = writes.length;
  const zero = await requestLimit({ limitPct: 0, revertTimeoutS: 60 });
  await approve(zero.approvalId);
  t.match(await ended(zero.id), {
    state: "rejected",
    detail: /EDGE_ERR_COMMAND_REFUSED: inverter-1: 0 % is refused as unsafe/,
  });
  const revert = await requestLimit({ limitPct: 50, revertTimeoutS: 7200 });
  await approve(revert.approvalId);
  t.match(await ended(revert.id), {
    state: "rejected",
    detail: /revert timeout of 7200 s is outside the profile's bounds 1..3600/,
  });
  const unknown = await requestLimit({ limitPct: 50, revertTimeoutS: 60, devices: ["inverter-9"] });
  await approve(unknown.approvalId);
  t.match(await ended(unknown.id), { state: "rejected", detail: /no device "inverter-9"/ });
  const meter = await requestLimit({ limitPct: 50, revertTimeoutS: 60, devices: ["meter-x"] });
  await approve(meter.approvalId);
  t.match(await ended(meter.id), { state: "rejected", detail: /meter-x is a meter, not an inverter/ });
  t.equal(writes.length, before, "nothing written");
  const bad = await api("POST", `/edges/${EDGE}/commands`, technician, {
    type: "power_limit",
    limitPct: 140,
    revertTimeoutS: 60,
  });
  t.equal(bad.status, 400, "the hub refuses what no inverter accepts");
  const none = await api("POST", "/edges/edge-unknown/commands", technician, { type: "diagnostics" });
  t.equal(none.status, 404);
});

t.test("a release, and diagnostics with the edge's status, need no approval for diagnostics", async (t) => {
  const release = await api("POST", `/edges/${EDGE}/commands`, technician, { type: "power_limit_release" });
  t.equal(release.json.state, "pending_approval", "a release is approved like a limit");
  await approve(release.json.approvalId as string);
  t.match(await ended(release.json.id), { state: "succeeded", detail: /power limit released on inverter-1/ });
  t.notOk(sim.snapshot().limitEnabled);
  t.same(edge.status().commands.hubLimits, [], "no hub limit held");
  const diag = await api("POST", `/edges/${EDGE}/commands`, technician, { type: "diagnostics" });
  t.equal(diag.json.state, "queued");
  t.match(await ended(diag.json.id), { state: "succeeded", result: { edgeId: EDGE, sync: { connected: true } } });
  const list = await api("GET", `/edges/${EDGE}/commands?limit=3`, technician);
  t.equal((list.json.items as unknown[]).length, 3);
  const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
  t.match(metrics, /hub_edge_command_reports_total\{type="diagnostics",state="succeeded"\} 1/);
});

t.test(
  "a configuration pushed from the hub: applied without a restart, in the edge's history; stale and invalid ones rejected",
  async (t) => {
    const known = await api("GET", `/edges/${EDGE}/configuration`, technician);
    t.equal(known.status, 200);
    const base = edge.deps.config.current();
    t.equal(known.json.version, base.version, "the hub knows the version the edge runs (from its hello)");
    const changed: Record<string, unknown> = {
      ...(base.config as Record<string, unknown>),
      site: { name: "Commands (vom Hub)" },
    };
    const yaml = (await import("yaml")).stringify(changed);
    const push = (configuration: string, baseVersion: number) =>
      api("POST", `/edges/${EDGE}/commands`, technician, { type: "apply_configuration", configuration, baseVersion });
    const agentBefore = edge;
    const pushed = await push(yaml, base.version);
    t.equal(pushed.json.state, "queued", "no approval needed");
    t.match(pushed.json.payload, { baseVersion: base.version, yamlSha256: /^[0-9a-f]{64}$/ }, "shown by its hash");
    t.notOk("yaml" in (pushed.json.payload as object));
    const done = await ended(pushed.json.id);
    t.match(done, { state: "succeeded", detail: `configuration version ${base.version + 1} applied` });
    t.equal(edge, agentBefore, "no restart");
    t.equal(edge.status().site, "Commands (vom Hub)");
    t.match(edge.deps.config.versions()[0], {
      version: base.version + 1,
      author: "hub",
      comment: `hub command ${pushed.json.id}`,
    });
    t.match((await api("GET", `/edges/${EDGE}/configuration`, technician)).json, {
      version: base.version + 1,
      yaml,
      commandId: pushed.json.id,
    });
    // a change made at the edge reaches the hub's record of what the edge runs
    const local = { ...changed, site: { name: "Commands (vor Ort)" } };
    await edge.deps.config.apply(local, { baseVersion: base.version + 1, author: "installer" });
    await waitFor(
      "the hub to know the edge's new version",
      async () => (await api("GET", `/edges/${EDGE}/configuration`, technician)).json.version === base.version + 2,
    );
    t.match((await api("GET", `/edges/${EDGE}/configuration`, technician)).json, { yaml: null }, "not the hub's YAML");
    const stale = await push(yaml, base.version + 1);
    t.match(await ended(stale.json.id), { state: "rejected", detail: /EDGE_ERR_CONFIG_CONFLICT: .*version/ });
    const invalid = (await import("yaml")).stringify({
      ...changed,
      devices: [{ ...(changed.devices as Record<string, unknown>[])[0], pollIntervalMs: "fast" }],
    });
    const refused = await push(invalid, base.version + 2);
    t.match(await ended(refused.json.id), {
      state: "rejected",
      detail: /EDGE_ERR_CONFIG_INVALID: [\s\S]*\/devices\/0\/pollIntervalMs: must be integer/,
    });
    t.equal(edge.deps.config.current().version, base.version + 2, "nothing applied");
    const owner = openPool({ connectionString: db.url, max: 1 }, log);
    t.teardown(() => owner.end());
    const trail = await owner.query(
      "SELECT after FROM audit.records WHERE table_name = 'edge_commands' AND entity_id = $1",
      [pushed.json.id],
    );
    t.ok(trail.rows.length > 0, "audited");
    t.ok(
      trail.rows.every((r) => r.after.payload.yamlSha256 && !("yaml" in r.after.payload)),
      "the trail keeps the configuration's hash, not its text",
    );
  },
);

t.test("a report on another edge's command is refused and logged", async (t) => {
  const diag = await api("POST", `/edges/${EDGE}/commands`, technician, { type: "diagnostics" });
  await ended(diag.json.id);
  const tls = loadEdgeTls(otherTls);
  const client = new EdgeSyncServiceClient(hubUrl, tls.credentials);
  t.teardown(() => client.close());
  const metadata = new Metadata();
  metadata.set("edge-id", "edge-other");
  const call = client.commands(metadata);
  call.on("error", () => undefined);
  const refusedBefore = await refusedReports();
  call.write({
    report: {
      commandId: diag.json.id,
      state: CommandState.COMMAND_STATE_FAILED,
      detail: "forged",
      resultJson: "",
      atMs: Date.now(),
    },
  });
  await waitFor("the hub to refuse it", async () => (await refusedReports()) > refusedBefore);
  call.cancel();
  t.match(await command(diag.json.id), { state: "succeeded" }, "the command is unchanged");
});

async function refusedReports(): Promise<number> {
  const text = await (await fetch(`${hub.httpUrl}/metrics`)).text();
  return Number(/hub_edge_command_reports_refused_total (\d+)/.exec(text)?.[1] ?? 0);
}

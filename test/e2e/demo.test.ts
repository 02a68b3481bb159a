/**
 * `npm start` as a user runs it: the whole simulated site (inverter with model 123, the grid meter
 * behind it, the battery, the Shelly on the heat pump publishing to the edge's broker) reaching the
 * hub, Node-RED running with the example flows; killed with SIGKILL as a whole process group and
 * started again over the same data directories (new ports, the Shelly's account file lost), then
 * stopped with Ctrl-C (SIGINT to the group).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ReadingBuffer } from "@steinmetz/edge";
import { startEmbeddedPostgres } from "@steinmetz/hub";
import { countRanges, runsOf, subtractRanges, unionRanges } from "@steinmetz/proto";
import t from "tap";
import { EdgeClient } from "../support/edge-client.js";
import { exited, log, REPO, startDatabase, stored, storedRanges, tempDir, waitFor } from "../support/harness.js";

const root = tempDir("demo");
const env = {
  ...process.env,
  HUB_DATA_DIR: join(root, "hub"),
  EDGE_DATA_DIR: join(root, "edge"),
  SIM_DATA_DIR: join(root, "sim"),
  HUB_HTTP_PORT: "0",
  HUB_GRPC_PORT: "0",
  EDGE_HTTP_PORT: "0",
  SIM_PORT: "0",
  SIM_BATTERY_PORT: "0",
  EDGE_MQTT_PORT: "0",
  NODE_RED_PORT: "0",
  DATABASE_URL: "",
  LOG_LEVEL: "info",
};

interface Demo {
  child: ChildProcess;
  hubUrl: string;
  edgeId: string;
  edgeUrl: string;
  /** The Node-RED editor as the banner prints it; null when it says Node-RED does not run. */
  nodeRedUrl: string | null;
  output: () => string;
}

/** Starts `npm start` in its own process group; resolves when it printed its URLs. */
async function startDemo(extraEnv: Record<string, string> = {}): Promise<Demo> {
  const child = spawn("npm", ["start"], {
    cwd: REPO,
    env: { ...env, ...extraEnv },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const line = await waitFor(
    "the demo's URLs",
    () => {
      if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${out}`);
      if (!out.includes("Ctrl-C stops everything.")) return null;
      return /hub readings\s+(http:\/\/\S+)\/api\/v1\/readings\?edge=(\S+?)&/.exec(out);
    },
    120_000,
  );
  return {
    child,
    hubUrl: line?.[1] as string,
    edgeId: line?.[2] as string,
    edgeUrl: /edge UI\s+(http:\/\/\S+?)\/\s/.exec(out)?.[1] as string,
    nodeRedUrl: /node-red\s+(http:\/\/\S+?)\/\s/.exec(out)?.[1] ?? null,
    output: () => out,
  };
}

/**
 * Does what the demo prints: creates the first admin with `npm run hub -- admin create` (password
 * on stdin; while the demo runs, on its embedded cluster or its DATABASE_URL) and logs in.
 */
async function adminLogin(demo: Demo, extraEnv: Record<string, string> = {}): Promise<Record<string, string>> {
  const email = "demo-admin@example.com";
  const password = "a demo password of some length";
  const child = spawn("npm", ["run", "--silent", "hub", "--", "admin", "create", "--email", email], {
    cwd: REPO,
    env: { ...env, ...extraEnv, LOG_LEVEL: "warn" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stdin?.end(`${password}\n`);
  const code = await exited(child);
  if (code !== 0) throw new Error(`admin create exited with ${code}:\n${out}`);
  const res = await fetch(`${demo.hubUrl}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  const { token } = (await res.json()) as { token: string };
  return { authorization: `Bearer ${token}` };
}

let auth: Record<string, string> = {};

async function committedSeq(demo: Demo): Promise<number> {
  const res = await fetch(`${demo.hubUrl}/api/v1/edges`, { headers: auth }).catch(() => undefined);
  if (!res?.ok) return 0;
  const edges = (await res.json()) as { edgeId: string; committedSeq: number }[];
  return edges.find((e) => e.edgeId === demo.edgeId)?.committedSeq ?? 0;
}

/** A reading as GET /api/v1/readings returns it. */
interface Reading {
  seq: number;
  ts: string;
  value: number | null;
  quality: string;
}

/** Every reading of one point of one device of the demo edge in the hub, oldest first. */
async function readings(demo: Demo, device: string, point: string): Promise<Reading[]> {
  const query = new URLSearchParams({ edge: demo.edgeId, device, point, limit: "10000" });
  const res = await fetch(`${demo.hubUrl}/api/v1/readings?${query}`, { headers: auth }).catch(() => undefined);
  if (!res?.ok) return [];
  return ((await res.json()) as { items: Reading[] }).items;
}

const good = (list: Reading[]) => list.filter((r) => r.quality === "good" && r.value !== null);

/** What the demo's site must deliver: a point per simulated device (and model 123 of the inverter). */
const SITE_POINTS: [device: string, point: string][] = [
  ["inverter-1", "active_power"],
  ["inverter-1", "power_limit_pct"],
  ["grid-meter", "active_power"],
  ["grid-meter", "energy_imported"],
  ["battery-1", "soc"],
  ["battery-1", "battery_voltage"],
  ["heat-pump", "active_power"],
  ["heat-pump", "energy_imported"],
];

/** Waits until every point of SITE_POINTS has a good reading in the hub taken at or after `since`. */
async function siteInHub(demo: Demo, since: number): Promise<void> {
  for (const [device, point] of SITE_POINTS) {
    await waitFor(
      `${device}/${point} in the hub`,
      async () => good(await readings(demo, device, point)).some((r) => Date.parse(r.ts) >= since),
      60_000,
    );
  }
}

/** The edge's own view: every device of the demo site polled or received, and ok. */
async function siteOk(edge: EdgeClient): Promise<{ id: string; class: string; status: string }[]> {
  let devices: { id: string; class: string; status: string }[] = [];
  await waitFor(
    "every device ok on the edge",
    async () => {
      const res = await edge.call<{ devices: { id: string; class: string; state: { status: string } }[] }>(
        "GET",
        "/api/v1/status",
      );
      devices = res.body.devices.map((d) => ({ id: d.id, class: d.class, status: d.state.status }));
      return devices.length === 4 && devices.every((d) => d.status === "ok");
    },
    60_000,
  ).catch(() => undefined);
  return devices;
}

const EDGE_INSTALLER = { username: "installer", password: "a demo installer password" };

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test("SIGKILL of the whole npm start, a second start continues, Ctrl-C stops cleanly", async (t) => {
  // The battery's charge as a previous run left it in SIM_DATA_DIR: 87.65 % of 10 kWh, far from the 50 % of a fresh one.
  mkdirSync(join(root, "sim"), { recursive: true });
  writeFileSync(join(root, "sim/battery.json"), JSON.stringify({ storedWh: 8765 }));
  const firstStartedAt = Date.now();
  const first = await startDemo();
  t.teardown(() => groupAlive(first.child.pid as number) && process.kill(-(first.child.pid as number), "SIGKILL"));
  t.match(first.output(), "npm run hub -- admin create --email", "the demo says how to get a login");
  for (const line of [
    /inverter sim\s+modbus tcp 127\.0\.0\.1:\d+ unit 1/,
    /battery sim\s+modbus tcp 127\.0\.0\.1:\d+ unit 1/,
  ]) {
    t.match(first.output(), line, "the banner says where the simulators are");
  }
  t.match(first.output(), /heat pump\s+Shelly Pro 3EM publishing to mqtt:\/\/127\.0\.0\.1:\d+ as shelly-heat-pump/);
  auth = await adminLogin(first);
  await waitFor("readings committed in the hub", async () => (await committedSeq(first)) >= 60, 60_000);
  await siteInHub(first, firstStartedAt);
  t.pass("inverter (with model 123), grid meter, battery and the MQTT heat pump meter reach the hub");

  // The edge as an installer sees it after first-run setup: every device of the site ok.
  const edge = new EdgeClient(first.edgeUrl);
  const setup = await edge.call("POST", "/api/v1/setup", { siteName: "Demo site", ...EDGE_INSTALLER });
  t.equal(setup.status, 201, "first-run setup on the edge");
  t.same(
    (await siteOk(edge)).sort((a, b) => a.id.localeCompare(b.id)),
    [
      { id: "battery-1", class: "battery", status: "ok" },
      { id: "grid-meter", class: "meter", status: "ok" },
      { id: "heat-pump", class: "meter", status: "ok" },
      { id: "inverter-1", class: "inverter", status: "ok" },
    ],
    "the edge reads every device of the demo site",
  );
  // the seeded site's inverter, meter and battery carry the serial numbers the simulators report:
  // the hub links them by itself; the Shelly states none, so it is the one left to resolve
  const unresolved = await waitFor(
    "the hub to link the devices by serial number",
    async () => {
      const res = await fetch(`${first.hubUrl}/api/v1/device-inventory/unresolved`, { headers: auth });
      const list = (await res.json()) as { deviceId: string }[];
      const linked = !list.some((d) => d.deviceId === "battery-1" || d.deviceId === "grid-meter");
      return linked && list.some((d) => d.deviceId === "heat-pump") ? list : null;
    },
    30_000,
  );
  t.same(
    (unresolved ?? []).map((d) => d.deviceId),
    ["heat-pump"],
    "inverter, grid meter and battery linked to the ERP devices",
  );

  // Node-RED runs, the edge account logs in, the example flows are under Import → Examples.
  const red = first.nodeRedUrl;
  t.ok(red, "the banner prints Node-RED's address");
  const tokenRes = await fetch(`${red}/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ client_id: "node-red-admin", grant_type: "password", scope: "*", ...EDGE_INSTALLER }),
  });
  t.equal(tokenRes.status, 200, "Node-RED takes the edge's installer account");
  const { access_token: token } = (await tokenRes.json()) as { access_token: string };
  const example = await fetch(`${red}/library/examples/flows/@steinmetz/node-red-nodes/zero-export`, {
    headers: { authorization: `Bearer ${token}` },
  });
  t.equal(example.status, 200, "the example flows are importable");
  t.same(
    await example.json(),
    JSON.parse(readFileSync(join(REPO, "firmware-config/node-red/zero-export.json"), "utf8")),
    "zero-export, whose device ids are the demo's",
  );

  process.kill(-(first.child.pid as number), "SIGKILL");
  await exited(first.child);
  await waitFor("the process group (PostgreSQL included) is gone", () => !groupAlive(first.child.pid as number));
  // A lost account file: the Shelly gets a new password, the demo the new hash into the site file.
  rmSync(join(root, "sim/mqtt-account.json"));

  const secondStartedAt = Date.now();
  const second = await startDemo();
  t.teardown(() => groupAlive(second.child.pid as number) && process.kill(-(second.child.pid as number), "SIGKILL"));
  t.equal(second.edgeId, first.edgeId, "same edge identity");
  const before = await committedSeq(second);
  t.ok(before >= 60, "the hub kept what it had committed");
  await waitFor("the seq continues", async () => (await committedSeq(second)) >= before + 60, 60_000);
  await siteInHub(second, secondStartedAt);
  t.pass("after the restart (new ports, a new MQTT password) every device reaches the hub again");
  const again = new EdgeClient(second.edgeUrl);
  await again.login(EDGE_INSTALLER.username, EDGE_INSTALLER.password);
  t.ok(
    (await siteOk(again)).every((d) => d.status === "ok"),
    "the site file kept by the edge follows the simulators",
  );

  // Counters and the battery's charge go on where they were.
  for (const [device, point] of [
    ["inverter-1", "energy_exported"],
    ["grid-meter", "energy_imported"],
    ["grid-meter", "energy_exported"],
    ["heat-pump", "energy_imported"],
  ] as const) {
    const values = good(await readings(second, device, point)).map((r) => r.value as number);
    t.ok(
      values.every((v, i) => i === 0 || v >= (values[i - 1] as number)),
      `${device}/${point} never goes back across the restart (${values[0]} … ${values.at(-1)})`,
    );
  }
  // At 60x and at most 5 kW, a few real seconds move the charge by a few percent at most.
  const soc = good(await readings(second, "battery-1", "soc"));
  const firstOfAll = soc[0]?.value as number;
  const lastBefore = soc.filter((r) => Date.parse(r.ts) < secondStartedAt).at(-1)?.value as number;
  const firstAfter = soc.find((r) => Date.parse(r.ts) >= secondStartedAt)?.value as number;
  t.ok(Math.abs(firstOfAll - 87.65) <= 5, `the first start took the charge from SIM_DATA_DIR: ${firstOfAll} %`);
  t.ok(
    Math.abs(firstAfter - lastBefore) <= 5,
    `the restart kept the battery's charge: ${lastBefore} % → ${firstAfter} %`,
  );

  process.kill(-(second.child.pid as number), "SIGINT");
  // npm itself dies of the SIGINT; the demo under it stops in order and exits 0.
  await waitFor("the process group is gone", () => !groupAlive(second.child.pid as number), 30_000);
  for (const msg of ["Node-RED stopped", "edge agent stopped", "embedded PostgreSQL stopped", "hub stopped"]) {
    t.match(second.output(), `"msg":"${msg}"`, msg);
  }

  // Every seq the edge ever assigned is in the hub (1..M without gap or double) or still buffered.
  const buffer = ReadingBuffer.open(join(root, "edge/buffer.sqlite"));
  const produced = buffer.stats().nextSeq - 1;
  const buffered = runsOf(buffer.readAfter(0, 1_000_000).map((r) => r.seq));
  buffer.close();
  const db = await startEmbeddedPostgres(join(root, "hub"), log);
  t.teardown(() => db.stop());
  const hub = await storedRanges(db.url, first.edgeId);
  t.equal(hub.rows, countRanges(hub.ranges), "no seq stored twice");
  t.same(subtractRanges(hub.ranges, buffered), hub.ranges, "nothing both stored and buffered");
  t.same(unionRanges(hub.ranges, buffered), [{ first: 1, last: produced }], "every seq stored or still buffered");
});

t.test("with DATABASE_URL the demo uses that PostgreSQL and starts none of its own", async (t) => {
  const db = await startDatabase();
  t.teardown(() => db.stop());
  const dir = tempDir("demo-external-db");
  const demo = await startDemo({
    DATABASE_URL: db.url,
    HUB_DATA_DIR: join(dir, "hub"),
    EDGE_DATA_DIR: join(dir, "edge"),
    SIM_DATA_DIR: join(dir, "sim"),
  });
  t.teardown(() => groupAlive(demo.child.pid as number) && process.kill(-(demo.child.pid as number), "SIGKILL"));
  auth = await adminLogin(demo, { DATABASE_URL: db.url });
  await waitFor("readings committed", async () => (await committedSeq(demo)) >= 20, 60_000);
  process.kill(-(demo.child.pid as number), "SIGINT");
  await waitFor("the process group is gone", () => !groupAlive(demo.child.pid as number), 30_000);
  t.notMatch(demo.output(), "embedded PostgreSQL started");
  t.ok((await stored(db.url, demo.edgeId)).count >= 20, "the readings are in the given database");
  t.notOk(existsSync(join(dir, "hub/pg")), "no embedded cluster was created");
});

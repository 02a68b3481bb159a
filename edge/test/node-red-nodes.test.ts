/**
 * Our Node-RED nodes (`node-red-nodes/`) under node-red-node-test-helper, against a real edge
 * agent (Node-RED not embedded: the helper runs the nodes) polling the simulated inverter with
 * its grid meter and power-limit controls on 127.0.0.1: filters, rate limit, on-change, device
 * state transitions, bounded writes with refusals and refresh, computed readings.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { findFreePort, type LimitWrite, type SunSpecInverterSim, startSunSpecInverterSim } from "@steinmetz/sim";
import pino from "pino";
import t from "tap";
import { stringify } from "yaml";
import { type EdgeAgent, startEdgeAgent } from "../src/agent.js";
import type { FlowReading } from "../src/node-red/flow-api.js";

const require = createRequire(import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: node-red-node-test-helper has no type declarations
const helper: any = require("node-red-node-test-helper");
helper.init(require.resolve("node-red"));

const NODES_DIR = join(import.meta.dirname, "../../node-red-nodes/nodes");
const nodes = [
  "steinmetz-device.js",
  "readings-in.js",
  "device-status.js",
  "write-setpoint.js",
  "publish-reading.js",
].map((f) => require(join(NODES_DIR, f)));

/** Messages a helper node receives. */
type Msg = Record<string, unknown> & { payload?: unknown };

const log = pino({ level: process.env.LOG_LEVEL ?? "silent" });
const writes: LimitWrite[] = [];
const sim = await startSunSpecInverterSim({
  meter: true,
  controls: true,
  sun: 0.8,
  houseLoadW: 1000,
  onWrite: (w) => writes.push(w),
});
t.teardown(() => sim.close());
/** The port of a device that is down at first and comes up during the status test. */
const latePort = await findFreePort();
let lateSim: SunSpecInverterSim | undefined;
t.teardown(() => lateSim?.close());

const dir = mkdtempSync(join(tmpdir(), "edge-nodes-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const siteFile = join(dir, "site.yaml");
writeFileSync(
  siteFile,
  stringify({
    site: { name: "Node tests" },
    connections: [{ id: "lan", type: "tcp", host: sim.host, port: sim.port, timeoutMs: 500 }],
    devices: [
      { id: "inverter-1", connection: "lan", profile: "inverter/sunspec-inverter-tcp", pollIntervalMs: 300 },
      { id: "grid-meter", connection: "lan", profile: "meter/sunspec-meter-tcp", pollIntervalMs: 300 },
    ],
  }),
);
const agent: EdgeAgent = await startEdgeAgent({
  configFile: siteFile,
  dataDir: dir,
  insecureDev: true,
  httpPort: 0,
  log,
});
t.teardown(() => agent.close());
helper.settings({ steinmetz: agent.flowApi, logging: { console: { level: "off" } } });
await new Promise<void>((resolve) => helper.startServer(resolve));
t.teardown(() => new Promise<void>((resolve) => helper.stopServer(resolve)));
t.afterEach(() => helper.unload());

/** Waits until `check` is truthy, polling every 20 ms, at most `timeoutMs`. */
async function until<T>(
  what: string,
  check: () => T | false | null | undefined,
  timeoutMs = 5000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Loads a flow with a `helper` node per id in `sinks`, returning their received messages. */
async function load(flow: Record<string, unknown>[], sinks: string[] = []) {
  await helper.load(nodes, [...flow, ...sinks.map((id) => ({ id, type: "helper" }))]);
  const received = new Map<string, Msg[]>();
  for (const id of sinks) {
    const list: Msg[] = [];
    received.set(id, list);
    helper.getNode(id).on("input", (msg: Msg) => list.push({ ...msg, _at: Date.now() }));
  }
  return (id: string) => received.get(id) as Msg[];
}

/** The arguments of a node's calls of `method` (the helper spies on Node.prototype: filter by node). */
function calls(id: string, method: "status" | "error"): unknown[][] {
  const node = helper.getNode(id);
  return node[method]
    .getCalls()
    .filter((c: { thisValue: unknown }) => c.thisValue === node)
    .map((c: { args: unknown[] }) => c.args);
}

/** The status texts a node set, in order. */
function statuses(id: string): string[] {
  return calls(id, "status").map((a) => (a[0] as { text?: string } | undefined)?.text ?? "");
}

await until("the SunSpec devices discovered", () => agent.flowApi.devices().every((d) => d.ready), 10_000);

t.test("the example flows ship identically in firmware-config and the package's examples", async (t) => {
  const source = join(import.meta.dirname, "../../firmware-config/node-red");
  const examples = join(import.meta.dirname, "../../node-red-nodes/examples");
  const files = readdirSync(source).filter((f) => f.endsWith(".json"));
  t.same(files.sort(), ["fault-alarm-mqtt.json", "house-consumption.json", "zero-export.json"]);
  t.same(readdirSync(examples).sort(), files.sort());
  for (const f of files) {
    t.equal(readFileSync(join(examples, f), "utf8"), readFileSync(join(source, f), "utf8"), f);
    const flow = JSON.parse(readFileSync(join(source, f), "utf8")) as { type: string }[];
    t.ok(
      flow.some((n) => n.type.startsWith("steinmetz")),
      `${f} uses our nodes`,
    );
  }
});

t.test("readings in: device and point filter, seq and unit, status with the last value", async (t) => {
  const out = await load(
    [
      { id: "dev", type: "steinmetz-device", device: "grid-meter", points: "active_power" },
      { id: "in", type: "steinmetz readings in", device: "dev", wires: [["sink"]] },
    ],
    ["sink"],
  );
  const msgs = await until("three grid readings", () => (out("sink").length >= 3 ? out("sink") : null));
  for (const m of msgs) {
    const r = m.reading as FlowReading;
    t.match(r, { deviceId: "grid-meter", point: "active_power", quality: "good", unit: "W" });
    t.equal(m.topic, "grid-meter/active_power");
    t.equal(m.payload, r.value);
  }
  const seqs = msgs.map((m) => (m.reading as FlowReading).seq);
  t.ok(
    seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number)),
    `seqs increase: ${seqs.join(", ")}`,
  );
  t.ok(
    msgs.every((m) => m.payload === sim.snapshot().gridW || typeof m.payload === "number"),
    "grid power as numbers",
  );
  await until("a status with the value", () => statuses("in").some((s) => /^active_power: -?\d+ W$/.test(s)));
});

t.test("readings in: rate limit and on-change with deadband, on published readings", async (t) => {
  const out = await load(
    [
      { id: "rate", type: "steinmetz readings in", points: "x", rateLimit: 1, wires: [["rated"]] },
      { id: "change", type: "steinmetz readings in", points: "y", onChange: true, deadband: 1, wires: [["changed"]] },
      { id: "other", type: "steinmetz-device", device: "virtual.a", points: "" },
      { id: "only-a", type: "steinmetz readings in", device: "other", wires: [["a"]] },
    ],
    ["rated", "changed", "a"],
  );
  const api = agent.flowApi;
  const started = Date.now();
  for (const v of [1, 2, 3]) {
    api.publish("virtual.a", "x", v, { unit: "W" });
    await sleep(250); // each in its own commit
  }
  await sleep(1400 - (Date.now() - started)); // well over the 1 s limit after 1 was emitted (within 200 ms of its publish)
  api.publish("virtual.a", "x", 4, { unit: "W" });
  for (const v of [10, 10.5, 11, 11.2, 12.5, 12.5]) {
    api.publish("virtual.b", "y", v);
    await sleep(220);
  }
  await until("the last rate-limited reading", () => out("rated").some((m) => m.payload === 4));
  await until("the on-change readings", () => out("changed").some((m) => m.payload === 12.5));
  t.same(
    out("rated").map((m) => m.payload),
    [1, 4],
    "rate limit 1 s: 2 and 3 dropped, 4 after a second",
  );
  t.same(
    out("changed").map((m) => m.payload),
    [10, 11.2, 12.5],
    "deadband 1: 10.5 and 11 (not more than 1 from 10) and the repeated 12.5 dropped",
  );
  t.same([...new Set(out("a").map((m) => m.topic))], ["virtual.a/x"], "the device filter keeps virtual.a only");
  await until("the rate-limited node's status", () => statuses("rate").includes("virtual.a x: 4 W"));
});

t.test("device status: fault with code and words, then ok when the device answers", async (t) => {
  // The installer adds a device that is not powered yet. Added now rather than in the site file,
  // so its reconnect backoff (up to a minute) starts with this test, not with the file's start.
  const { version, config } = agent.deps.config.current();
  const site = structuredClone(config) as { connections: unknown[]; devices: unknown[] };
  site.connections.push({ id: "late", type: "tcp", host: "127.0.0.1", port: latePort, timeoutMs: 300 });
  site.devices.push({
    id: "late-1",
    connection: "late",
    profile: "inverter/sunspec-model103-tcp",
    pollIntervalMs: 300,
  });
  t.same((await agent.deps.config.apply(site, { baseVersion: version, author: "test" })).applied.added, ["late-1"]);
  const out = await load(
    [
      { id: "dev", type: "steinmetz-device", device: "late-1" },
      { id: "st", type: "steinmetz device status", device: "dev", initial: true, wires: [["sink"]] },
      { id: "all", type: "steinmetz device status", wires: [["every"]] },
    ],
    ["sink", "every"],
  );
  const fault = await until("the fault", () =>
    out("sink").find((m) => (m.payload as { status: string }).status === "fault"),
  );
  t.match(fault, {
    topic: "late-1",
    payload: { deviceId: "late-1", status: "fault", code: "EDGE_ERR_MODBUS_CONNECT", message: /ECONNREFUSED|connect/i },
  });
  await until("status text", () => statuses("st").includes("fault: EDGE_ERR_MODBUS_CONNECT"));
  t.match(statuses("all").at(-1), /^2 ok, 1 fault$/, "all devices: counts");

  lateSim = await startSunSpecInverterSim({ port: latePort });
  const ok = await until(
    "the device back",
    () => out("sink").find((m) => (m.payload as { status: string }).status === "ok"),
    15_000,
  );
  t.match(ok, { payload: { deviceId: "late-1", status: "ok", previous: "fault", code: null, message: null } });
  t.ok(
    out("every").some((m) => m.topic === "late-1"),
    "the all-devices node saw the transition",
  );
  await until("status ok", () => statuses("st").at(-1) === "ok");
});

t.test("write setpoint: verified writes, refusals on the second output, refresh", async (t) => {
  const out = await load(
    [
      { id: "inv", type: "steinmetz-device", device: "inverter-1" },
      { id: "meter", type: "steinmetz-device", device: "grid-meter" },
      { id: "nobody", type: "steinmetz-device", device: "no-such-device" },
      {
        id: "w",
        type: "steinmetz write setpoint",
        device: "inv",
        point: "power_limit_pct",
        refresh: 0.5,
        wires: [["ok"], ["err"]],
      },
      { id: "wm", type: "steinmetz write setpoint", device: "meter", point: "active_power", wires: [["ok"], ["err"]] },
      { id: "wn", type: "steinmetz write setpoint", device: "nobody", point: "x", wires: [["ok"], ["err"]] },
    ],
    ["ok", "err"],
  );
  const w = helper.getNode("w");
  writes.length = 0;
  w.receive({ payload: 50 });
  const written = await until("the write", () => out("ok")[0]);
  t.match(written, { payload: 50, write: { point: "power_limit_pct", raw: 500, readBack: 50, scaleFactor: -1 } });
  t.match(sim.snapshot(), { limitPct: 50 });
  await until("status", () => statuses("w").includes("power_limit_pct = 50 % ✓"));

  const refusals: [unknown, string][] = [
    [0, "refused-value"],
    [0.04, "refused-value"],
    [150, "above-max"],
    [-1, "below-min"],
    ["abc", "not-finite"],
  ];
  for (const [payload, reason] of refusals) {
    const before = out("err").length;
    w.receive({ payload });
    const m = await until(`refusal of ${payload}`, () => out("err")[before]);
    t.match(m.error, { code: "EDGE_ERR_WRITE_REFUSED", reason }, `${payload}: ${reason}`);
  }
  t.match(statuses("w").at(-1), "EDGE_ERR_WRITE_REFUSED (not-finite)");
  t.equal(calls("w", "error").length, 1, "node.error once for the same code, not per message");
  t.same(
    writes.map((x) => [x.register, x.value]),
    [["WMaxLimPct", 500]],
    "nothing refused reached the device",
  );
  t.match(sim.snapshot(), { limitPct: 50 });

  // Unchanged values: written once, again only when the refresh interval (0.5 s) has passed.
  writes.length = 0;
  const okBefore = out("ok").length;
  w.receive({ payload: 42 });
  w.receive({ payload: 42 });
  await until("42 written", () => out("ok").length > okBefore);
  await sleep(100);
  w.receive({ payload: 42 });
  await sleep(200);
  t.equal(writes.length, 1, "an unchanged value within the refresh interval is not rewritten");
  await sleep(300);
  w.receive({ payload: 42 });
  await until("the refresh write", () => writes.length === 2);
  t.ok(
    (writes[1]?.at ?? 0) - (writes[0]?.at ?? 0) >= 500,
    `refreshed after ${(writes[1]?.at ?? 0) - (writes[0]?.at ?? 0)} ms`,
  );

  helper.getNode("wm").receive({ payload: 1 });
  helper.getNode("wn").receive({ payload: 1 });
  await until("two more errors", () =>
    out("err").some((m) => (m.error as { code: string }).code === "EDGE_ERR_NOT_FOUND"),
  );
  await until("the meter's refusal", () =>
    out("err").some((m) => (m.error as { reason?: string }).reason === "not-writable"),
  );
});

t.test("publish reading: a computed value gets a seq; bad device ids are refused", async (t) => {
  const seen: FlowReading[] = [];
  const unsubscribe = agent.flowApi.onReadings((rs) => {
    for (const r of rs) if (r.deviceId === "virtual.house") seen.push(r);
  });
  t.teardown(unsubscribe);
  await load([
    { id: "p", type: "steinmetz publish reading", device: "virtual.house", point: "active_power", unit: "W" },
    { id: "bad", type: "steinmetz publish reading", device: "house", point: "active_power" },
    { id: "taken", type: "steinmetz publish reading", device: "virtual.house", point: "Bad-Point" },
  ]);
  const p = helper.getNode("p");
  p.receive({ payload: 1234.5, ts: 1_800_000_000_000 });
  p.receive({ payload: "77" });
  p.receive({ payload: "n/a" });
  await until("two readings committed", () => seen.length >= 2);
  t.match(seen[0], { point: "active_power", value: 1234.5, ts: 1_800_000_000_000, quality: "good", unit: "W" });
  t.equal(seen[1]?.value, 77);
  t.ok((seen[1]?.seq ?? 0) > (seen[0]?.seq ?? 0), "consecutive seqs");
  await until("the refusal of n/a", () => calls("p", "error").length === 1);
  t.match(
    String(calls("p", "error")[0]?.[0]),
    /^EDGE_ERR_PUBLISH_REFUSED: virtual.house\/active_power: NaN is not a finite number/,
  );
  helper.getNode("bad").receive({ payload: 1 });
  helper.getNode("taken").receive({ payload: 1 });
  await until("both refused", () => calls("bad", "error").length + calls("taken", "error").length === 2);
  t.match(
    String(calls("bad", "error")[0]?.[0]),
    /EDGE_ERR_PUBLISH_REFUSED: house\/active_power: a virtual device id starts with "virtual\."/,
  );
  t.match(String(calls("taken", "error")[0]?.[0]), /snake_case/);
  t.throws(() => agent.flowApi.publish("inverter-1", "x", 1), { code: "EDGE_ERR_PUBLISH_REFUSED" });
  await until("the refusal's status", () => statuses("p").at(-1) === "EDGE_ERR_PUBLISH_REFUSED");
  p.receive({ payload: 78 });
  await until("status", () => statuses("p").at(-1) === "active_power: 78 W");
  await until("the third reading", () => seen.length >= 3);
  t.same(
    seen.map((r) => r.value),
    [1234.5, 77, 78],
    "refused values stored nothing",
  );
});

t.test("a throwing flow listener never reaches the commit path", async (t) => {
  const unsubscribe = agent.flowApi.onReadings(() => {
    throw new Error("a flow bug");
  });
  const stopStates = agent.flowApi.onDeviceState(() => {
    throw new Error("another flow bug");
  });
  t.teardown(() => {
    unsubscribe();
    stopStates();
  });
  const before = agent.status().buffer.nextSeq;
  await until("more readings committed", () => agent.status().buffer.nextSeq > before + 50, 10_000);
  t.equal(agent.status().devices.find((d) => d.id === "inverter-1")?.state.status, "ok", "polling goes on");
});

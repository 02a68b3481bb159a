/**
 * Configuration changes applied to a running agent (real Modbus TCP simulators on 127.0.0.1, no
 * hub): only what changed is restarted, unchanged devices keep their poller and keep polling;
 * added devices start and show live values, removed ones stop; a changed connection reopens its
 * devices; an unconfigured appliance starts polling once a site is applied.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { findFreePort, startSunSpecInverterSim } from "@steinmetz/sim";
import pino from "pino";
import t from "tap";
import { stringify } from "yaml";
import type { DevicePoller } from "../src/acquisition/device-poller.js";
import { type EdgeAgent, startEdgeAgent } from "../src/agent.js";

const log = pino({ level: "silent" });

async function waitFor(what: string, check: () => boolean, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** Waits until the poller completed `n` more cycles. */
const cyclesMore = (poller: DevicePoller | undefined, n: number) => {
  const from = poller?.state.cycles ?? 0;
  return waitFor(`${n} more cycles of ${poller?.device.id}`, () => (poller?.state.cycles ?? 0) >= from + n);
};

const simA = await startSunSpecInverterSim();
const simB = await startSunSpecInverterSim();
t.teardown(async () => {
  await simA.close();
  await simB.close();
});

const device = (id: string, connection: string, pollIntervalMs = 100) => ({
  id,
  connection,
  profile: "inverter/sunspec-model103-tcp",
  pollIntervalMs,
  slowEvery: 1,
});
const baseSite = {
  site: { name: "Two links" },
  connections: [
    { id: "lan-a", type: "tcp", host: simA.host, port: simA.port, timeoutMs: 500 },
    { id: "lan-b", type: "tcp", host: simB.host, port: simB.port, timeoutMs: 500 },
  ],
  devices: [device("inv-a", "lan-a"), device("inv-b", "lan-b")],
};
type Site = typeof baseSite;

const dir = mkdtempSync(join(tmpdir(), "hot-apply-"));
const configFile = join(dir, "site.yaml");
writeFileSync(configFile, stringify(baseSite));
const agent: EdgeAgent = await startEdgeAgent({
  configFile,
  dataDir: dir,
  hubUrl: `127.0.0.1:${await findFreePort()}`, // no hub: readings stay buffered
  insecureDev: true,
  httpPort: 0,
  log,
  sync: { backoff: { initialDelayMs: 100, maxDelayMs: 500 } },
});
t.teardown(() => agent.close());
const { config } = agent.deps;

/** Applies a change of the current configuration on top of its version. */
async function change(edit: (site: Site) => void) {
  const { version, config: current } = config.current();
  const next = structuredClone(current) as Site;
  edit(next);
  return config.apply(next, { baseVersion: version, author: "test" });
}

await cyclesMore(agent.runtime.poller("inv-a"), 2);
await cyclesMore(agent.runtime.poller("inv-b"), 2);

t.test("a changed poll interval reopens only that device; the other keeps its poller and polls on", async (t) => {
  const a = agent.runtime.poller("inv-a");
  const b = agent.runtime.poller("inv-b");
  const bCycles = b?.state.cycles ?? 0;
  const result = await change((s) => {
    (s.devices[0] as { pollIntervalMs: number }).pollIntervalMs = 150;
  });
  t.same(result.applied, { reopened: ["inv-a"], added: [], removed: [], restarted: [] });
  t.equal(result.version, 2);
  t.equal(agent.runtime.poller("inv-b"), b, "inv-b: the same poller object");
  t.not(agent.runtime.poller("inv-a"), a, "inv-a: a new poller");
  t.equal(agent.runtime.poller("inv-a")?.device.pollIntervalMs, 150);
  t.ok((b?.state.cycles ?? 0) >= bCycles, "inv-b's cycle count was not reset");
  await cyclesMore(b, 3);
  await cyclesMore(agent.runtime.poller("inv-a"), 2);
  const aCycles = a?.state.cycles ?? 0;
  await sleep(300);
  t.equal(a?.state.cycles, aCycles, "the old inv-a poller stopped");
});

t.test("an added device starts and its readings appear in the live values", async (t) => {
  const result = await change((s) => {
    s.devices.push(device("inv-c", "lan-b"));
  });
  t.same(result.applied, { reopened: [], added: ["inv-c"], removed: [], restarted: [] });
  await waitFor("inv-c's live values", () => agent.deps.live.of("inv-c").get("active_power") !== undefined);
  t.ok(agent.status().devices.some((d) => d.id === "inv-c" && d.class === "inverter"));
});

t.test("a removed device stops and its live values are forgotten", async (t) => {
  const c = agent.runtime.poller("inv-c");
  const b = agent.runtime.poller("inv-b");
  const result = await change((s) => {
    s.devices = s.devices.filter((d) => d.id !== "inv-c");
  });
  t.same(result.applied, { reopened: [], added: [], removed: ["inv-c"], restarted: [] });
  t.equal(agent.runtime.poller("inv-c"), undefined);
  t.equal(agent.deps.live.of("inv-c").size, 0);
  t.notOk(agent.status().devices.some((d) => d.id === "inv-c"));
  const cycles = c?.state.cycles ?? 0;
  await sleep(300);
  t.equal(c?.state.cycles, cycles, "it polls no more");
  t.equal(agent.deps.live.of("inv-c").size, 0, "and nothing of it comes back");
  t.equal(agent.runtime.poller("inv-b"), b);
});

t.test("a changed connection timeout reopens the connection and its devices only", async (t) => {
  const a = agent.runtime.poller("inv-a");
  const b = agent.runtime.poller("inv-b");
  const linkA = agent.runtime.connection("lan-a");
  const linkB = agent.runtime.connection("lan-b");
  const result = await change((s) => {
    (s.connections[1] as { timeoutMs: number }).timeoutMs = 800;
  });
  t.same(result.applied, { reopened: ["inv-b"], added: [], removed: [], restarted: [] });
  t.not(agent.runtime.connection("lan-b"), linkB, "lan-b reopened");
  t.equal(agent.runtime.connection("lan-b")?.config.timeoutMs, 800);
  t.equal(agent.runtime.connection("lan-a"), linkA, "lan-a untouched");
  t.equal(agent.runtime.poller("inv-a"), a, "inv-a untouched");
  t.not(agent.runtime.poller("inv-b"), b);
  await cyclesMore(agent.runtime.poller("inv-b"), 2);
  await cyclesMore(a, 2);
});

t.test("buffer settings: what the buffer can change is applied live, rollups on/off need a restart", async (t) => {
  const live = await change((s) => {
    Object.assign(s, { buffer: { maxRows: 500_000, ttlMs: 3_600_000 } });
  });
  t.same(live.applied.restarted, []);
  t.match(agent.status().buffer.limits, { maxRows: 500_000, ttlMs: 3_600_000 });
  const later = await change((s) => {
    Object.assign(s, { buffer: { maxRows: 400_000, ttlMs: 3_600_000, rollupDays: 0 } });
  });
  t.same(later.applied.restarted, ["buffer-needs-restart"]);
  t.equal(agent.status().buffer.limits.maxRows, 400_000, "the rest is applied live");
  t.equal(agent.status().buffer.limits.rollupDays, 35, "the running buffer keeps its rollups");
});

t.test("status shows the link, its rate and the gaps list", async (t) => {
  const status = agent.status();
  t.match(status.sync, { enabled: true, disabledReason: null, sendRate: 0, ackedTotal: 0, connected: false });
  t.same(status.gaps, []);
  t.equal(status.configVersion, config.current().version);
});

t.test("an unconfigured appliance starts without devices and polls once a site is applied", async (t) => {
  const fresh = mkdtempSync(join(tmpdir(), "hot-apply-fresh-"));
  const appliance = await startEdgeAgent({ dataDir: fresh, insecureDev: false, httpPort: 0, log });
  t.teardown(() => appliance.close());
  t.same(appliance.deps.config.current(), { version: 0, config: null });
  const status = appliance.status();
  t.same(status.devices, []);
  t.equal(status.site, "");
  t.match(status.sync, { enabled: false, disabledReason: /no hub address.*no certificate/ });
  t.match(appliance.deps.tls.state(), { enrolled: false, insecureDev: false, hubUrl: null, fingerprint: null });

  const hubPort = await findFreePort();
  const result = await appliance.deps.config.apply(
    {
      site: { name: "Set up" },
      hub: { url: `127.0.0.1:${hubPort}` },
      connections: [baseSite.connections[0]],
      devices: [device("inv-1", "lan-a")],
    },
    { baseVersion: 0, author: "setup" },
  );
  t.match(result, { version: 1, author: "setup", applied: { added: ["inv-1"], reopened: [], removed: [] } });
  t.same(result.applied.restarted, [], "the link stays off without a certificate");
  await cyclesMore(appliance.runtime.poller("inv-1"), 2);
  await waitFor("inv-1's live values", () => appliance.deps.live.of("inv-1").size > 0);
  t.match(appliance.status(), { site: "Set up", configVersion: 1, devices: [{ id: "inv-1", class: "inverter" }] });
  t.match(appliance.status().sync, { enabled: false, hubUrl: `127.0.0.1:${hubPort}`, disabledReason: /certificate/ });
  t.match(appliance.deps.tls.state(), { hubUrl: `127.0.0.1:${hubPort}` });
});

t.test("a hub address applied to an agent in --insecure-dev starts the link", async (t) => {
  const fresh = mkdtempSync(join(tmpdir(), "hot-apply-hub-"));
  const appliance = await startEdgeAgent({ dataDir: fresh, insecureDev: true, httpPort: 0, log });
  t.teardown(() => appliance.close());
  t.match(appliance.status().sync, { enabled: false, disabledReason: /no hub address/ });
  const result = await appliance.deps.config.apply(
    { site: { name: "Linked" }, hub: { url: `127.0.0.1:${await findFreePort()}` } },
    { author: "setup" },
  );
  t.same(result.applied.restarted, ["sync"]);
  t.match(appliance.status().sync, { enabled: true, disabledReason: null });
});

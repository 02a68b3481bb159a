/**
 * The configuration store: atomic writes of the active file and the history, validation before
 * anything changes, optimistic concurrency by version, rollback, numbering across restarts, the
 * version recorded for a file found at start, the cap on kept versions; and, with a real agent,
 * that a refused configuration leaves the running devices alone.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startSunSpecInverterSim } from "@steinmetz/sim";
import pino from "pino";
import t from "tap";
import { parse, stringify } from "yaml";
import { startEdgeAgent } from "../src/agent.js";
import { ConfigStore, type ConfigStoreOptions } from "../src/config/config-store.js";
import type { LoadedSite } from "../src/config/load-site.js";
import { ConfigInvalidError, type EdgeError } from "../src/errors.js";
import type { AppliedChange } from "../src/http/deps.js";

const log = pino({ level: "silent" });
const noChange: AppliedChange = { reopened: [], added: [], removed: [], restarted: [] };

const site = (name: string, devices = 1) => ({
  site: { name },
  connections: [{ id: "lan", type: "tcp", host: "127.0.0.1", port: 1502 }],
  devices: Array.from({ length: devices }, (_, i) => ({
    id: `inv-${i + 1}`,
    connection: "lan",
    profile: "inverter/sunspec-model103-tcp",
  })),
});

/** A store over a fresh directory; `applied` collects the sites handed to the agent. */
function open(dir = mkdtempSync(join(tmpdir(), "config-store-")), extra: Partial<ConfigStoreOptions> = {}) {
  const applied: LoadedSite[] = [];
  const file = join(dir, "site.yaml");
  const historyDir = join(dir, "config-history");
  const store = ConfigStore.open({
    file,
    historyDir,
    log,
    apply: async (s) => {
      applied.push(s);
      return noChange;
    },
    ...extra,
  });
  return { store, applied, dir, file, historyDir };
}

const leftovers = (...dirs: string[]) => dirs.flatMap((d) => readdirSync(d).filter((n) => n.includes(".tmp")));

t.test("a fresh appliance has no configuration; the first apply writes file and history", async (t) => {
  const { store, applied, dir, file, historyDir } = open();
  t.same(store.current(), { version: 0, config: null });
  t.same(store.versions(), []);

  const result = await store.apply({ site: { name: "New site" } }, { baseVersion: 0, author: "setup" });
  t.match(result, { version: 1, author: "setup", comment: "", applied: noChange });
  t.equal(applied.length, 1, "the agent got the checked site");
  t.same(applied[0]?.config.devices, [], "defaults filled in for the agent");
  t.equal(readFileSync(file, "utf8"), stringify({ site: { name: "New site" } }));
  t.equal(statSync(file).mode & 0o777, 0o600, "the site file is private (it may hold MQTT passwords)");
  t.equal(readFileSync(join(historyDir, "000001.yaml"), "utf8"), readFileSync(file, "utf8"));
  t.equal(statSync(join(historyDir, "000001.yaml")).mode & 0o777, 0o600);
  const index = JSON.parse(readFileSync(join(historyDir, "index.json"), "utf8"));
  t.match(index, { lastVersion: 1, versions: [{ version: 1, author: "setup" }] });
  t.same(store.current(), { version: 1, config: { site: { name: "New site" } } }, "stored form, no defaults");
  t.same(leftovers(dir, historyDir), [], "no temporary files left");
  t.ok(!Number.isNaN(Date.parse(result.at)), "ISO time");
});

t.test("an invalid configuration changes nothing", async (t) => {
  const { store, applied, file } = open();
  await store.apply(site("A"), { author: "u" });
  const bytes = readFileSync(file);
  const before = store.versions();
  const err = await store
    .apply({ ...site("A"), devices: [{ id: "x", connection: "nowhere", profile: "inverter/nope" }] }, { author: "u" })
    .catch((e: unknown) => e);
  t.type(err, ConfigInvalidError);
  t.equal((err as EdgeError).code, "EDGE_ERR_CONFIG_INVALID");
  t.match((err as ConfigInvalidError).problems, [{ path: "/devices/0/connection", message: /no connection "?/ }]);
  await t.rejects(store.apply({ site: {} }, { author: "u" }), { code: "EDGE_ERR_CONFIG_INVALID" });
  t.same(readFileSync(file), bytes, "file unchanged");
  t.same(store.versions(), before, "no version recorded");
  t.equal(applied.length, 1, "the agent was not called");
  t.equal(store.current().version, 1);
});

t.test("a stale base version is a conflict; concurrent applies are serialised", async (t) => {
  const { store } = open();
  await store.apply(site("A"), { author: "u" });
  await store.apply(site("B"), { baseVersion: 1, author: "u" });
  await t.rejects(store.apply(site("C"), { baseVersion: 1, author: "u" }), {
    code: "EDGE_ERR_CONFIG_CONFLICT",
    name: "EdgeError",
  });
  const both = await Promise.allSettled([
    store.apply(site("D"), { baseVersion: 2, author: "first" }),
    store.apply(site("E"), { baseVersion: 2, author: "second" }),
  ]);
  t.match(both, [
    { status: "fulfilled", value: { version: 3 } },
    { status: "rejected", reason: { code: "EDGE_ERR_CONFIG_CONFLICT" } },
  ]);
  t.equal((store.current().config as { site: { name: string } }).site.name, "D");
});

t.test("rollback applies an earlier version again as a new version", async (t) => {
  const { store, file, applied } = open();
  await store.apply(site("A"), { author: "u", comment: "first" });
  await store.apply(site("B", 2), { author: "u" });
  const back = await store.rollback(1, "admin");
  t.match(back, { version: 3, author: "admin", comment: "rollback to version 1" });
  t.equal(readFileSync(file, "utf8"), store.version(1).yaml);
  t.equal(store.version(3).yaml, store.version(1).yaml);
  t.same(
    applied.at(-1)?.config.devices.map((d) => d.id),
    ["inv-1"],
  );
  t.same(
    store.versions().map((v) => v.version),
    [3, 2, 1],
    "newest first",
  );
  t.throws(() => store.version(42), { code: "EDGE_ERR_NOT_FOUND" });
  await t.rejects(store.rollback(42, "admin"), { code: "EDGE_ERR_NOT_FOUND" });
});

t.test("version numbers survive a restart; a file changed outside is recorded as author 'file'", async (t) => {
  const first = open();
  await first.store.apply(site("A"), { author: "u" });
  await first.store.apply(site("B"), { author: "u" });
  const again = open(first.dir);
  t.equal(again.store.current().version, 2, "same file, same version: nothing recorded");
  t.equal(again.store.versions().length, 2);
  t.match(await again.store.apply(site("C"), { baseVersion: 2, author: "u" }), { version: 3 });

  writeFileSync(first.file, "# edited by hand\nsite: { name: Hand }\n");
  const third = open(first.dir);
  t.match(third.store.versions()[0], { version: 4, author: "file" });
  t.equal(third.store.version(4).yaml, "# edited by hand\nsite: { name: Hand }\n", "the file's text as is");
  t.same(third.store.current(), { version: 4, config: { site: { name: "Hand" } } });
});

t.test("a file found at start without history becomes version 1 by 'file'; an invalid one is refused", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "config-store-"));
  writeFileSync(join(dir, "site.yaml"), stringify(site("Found")));
  const { store } = open(dir);
  t.match(store.versions(), [{ version: 1, author: "file" }]);
  t.equal(store.current().version, 1);

  const bad = mkdtempSync(join(tmpdir(), "config-store-"));
  writeFileSync(join(bad, "site.yaml"), "site: { name: '' }\n");
  t.throws(() => open(bad), { code: "EDGE_ERR_CONFIG_INVALID", message: /\/site\/name/ });
});

t.test("at most 200 versions are kept; numbers are never reused", async (t) => {
  const { store, historyDir } = open();
  for (let i = 1; i <= 205; i++) await store.apply({ site: { name: `v${i}` } }, { author: "u" });
  const versions = store.versions();
  t.equal(versions.length, 200);
  t.equal(versions[0]?.version, 205);
  t.equal(versions.at(-1)?.version, 6);
  t.throws(() => store.version(5), { code: "EDGE_ERR_NOT_FOUND" });
  t.equal(readdirSync(historyDir).filter((n) => n.endsWith(".yaml")).length, 200, "dropped files are deleted");
  const again = open(join(historyDir, ".."));
  t.match(await again.store.apply({ site: { name: "next" } }, { author: "u" }), { version: 206 });
});

t.test("a refused configuration leaves the running agent's devices alone", async (t) => {
  const sim = await startSunSpecInverterSim();
  t.teardown(() => sim.close());
  const dir = mkdtempSync(join(tmpdir(), "config-agent-"));
  const file = join(dir, "site.yaml");
  writeFileSync(
    file,
    stringify({
      site: { name: "Running" },
      connections: [{ id: "lan", type: "tcp", host: sim.host, port: sim.port, timeoutMs: 500 }],
      devices: [{ id: "inv", connection: "lan", profile: "inverter/sunspec-model103-tcp", pollIntervalMs: 100 }],
    }),
  );
  const agent = await startEdgeAgent({ configFile: file, dataDir: dir, insecureDev: true, httpPort: 0, log });
  t.teardown(() => agent.close());
  const poller = agent.runtime.poller("inv");
  const bytes = readFileSync(file);
  const current = agent.deps.config.current();
  t.equal(current.version, 1);
  const broken = structuredClone(current.config) as { devices: { pollIntervalMs: unknown }[] };
  (broken.devices[0] as { pollIntervalMs: unknown }).pollIntervalMs = 5;
  await t.rejects(agent.deps.config.apply(broken, { baseVersion: 1, author: "u" }), {
    code: "EDGE_ERR_CONFIG_INVALID",
    problems: [{ path: "/devices/0/pollIntervalMs" }],
  });
  t.same(readFileSync(file), bytes);
  t.equal(agent.deps.config.versions().length, 1);
  t.equal(agent.runtime.poller("inv"), poller, "same poller");
  const cycles = poller?.state.cycles ?? 0;
  const deadline = Date.now() + 5000;
  while ((poller?.state.cycles ?? 0) < cycles + 3 && Date.now() < deadline) await sleep(50);
  t.ok((poller?.state.cycles ?? 0) >= cycles + 3, "and it keeps polling");
  t.same(parse(readFileSync(file, "utf8")), current.config);
});

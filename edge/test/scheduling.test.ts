/** Polling tiers, report-on-change with snapshots, and overrun detection, against a real Modbus server. */
import { Quality } from "@steinmetz/proto";
import pino from "pino";
import t, { type Test } from "tap";
import { DevicePoller } from "../src/acquisition/device-poller.js";
import { ModbusConnection } from "../src/acquisition/modbus-connection.js";
import type { NewReading } from "../src/buffer/reading-buffer.js";
import type { DeviceConfig } from "../src/config/site-schema.js";
import { loopback } from "./support/connection.js";
import { inverterProfileWith } from "./support/profiles.js";
import { startRegisterServer } from "./support/register-server.js";

const log = pino({ level: "silent" });
const profile = inverterProfileWith([
  { id: "active_power", address: 100, type: "int16" },
  { id: "frequency", address: 101, type: "uint16", scale: { factor: 0.01 } },
  { id: "energy_exported", address: 200, type: "acc32", tier: "slow" },
]);

async function setup(t: Test, device: Partial<DeviceConfig>) {
  const holding = new Map<number, number>([
    [100, 5000],
    [101, 5000],
    [200, 0],
    [201, 777],
  ]);
  const server = await startRegisterServer({ holding });
  t.teardown(() => server.close());
  const conn = new ModbusConnection(loopback(server.port, { id: "c" }), log);
  t.teardown(() => conn.close());
  let now = 0;
  const committed: NewReading[][] = [];
  const poller = new DevicePoller(
    { id: "d", connection: "c", profile: "x/y", pollIntervalMs: 1000, slowEvery: 3, ...device },
    { connection: conn, profile, log, commit: (r) => committed.push(r), now: () => now },
  );
  return {
    server,
    conn,
    holding,
    poller,
    committed,
    advance: (ms: number) => {
      now += ms;
    },
    points: (i: number) => (committed[i] ?? []).map((r) => `${r.point}=${r.value}`),
  };
}

t.test("slow-tier points are read every slowEvery-th cycle, fast ones every cycle", async (t) => {
  const { server, poller, points } = await setup(t, {});
  for (let i = 0; i < 4; i++) await poller.cycle();
  t.same(server.requests, [
    "holding:100+2",
    "holding:200+2",
    "holding:100+2",
    "holding:100+2",
    "holding:100+2",
    "holding:200+2",
  ]);
  t.same(points(0), ["active_power=5000", "frequency=50", "energy_exported=777"]);
  t.same(points(1), ["active_power=5000", "frequency=50"]);
});

t.test("report-on-change commits changes beyond the deadband and a periodic snapshot", async (t) => {
  const { holding, poller, committed, advance, points } = await setup(t, {
    slowEvery: 1,
    reportOnChange: { deadbandPct: 1, snapshotEveryMs: 60_000 },
  });
  await poller.cycle();
  t.same(points(0), ["active_power=5000", "frequency=50", "energy_exported=777"], "first cycle: everything");
  advance(1000);
  holding.set(100, 5040); // +0.8 %: inside the deadband
  await poller.cycle();
  t.same(points(1), [], "nothing changed enough");
  advance(1000);
  holding.set(100, 5100); // +2 % against the last committed 5000
  holding.set(201, 800); // +3 %
  await poller.cycle();
  t.same(points(2), ["active_power=5100", "energy_exported=800"]);
  advance(58_000);
  await poller.cycle();
  t.same(points(3), ["active_power=5100", "frequency=50", "energy_exported=800"], "snapshot after 60 s");
  holding.set(101, 0xffff); // becomes not implemented: a quality change is always reported
  advance(1000);
  await poller.cycle();
  t.match(committed[4], [{ point: "frequency", quality: Quality.QUALITY_NOT_IMPLEMENTED, value: null }]);
});

t.test("a cycle longer than the interval counts as an overrun", async (t) => {
  const { conn } = await setup(t, {});
  let clock = 0;
  const overruns: boolean[] = [];
  const poller = new DevicePoller(
    { id: "d", connection: "c", profile: "x/y", pollIntervalMs: 100, slowEvery: 1 },
    {
      connection: conn,
      profile,
      log,
      commit: () => undefined,
      now: () => (clock += 150), // every clock read is 150 ms later than the one before
      onCycle: (_ok, _ms, overran) => overruns.push(overran),
    },
  );
  await poller.cycle();
  t.equal(poller.state.overruns, 1);
  t.same(overruns, [true]);
});

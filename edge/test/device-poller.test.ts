/** Polling through a shared real Modbus TCP connection: healthy and failing devices side by side. */
import { Quality } from "@steinmetz/proto";
import { startSunSpecInverterSim } from "@steinmetz/sim";
import pino from "pino";
import t from "tap";
import { DevicePoller } from "../src/acquisition/device-poller.js";
import { ModbusConnection } from "../src/acquisition/modbus-connection.js";
import type { NewReading } from "../src/buffer/reading-buffer.js";
import { loadProfile } from "../src/profile/load-profile.js";
import { loopback } from "./support/connection.js";
import { imageOf, startRegisterServer } from "./support/register-server.js";

const log = pino({ level: "silent" });
const sim = await startSunSpecInverterSim();
t.teardown(() => sim.close());
const tcp = (id: string, port: number) => loopback(port, { id });
const connection = new ModbusConnection(tcp("lan", sim.port), log);
t.teardown(() => connection.close());
const inverter = loadProfile("inverter/sunspec-model103-tcp");

function poller(id: string, unitId: number, profile = inverter) {
  const committed: NewReading[][] = [];
  let now = 1_000;
  const p = new DevicePoller(
    { id, connection: "lan", unitId, profile: "inverter/sunspec-model103-tcp", pollIntervalMs: 1000, slowEvery: 1 },
    { connection, profile, log, commit: (r) => committed.push(r), now: () => now, clockSynced: () => true },
  );
  return { p, committed, tick: (ms: number) => (now += ms) };
}

t.test("a healthy device commits one reading per point per cycle", async (t) => {
  const { p, committed } = poller("inv", 1);
  t.equal(await p.cycle(), true);
  t.equal(await p.cycle(), true);
  t.equal(committed.length, 2);
  t.equal(committed[0]?.length, inverter.profile.points.length);
  t.match(p.state, { status: "ok", lastError: null, cycles: 2, failedCycles: 0, requestsPerCycle: 1 });
  t.ok(committed[0]?.every((r) => r.deviceId === "inv" && r.ts === 1_000 && r.clockSynced));
});

t.test("a silent unit id goes to fault once, with comm-error readings, and never blocks its neighbour", async (t) => {
  const silent = poller("ghost", 7);
  const healthy = poller("inv", 1);
  const results = await Promise.all([silent.p.cycle(), healthy.p.cycle(), silent.p.cycle(), healthy.p.cycle()]);
  t.same(results, [false, true, false, true]);
  t.match(silent.p.state, { status: "fault", since: 1_000, lastError: { code: "EDGE_ERR_MODBUS_TIMEOUT" } });
  t.equal(silent.committed.length, 1, "comm-error readings only at the transition into fault");
  t.ok(silent.committed[0]?.every((r) => r.quality === Quality.QUALITY_COMM_ERROR && r.value === null));
  t.equal(silent.p.state.failedCycles, 2);
  t.equal(healthy.p.state.status, "ok");
});

t.test("coalescing, a barrier learned from exception 02, unsupported points, and other exceptions", async (t) => {
  // Registers 100..109 and 140..149 (holding) and 10..11 (input) exist; 110..139 is a hole.
  const server = await startRegisterServer({
    holding: imageOf([
      [100, 110],
      [140, 150],
      [10, 12],
    ]),
  });
  t.teardown(() => server.close());
  const conn = new ModbusConnection(tcp("gw", server.port), log);
  t.teardown(() => conn.close());
  const profile = structuredClone(inverter);
  profile.profile.points = [
    { id: "active_power", address: 100, type: "int16", scale: { register: 101 } },
    { id: "frequency", address: 105, type: "uint16" },
    { id: "dc_power", address: 140, type: "uint32" }, // 35 registers past 105: bridged only when the gap ≤ maxGap
    { id: "dc_voltage", address: 10, type: "uint16", function: "input" },
    { id: "cabinet_temperature", address: 300, type: "int16" }, // not in this device's map
  ];
  const committed: NewReading[][] = [];
  const p = new DevicePoller(
    { id: "dev", connection: "gw", unitId: 1, profile: "x/y", pollIntervalMs: 1000, slowEvery: 1 },
    { connection: conn, profile, log, commit: (r) => committed.push(r) },
  );
  t.equal(p.state.requestsPerCycle, 4, "planned: 100..105, 140..141, input 10, 300");
  t.equal(await p.cycle(), true);
  t.same(server.requests, ["holding:100+6", "holding:140+2", "holding:300+1", "input:10+1"]);
  const byPoint = Object.fromEntries((committed[0] ?? []).map((r) => [r.point, r]));
  t.match(byPoint.active_power, { value: 100 * 10 ** 101, quality: Quality.QUALITY_GOOD });
  t.match(byPoint.dc_power, { value: 140 * 65536 + 141 });
  t.match(byPoint.dc_voltage, { value: 10 });
  t.match(byPoint.cabinet_temperature, { value: null, quality: Quality.QUALITY_NOT_IMPLEMENTED });
  t.equal(p.state.requestsPerCycle, 4);
  server.requests.length = 0;
  t.equal(await p.cycle(), true);
  t.same(server.requests, ["holding:100+6", "holding:140+2", "input:10+1"], "the missing point is not asked again");

  // A wider gap allowance bridges 106..139 - and the device refuses the hole: learn a cut.
  const wide = new ModbusConnection({ ...tcp("gw2", server.port), maxGap: 40 }, log);
  t.teardown(() => wide.close());
  const q = new DevicePoller(
    { id: "dev2", connection: "gw2", unitId: 1, profile: "x/y", pollIntervalMs: 1000, slowEvery: 1 },
    { connection: wide, profile, log, commit: (r) => committed.push(r) },
  );
  server.requests.length = 0;
  t.equal(await q.cycle(), true, "the cycle still succeeds");
  t.same(server.requests, ["holding:100+42", "holding:100+6", "holding:140+2", "holding:300+1", "input:10+1"]);
  server.requests.length = 0;
  await q.cycle();
  t.same(server.requests, ["holding:100+6", "holding:140+2", "input:10+1"], "the barrier is remembered");

  server.failAt(140, 4);
  t.equal(await q.cycle(), false, "any other exception is a device fault");
  t.match(q.state.lastError, {
    code: "EDGE_ERR_MODBUS_EXCEPTION",
    message: "Modbus exception 4: server device failure at 140",
  });
});

t.test("a device that comes back is ok again, since the moment it recovered", async (t) => {
  const other = await startSunSpecInverterSim();
  const port = other.port;
  const conn = new ModbusConnection(tcp("b", port), log);
  t.teardown(() => conn.close());
  let now = 0;
  const p = new DevicePoller(
    {
      id: "inv",
      connection: "b",
      unitId: 1,
      profile: "inverter/sunspec-model103-tcp",
      pollIntervalMs: 1000,
      slowEvery: 1,
    },
    { connection: conn, profile: inverter, log, commit: () => undefined, now: () => now },
  );
  t.equal(await p.cycle(), true);
  await other.close();
  now = 5_000;
  t.equal(await p.cycle(), false, "server gone");
  t.match(p.state, { status: "fault", since: 5_000 });
  const back = await startSunSpecInverterSim({ port });
  t.teardown(() => back.close());
  now = 9_000;
  t.equal(await p.cycle(), true, "reconnected");
  t.match(p.state, { status: "ok", since: 9_000, lastError: null });
});

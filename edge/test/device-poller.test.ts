/** Polling through a shared real Modbus TCP connection: healthy and failing devices side by side. */
import { Quality } from "@steinmetz/proto";
import { startSunSpecInverterSim } from "@steinmetz/sim";
import pino from "pino";
import t from "tap";
import { DevicePoller } from "../src/acquisition/device-poller.js";
import { ModbusTcpConnection } from "../src/acquisition/modbus-tcp-connection.js";
import type { NewReading } from "../src/buffer/reading-buffer.js";
import { loadProfile } from "../src/profile/load-profile.js";

const log = pino({ level: "silent" });
const sim = await startSunSpecInverterSim();
t.teardown(() => sim.close());
const connection = new ModbusTcpConnection(
  { id: "lan", type: "tcp", host: sim.host, port: sim.port, timeoutMs: 300, delayBetweenRequestsMs: 0 },
  log,
);
t.teardown(() => connection.close());
const inverter = loadProfile("inverter/sunspec-model103-tcp");

function poller(id: string, unitId: number, profile = inverter) {
  const committed: NewReading[][] = [];
  let now = 1_000;
  const p = new DevicePoller(
    { id, connection: "lan", unitId, profile: "inverter/sunspec-model103-tcp", pollIntervalMs: 1000 },
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

t.test("an exception answer keeps the Modbus code and the address in words", async (t) => {
  const broken = structuredClone(inverter);
  broken.profile.blocks = [{ address: 40200, count: 10 }];
  broken.profile.points = [{ id: "active_power", address: 40200, type: "int16" }];
  const { p } = poller("odd", 1, broken);
  t.equal(await p.cycle(), false);
  t.match(p.state.lastError, {
    code: "EDGE_ERR_MODBUS_EXCEPTION",
    message: "Modbus exception 2: illegal data address at 40200",
  });
});

t.test("a device that comes back is ok again, since the moment it recovered", async (t) => {
  const other = await startSunSpecInverterSim();
  const port = other.port;
  const conn = new ModbusTcpConnection(
    { id: "b", type: "tcp", host: other.host, port, timeoutMs: 300, delayBetweenRequestsMs: 0 },
    log,
  );
  t.teardown(() => conn.close());
  let now = 0;
  const p = new DevicePoller(
    { id: "inv", connection: "b", unitId: 1, profile: "inverter/sunspec-model103-tcp", pollIntervalMs: 1000 },
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

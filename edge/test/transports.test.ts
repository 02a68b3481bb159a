/** Shared connections: RTU framing through a gateway, dead units, single-connection devices. */
import { startRtuOverTcpServer } from "@steinmetz/sim";
import pino from "pino";
import t from "tap";
import { DevicePoller } from "../src/acquisition/device-poller.js";
import { ModbusConnection } from "../src/acquisition/modbus-connection.js";
import type { NewReading } from "../src/buffer/reading-buffer.js";
import type { ConnectionConfig } from "../src/config/site-schema.js";
import { loopback } from "./support/connection.js";
import { inverterProfileWith } from "./support/profiles.js";
import { imageOf, startRegisterServer } from "./support/register-server.js";

const log = pino({ level: "silent" });
/** A small profile: power at 100 (scale factor at 101) and energy at 102..103. */
const profile = inverterProfileWith([
  { id: "active_power", address: 100, type: "int16", scale: { register: 101 } },
  { id: "energy_exported", address: 102, type: "acc32" },
]);
const connection = (type: ConnectionConfig["type"], port: number) => loopback(port, { id: type, type });

function pollers(conn: ModbusConnection, unitIds: number[]) {
  return unitIds.map((unitId) => {
    const committed: NewReading[][] = [];
    const poller = new DevicePoller(
      { id: `unit-${unitId}`, connection: conn.config.id, unitId, profile: "x/y", pollIntervalMs: 1000, slowEvery: 1 },
      { connection: conn, profile, log, commit: (r) => committed.push(r) },
    );
    return { poller, committed, values: () => Object.fromEntries((committed[0] ?? []).map((r) => [r.point, r.value])) };
  });
}

t.test("RTU frames through a gateway: three units on one line, a dead one only costs its timeout", async (t) => {
  const server = await startRtuOverTcpServer((unitId, fn, address, count) => {
    if (unitId === 3) throw new Error("unit 3 is not on the bus"); // stays silent
    const image = [unitId * 1000, 0xffff, 0, 12345 * unitId]; // 100: W, 101: W_SF -1, 102..103: WH
    if (fn !== 3 || address < 100 || address + count > 104) throw { modbusErrorCode: 2 };
    return image.slice(address - 100, address - 100 + count);
  });
  t.teardown(() => server.close());
  const conn = new ModbusConnection(connection("rtu-over-tcp", server.port), log);
  t.teardown(() => conn.close());
  const [one, two, dead] = pollers(conn, [1, 2, 3]);
  if (!one || !two || !dead) throw new Error("pollers missing");
  const started = Date.now();
  const deadCycle = dead.poller.cycle(); // queued first on the shared line
  const twoDone = two.poller.cycle().then((ok) => ({ ok, ms: Date.now() - started }));
  t.equal(await one.poller.cycle(), true);
  const { ok, ms } = await twoDone;
  t.equal(ok, true);
  t.equal(await deadCycle, false);
  t.match(dead.poller.state.lastError, { code: "EDGE_ERR_MODBUS_TIMEOUT" });
  t.ok(ms < 300 + 1500, `unit 2 waited ${ms} ms behind the dead unit's 300 ms timeout, not more`);
  t.same(one.values(), { active_power: 100, energy_exported: 12345 });
  t.same(two.values(), { active_power: 200, energy_exported: 24690 });
  t.equal(server.badFrames(), 0, "every frame's CRC was right");
  t.equal(conn.config.maxGap, undefined, "RTU framing plans with the RTU gap default");
});

t.test("a device that accepts a single TCP connection serves three devices behind it", async (t) => {
  const server = await startRegisterServer({
    holding: imageOf([[100, 104]], (a) => (a === 101 ? 0 : a)),
    unitId: 255,
    maxConnections: 1,
  });
  t.teardown(() => server.close());
  const conn = new ModbusConnection(connection("tcp", server.port), log);
  t.teardown(() => conn.close());
  const devices = pollers(conn, [1, 2, 3]);
  for (let round = 0; round < 3; round++) {
    const results = await Promise.all(devices.map((d) => d.poller.cycle()));
    t.same(results, [true, true, true], `round ${round}: all three read over the one connection`);
  }
  t.same(devices[2]?.values(), { active_power: 100, energy_exported: 102 * 65536 + 103 });
});

t.test("connections are validated by type", async (t) => {
  const { checkSite } = await import("../src/config/load-site.js");
  const site = (connection: object) => ({
    site: { name: "x" },
    connections: [{ id: "c", ...connection }],
    devices: [{ id: "d", connection: "c", profile: "inverter/sunspec-model103-tcp" }],
  });
  t.throws(
    () => checkSite("s.yaml", site({ type: "rtu", baudRate: 9600 })),
    /\/connections\/0: a rtu connection needs "path"/,
  );
  t.throws(() => checkSite("s.yaml", site({ type: "rtu-over-tcp", host: "gw" })), /needs "port"/);
  t.ok(checkSite("s.yaml", site({ type: "rtu", path: "/dev/ttyUSB0", baudRate: 19200, parity: "even" })));
});

t.test("an unreachable endpoint is retried after a backoff shared by every device on it", async (t) => {
  const { findFreePort } = await import("@steinmetz/sim");
  const conn = new ModbusConnection(connection("tcp", await findFreePort()), log);
  t.teardown(() => conn.close());
  await t.rejects(conn.readRegisters(1, "holding", 0, 1), {
    code: "EDGE_ERR_MODBUS_CONNECT",
    message: /cannot connect/,
  });
  await t.rejects(conn.readRegisters(2, "holding", 0, 1), {
    code: "EDGE_ERR_MODBUS_CONNECT",
    message: /unreachable; next attempt in \d+ s/,
  });
});

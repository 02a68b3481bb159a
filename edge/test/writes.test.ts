/**
 * Point writes against the simulated inverter with SunSpec model 123 (immediate controls) on
 * 127.0.0.1, through a real ModbusConnection: power limit, refusals, exceptions, revert timeout.
 */
import { findFreePort, SUNSPEC_BASE, startSunSpecInverterSim } from "@steinmetz/sim";
import ModbusRTU from "modbus-serial";
import pino from "pino";
import t, { type Test } from "tap";
import { decodePoint } from "../src/acquisition/decode.js";
import { ModbusConnection, type WriteFunction } from "../src/acquisition/modbus-connection.js";
import { PointWriter } from "../src/acquisition/writes.js";
import { EdgeError, ModbusExceptionError, WriteRefusedError, WriteVerifyError } from "../src/errors.js";
import type { Profile } from "../src/profile/profile-schema.js";
import { discoverSunSpec } from "../src/sunspec/discovery.js";

/** The simulator's layout at base 40000: "SunS", model 1 (2 + 66), model 103 (2 + 50), model 123 (2 + 24). */
const M103 = SUNSPEC_BASE + 2 + 68;
const M123 = M103 + 52;
/** Model 123 registers (offsets from its ID register, see edge/src/sunspec/models.ts). */
const WMAXLIMPCT = M123 + 5;
const WMAXLIMPCT_WINTMS = M123 + 6;
const WMAXLIMPCT_RVRTTMS = M123 + 7;
const WMAXLIM_ENA = M123 + 9;
const WMAXLIMPCT_SF = M123 + 23;

/** A June noon (12:30 CET): the simulated inverter produces well above half its rating. */
const NOON = Date.UTC(2026, 5, 21, 11, 30);
/** Simulated seconds per real second; the tests move the injected clock instead of waiting. */
const SPEED = 10;

const tcp = (port: number) =>
  ({
    id: "lan",
    type: "tcp",
    host: "127.0.0.1",
    port,
    timeoutMs: 500,
    delayBetweenRequestsMs: 0,
    pauseAfterConnectMs: 0,
    maxRegistersPerRead: 125,
    maxGap: 31,
  }) as const;

/** A ModbusConnection that counts the writes it sends. */
class CountingConnection extends ModbusConnection {
  readonly writes: { address: number; words: readonly number[]; fn: WriteFunction }[] = [];
  override writeRegisters(unitId: number, address: number, words: readonly number[], fn: WriteFunction) {
    this.writes.push({ address, words, fn });
    return super.writeRegisters(unitId, address, words, fn);
  }
}

/** A small inverter profile with the power-limit points of model 123 and two model 103 points. */
const profile: Profile = {
  id: "sim-controls",
  class: "inverter",
  brand: "SteinmetZ",
  product: "SIM-TRI-10K",
  protocol: "modbus-tcp",
  defaults: { unitId: 1, maxRegistersPerRead: 125 },
  sentinels: "sunspec",
  points: [
    {
      id: "power_limit_pct",
      address: WMAXLIMPCT,
      type: "uint16",
      scale: { register: WMAXLIMPCT_SF },
      // A 0 % limit is refused as an example of an unsafe value: many inverters treat 0 % as
      // "stop feeding in" (or even disconnect and need a manual restart), which a zero-export
      // controller must never command by accident; it would rather write the smallest safe limit.
      write: { min: 0, max: 100, refuse: [0] },
    },
    {
      id: "power_limit_revert_timeout",
      address: WMAXLIMPCT_RVRTTMS,
      type: "uint16",
      // No max: the register type's range (and SunSpec's "not implemented" 0xFFFF) bound it. Written with function 16.
      write: { function: "multiple", min: 0 },
    },
    { id: "power_limit_enabled", address: WMAXLIM_ENA, type: "enum16", write: { min: 0, max: 1 } },
    // Read-only: no write metadata.
    { id: "frequency", address: M103 + 16, type: "uint16", scale: { register: M103 + 17 } },
    // Wrongly declared writable: the device answers the write with an exception.
    { id: "active_power", address: M103 + 14, type: "int16", scale: { register: M103 + 15 }, write: {} },
    { id: "power_limit_window", address: WMAXLIMPCT_WINTMS, type: "uint16", write: { verify: false } },
  ],
};

/** A pino logger whose lines the test can inspect. */
function capturingLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

async function setup(t: Test) {
  let now = NOON;
  const sim = await startSunSpecInverterSim({ controls: true, now: () => now, speed: SPEED, ratedPowerW: 10_000 });
  t.teardown(() => sim.close());
  const { log, lines } = capturingLog();
  const connection = new CountingConnection(tcp(sim.port), log);
  t.teardown(() => connection.close());
  const writer = new PointWriter({ connection, profile, deviceId: "inv-1", log });
  /** Reads one register of the simulator (which also brings it up to the current time). */
  const read = async (address: number) => (await connection.readRegisters(1, "holding", address, 1))[0];
  /** Active power as the inverter reports it (model 103 W, W_SF 0). */
  const power = async () => {
    const words = await connection.readRegisters(1, "holding", M103 + 14, 2);
    return decodePoint({ address: M103 + 14, type: "int16", scaleRegister: M103 + 15 }, words, M103 + 14).value;
  };
  return { sim, connection, writer, lines, read, power, advance: (realMs: number) => (now += realMs) };
}

/** The error a promise rejects with. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected a rejection");
}

t.test("model 123 follows model 103 and shifts the meter and end marker", async (t) => {
  for (const meter of [false, true]) {
    const sim = await startSunSpecInverterSim({ controls: true, meter });
    const connection = new ModbusConnection(tcp(sim.port), pino({ level: "silent" }));
    try {
      const found = await discoverSunSpec((a, c) => connection.readRegisters(1, "holding", a, c));
      t.same(found?.devices[0]?.models, [
        { id: 1, address: SUNSPEC_BASE + 2, length: 66 },
        { id: 103, address: M103, length: 50 },
        { id: 123, address: M123, length: 24 },
      ]);
      if (meter) {
        t.same(found?.devices[1]?.models, [
          { id: 1, address: M123 + 26, length: 66 },
          { id: 203, address: M123 + 26 + 68, length: 105 },
        ]);
      } else t.equal(found?.devices.length, 1);
    } finally {
      await connection.close();
      await sim.close();
    }
  }
});

t.test("a power limit written and enabled caps the inverter, verified by read-back", async (t) => {
  const { sim, connection, writer, lines, read, power } = await setup(t);
  const before = await power();
  t.ok(before !== null && before > 6000, `unlimited noon power ${before} W`);
  t.match(sim.snapshot(), { limitPct: 100, limitEnabled: false });
  t.equal(await read(WMAXLIMPCT_SF), 0xffff, "WMaxLimPct_SF = -1 (0.1 % steps)");

  const pct = await writer.write("power_limit_pct", 50);
  t.match(pct, {
    deviceId: "inv-1",
    point: "power_limit_pct",
    requested: 50,
    value: 50,
    raw: 500,
    words: [500],
    address: WMAXLIMPCT,
    function: "single",
    scaleFactor: -1,
    readBack: 50,
  });
  t.match(sim.snapshot(), { limitPct: 50, limitEnabled: false }, "written, not enabled yet");
  t.ok(((await power()) ?? 0) > 5000, "not capped while disabled");

  t.match(await writer.write("power_limit_enabled", 1), { raw: 1, readBack: 1, scaleFactor: null });
  t.match(sim.snapshot(), { limitPct: 50, limitEnabled: true, powerW: 5000 }, "capped at 50 % of 10 kW");
  t.equal(await power(), 5000, "the inverter reports the capped power");

  // A finer value on the 0.1 % grid, rounded to it; function 16 for the revert timeout.
  t.match(await writer.write("power_limit_pct", 42.26), { value: 42.3, raw: 423, readBack: 42.3 });
  t.match(await writer.write("power_limit_revert_timeout", 900), { function: "multiple", readBack: 900 });
  t.same(
    connection.writes.map((w) => [w.address, w.words, w.fn]),
    [
      [WMAXLIMPCT, [500], "single"],
      [WMAXLIM_ENA, [1], "single"],
      [WMAXLIMPCT, [423], "single"],
      [WMAXLIMPCT_RVRTTMS, [900], "multiple"],
    ],
  );
  t.equal(await power(), 4230);
  t.match(sim.snapshot(), { limitPct: 42.3, limitRevertS: 900 });

  const written = lines.filter((l) => l.msg === "point written");
  t.equal(written.length, 4, "every write is logged");
  t.match(written[0], {
    level: 30,
    device: "inv-1",
    point: "power_limit_pct",
    value: 50,
    words: [500],
    result: "verified",
  });
});

t.test("refused values never reach the device", async (t) => {
  const { sim, connection, writer, lines, read } = await setup(t);
  await writer.write("power_limit_pct", 60);
  const state = sim.snapshot();
  const sent = connection.writes.length;
  const cases: [string, number, string][] = [
    ["power_limit_pct", 150, "above-max"],
    ["power_limit_pct", 100.04, "above-max"],
    ["power_limit_pct", -5, "below-min"],
    ["power_limit_pct", 0, "refused-value"],
    ["power_limit_pct", 0.04, "refused-value"], // rounds to 0.0 % at the register's 0.1 % resolution
    ["power_limit_pct", Number.NaN, "not-finite"],
    ["power_limit_enabled", 2, "above-max"],
    ["power_limit_revert_timeout", 70_000, "out-of-range"], // beyond uint16
    ["power_limit_revert_timeout", 65_535, "not-implemented"], // SunSpec's uint16 "not implemented"
    ["frequency", 50, "not-writable"],
    ["no_such_point", 1, "not-writable"],
  ];
  for (const [point, value, reason] of cases) {
    const err = await rejection(writer.write(point, value));
    t.ok(err instanceof WriteRefusedError, `${point} ${value}: refused`);
    t.match(err, { code: "EDGE_ERR_WRITE_REFUSED", retryable: false, reason }, `${point} ${value}: ${reason}`);
  }
  t.equal(connection.writes.length, sent, "nothing was sent");
  t.match(sim.snapshot(), { limitPct: state.limitPct, limitEnabled: state.limitEnabled, limitRevertS: 0 }, "unchanged");
  t.equal(await read(WMAXLIMPCT), 600, "the device still holds 60.0 %");
  t.equal(lines.filter((l) => l.result === "refused").length, cases.length, "every refusal is logged");
});

t.test("a write the device rejects surfaces its Modbus exception code", async (t) => {
  const { sim, connection, writer, lines, read } = await setup(t);
  const err = await rejection(writer.write("active_power", 1000));
  t.ok(err instanceof ModbusExceptionError, "a ModbusExceptionError");
  t.match(err, { code: "EDGE_ERR_MODBUS_EXCEPTION", exceptionCode: 2, address: M103 + 14 });
  t.match(lines.at(-1), { point: "active_power", result: "failed", code: "EDGE_ERR_MODBUS_EXCEPTION" });
  t.match(await rejection(writer.write("power_limit_window", 10)), { exceptionCode: 2, address: WMAXLIMPCT_WINTMS });

  // Directly on the connection: a value out of range is exception 03, a function 16 write that
  // includes a read-only register is refused as a whole (02), nothing of it applied.
  t.match(await rejection(connection.writeRegisters(1, WMAXLIMPCT, [1001], "single")), { exceptionCode: 3 });
  t.match(await rejection(connection.writeRegisters(1, WMAXLIMPCT, [300, 0, 30], "multiple")), { exceptionCode: 2 });
  t.match(sim.snapshot(), { limitPct: 100, limitRevertS: 0 });
  t.match(await rejection(connection.writeRegisters(1, 39000, [1], "single")), { exceptionCode: 2 }, "outside the map");
  await connection.writeRegisters(1, WMAXLIMPCT, [300], "multiple");
  t.equal(await read(WMAXLIMPCT), 300, "a one-register function 16 write is fine");
  await t.rejects(connection.writeRegisters(1, WMAXLIMPCT, [1, 2], "single"), RangeError, "06 writes one register");
  await t.rejects(connection.writeRegisters(1, WMAXLIMPCT, [0x10000], "multiple"), RangeError, "words are 16-bit");
});

t.test("the limit reverts when not rewritten within its revert time", async (t) => {
  const { sim, writer, read, power, advance } = await setup(t);
  await writer.write("power_limit_revert_timeout", 60);
  await writer.write("power_limit_pct", 40);
  await writer.write("power_limit_enabled", 1);
  t.equal(await power(), 4000);

  advance(3_000); // 30 simulated seconds
  await writer.write("power_limit_pct", 40); // the controller refreshes the limit: the timer restarts
  advance(4_000); // 70 s since enabling, 40 s since the refresh
  t.equal(await power(), 4000, "still capped: refreshed within 60 s");
  t.match(sim.snapshot(), { limitEnabled: true });

  advance(2_000); // 60 s since the refresh
  const after = await power();
  t.ok(after !== null && after > 4000, `reverted: ${after} W`);
  t.match(sim.snapshot(), { limitEnabled: false, limitPct: 40 });
  t.equal(await read(WMAXLIM_ENA), 0, "WMaxLim_Ena reads 0 again");

  // Rewriting the percentage after the revert does not re-enable it; enabling again restarts the timer.
  await writer.write("power_limit_pct", 40);
  t.match(sim.snapshot(), { limitEnabled: false });
  await writer.write("power_limit_enabled", 1);
  advance(5_900);
  t.equal(await power(), 4000, "59 s after enabling: capped");
  advance(100);
  t.ok(((await power()) ?? 0) > 4000, "60 s after enabling: reverted");

  // Revert time 0: never reverts.
  await writer.write("power_limit_revert_timeout", 0);
  await writer.write("power_limit_enabled", 1);
  advance(60_000);
  t.equal(await power(), 4000, "ten minutes later, still capped");
});

t.test("a read-back that differs fails with EDGE_ERR_WRITE_VERIFY; verify off skips it", async (t) => {
  // A device that clamps register 100 to 800 and keeps everything else (some 32-bit, CDAB).
  const registers = new Map<number, number>();
  const store = (address: number, value: number) =>
    registers.set(address, address === 100 ? Math.min(value, 800) : value);
  const port = await findFreePort();
  const vector = {
    getHoldingRegister: (address: number) => registers.get(address) ?? 0,
    getMultipleHoldingRegisters: (address: number, length: number) =>
      Array.from({ length }, (_, i) => registers.get(address + i) ?? 0),
    setRegister: (address: number, value: number) => {
      store(address, value);
    },
    setRegisterArray: (address: number, values: number[]) => {
      for (const [i, value] of values.entries()) store(address + i, value);
    },
  };
  const server = new ModbusRTU.ServerTCP(vector, { host: "127.0.0.1", port, unitID: 1 });
  await new Promise<void>((resolve, reject) => {
    server.on("initialized", () => resolve());
    server.on("serverError", reject);
  });
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { log, lines } = capturingLog();
  const connection = new ModbusConnection(tcp(port), log);
  t.teardown(() => connection.close());
  const device: Profile = {
    ...profile,
    id: "clamping",
    sentinels: "none",
    points: [
      { id: "power_limit_pct", address: 100, type: "uint16", scale: { factor: 0.1 }, write: { max: 100 } },
      { id: "power_limit_revert_timeout", address: 102, type: "uint32", order: "CDAB", write: {} },
      { id: "active_power", address: 104, type: "float32", order: "DCBA", write: {} },
      { id: "power_limit_enabled", address: 100, type: "uint16", write: { verify: false } },
      { id: "frequency", address: 110, type: "int32", write: { function: "single" } },
    ],
  };
  const writer = new PointWriter({ connection, profile: device, deviceId: "clamp-1", log });

  t.match(await writer.write("power_limit_pct", 70), { raw: 700, readBack: 70 });
  const err = await rejection(writer.write("power_limit_pct", 90));
  t.ok(err instanceof WriteVerifyError, "a WriteVerifyError");
  t.match(err, { code: "EDGE_ERR_WRITE_VERIFY", retryable: true, expected: 90, actual: 80 });
  t.match(lines.at(-1), { point: "power_limit_pct", words: [900], result: "verify-failed" });
  t.match(await writer.write("power_limit_enabled", 900), { readBack: null }, "verify off: no read-back");
  t.match(lines.at(-1), { result: "written" });

  t.match(await writer.write("power_limit_revert_timeout", 70_000), {
    function: "multiple",
    words: [70_000 & 0xffff, 1],
    readBack: 70_000,
  });
  t.same([registers.get(102), registers.get(103)], [70_000 & 0xffff, 1], "CDAB: low word first");
  t.match(await writer.write("active_power", -1234.5), { function: "multiple", readBack: -1234.5 });
  const invalid = await rejection(writer.write("frequency", 1));
  t.ok(invalid instanceof EdgeError && invalid.code === "EDGE_ERR_PROFILE_INVALID", "06 cannot write 2 registers");
});

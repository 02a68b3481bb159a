/** SunSpec discovery, chain quirks, point mapping and the scan, against the simulator on 127.0.0.1. */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { startSunSpecInverterSim } from "@steinmetz/sim";
import pino from "pino";
import t from "tap";
import { DevicePoller } from "../src/acquisition/device-poller.js";
import { ModbusConnection } from "../src/acquisition/modbus-connection.js";
import type { NewReading } from "../src/buffer/reading-buffer.js";
import { loadProfile } from "../src/profile/load-profile.js";
import { scan } from "../src/scan.js";
import { discoverSunSpec } from "../src/sunspec/discovery.js";
import { classOfChain, pointsFromChain } from "../src/sunspec/points.js";
import { loopback } from "./support/connection.js";

const log = pino({ level: "silent" });
const tcp = (port: number) => loopback(port);

/** Runs the edge CLI without blocking this process's event loop. */
function run(args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/main.ts", ...args],
      { cwd, env, timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

async function discoverOn(options: Parameters<typeof startSunSpecInverterSim>[0]) {
  const sim = await startSunSpecInverterSim(options);
  const conn = new ModbusConnection(tcp(sim.port), log);
  try {
    return await discoverSunSpec((a, c) => conn.readRegisters(1, "holding", a, c));
  } finally {
    await conn.close();
    await sim.close();
  }
}

t.test("the chain is found at each base, with either end", async (t) => {
  for (const base of [40000, 0, 50000]) {
    for (const endMarker of ["ffff", "zeros", "none"] as const) {
      const found = await discoverOn({ base, endMarker });
      t.equal(found?.base, base, `base ${base}, end ${endMarker}`);
      t.same(
        found?.devices.map((d) => d.models.map((m) => m.id)),
        [[1, 103]],
        `base ${base}, end ${endMarker}: chain`,
      );
    }
  }
});

t.test("a second model 1 starts another logical device", async (t) => {
  const found = await discoverOn({ meter: true, serialNumber: "INV42" });
  t.match(found?.devices, [
    { manufacturer: "SteinmetZ", model: "SIM-TRI-10K", serialNumber: "INV42", version: "1.0.0" },
    { model: "SIM-METER-3P", serialNumber: "SIMMETER01" },
  ]);
  t.same(
    found?.devices.map((d) => classOfChain(d.models)),
    ["inverter", "meter"],
  );
  t.same(found?.devices[1]?.models, [
    { id: 1, address: 40122, length: 66 },
    { id: 203, address: 40190, length: 105 },
  ]);
});

t.test("repeating groups fill the model length and reference the fixed part's scale factors", async (t) => {
  const points = pointsFromChain([{ id: 160, address: 1000, length: 8 + 2 * 20 }]);
  const byId = Object.fromEntries(points.map((p) => [p.id, p]));
  t.same(Object.keys(byId).sort(), [
    "mppt_dc_current_1",
    "mppt_dc_current_2",
    "mppt_dc_power_1",
    "mppt_dc_power_2",
    "mppt_dc_voltage_1",
    "mppt_dc_voltage_2",
    "mppt_energy_1",
    "mppt_energy_2",
  ]);
  t.match(byId.mppt_dc_power_1, { address: 1000 + 10 + 11, type: "uint16", scale: { register: 1004 } });
  t.match(byId.mppt_dc_power_2, { address: 1000 + 30 + 11, scale: { register: 1004 } });
  t.match(byId.mppt_energy_2, { address: 1000 + 30 + 12, type: "acc32", scale: { register: 1005 } });
  const inverter = pointsFromChain([{ id: 103, address: 40070, length: 50 }]);
  t.match(
    inverter.find((p) => p.id === "active_power"),
    { address: 40084, type: "int16", scale: { register: 40085 } },
  );
});

t.test("a SunSpec profile discovers its device and reads it in one request per model", async (t) => {
  const now = Date.UTC(2026, 5, 21, 11, 0);
  const sim = await startSunSpecInverterSim({ meter: true, now: () => now, base: 50000 });
  t.teardown(() => sim.close());
  const conn = new ModbusConnection(tcp(sim.port), log);
  t.teardown(() => conn.close());
  const committed: NewReading[][] = [];
  const poller = new DevicePoller(
    {
      id: "inv",
      connection: "lan",
      unitId: 1,
      profile: "inverter/sunspec-inverter-tcp",
      pollIntervalMs: 1000,
      slowEvery: 1,
    },
    { connection: conn, profile: loadProfile("inverter/sunspec-inverter-tcp"), log, commit: (r) => committed.push(r) },
  );
  t.equal(await poller.cycle(), true);
  t.equal(poller.state.requestsPerCycle, 1);
  const values = Object.fromEntries((committed[0] ?? []).map((r) => [r.point, r.value]));
  t.equal(values.active_power, sim.snapshot().powerW);
  t.equal(values.energy_exported, Math.floor(sim.snapshot().energyWh));
  t.equal(values.reactive_power, null, "not implemented by this inverter");
});

t.test("scan: unit ids that answer, the chain, the suggested profile and one read", async (t) => {
  const sim = await startSunSpecInverterSim({ meter: true });
  t.teardown(() => sim.close());
  const result = await scan({
    transport: { type: "tcp", host: "127.0.0.1", port: sim.port },
    unitIds: [1, 7],
    timeoutMs: 300,
    log,
  });
  t.match(result.units, [
    {
      unitId: 1,
      answers: true,
      sunspec: {
        base: 40000,
        devices: [
          { class: "inverter", suggestedProfile: "inverter/sunspec-inverter-tcp", serialNumber: "SIM0000001" },
          { class: "meter", suggestedProfile: "meter/sunspec-meter-tcp", serialNumber: "SIMMETER01" },
        ],
      },
    },
    { unitId: 7, answers: false, sunspec: null },
  ]);
  const [inverter, meter] = result.units[0]?.sunspec?.devices ?? [];
  t.equal(inverter?.values.energy_exported, Math.floor(sim.snapshot().energyWh));
  t.equal(meter?.values.frequency, 50);

  // The simulator runs in this process: the CLI must run asynchronously, or nobody answers it.
  const cwd = join(import.meta.dirname, "..");
  const env = { ...process.env, LOG_LEVEL: "warn" };
  const cli = await run(["scan", "--host", "127.0.0.1", "--port", String(sim.port), "--unit-ids", "1"], cwd, env);
  t.equal(cli.code, 0, cli.stderr);
  t.match(JSON.parse(cli.stdout), {
    transport: { type: "tcp", host: "127.0.0.1" },
    units: [{ unitId: 1, sunspec: { base: 40000 } }],
  });
  const bad = await run(["scan", "--unit-ids", "1"], cwd, env);
  t.equal(bad.code, 2);
  t.match(bad.stderr, "usage: npm run edge -- scan (--host H");
});

t.test(
  "a model longer than 125 registers is read in chunks; far scale factors are read in the same cycle",
  async (t) => {
    const { planReads } = await import("../src/acquisition/request-plan.js");
    const { spansOf } = await import("../src/acquisition/point-reads.js");
    // Model 160 with eight MPPT modules: 10 + 8 × 20 = 170 registers.
    const points = pointsFromChain([{ id: 160, address: 40070, length: 8 + 8 * 20 }]);
    const reads = planReads(
      points.flatMap((p) => spansOf(p, 125)),
      { maxRegisters: 125, maxGap: 31 },
    );
    t.ok(reads.length >= 2, `${points.length} points of model 160 in ${reads.length} reads`);
    t.ok(reads.every((r) => r.count <= 125));
    // Module 1 sits next to the scale factors (40072..40075); module 8 is more than 125 away.
    const spansOfPoint = (id: string) => reads.flatMap((r) => r.spans.filter((s) => s.key.id === id));
    t.same(
      spansOfPoint("mppt_dc_power_1").map((s) => [s.address, s.count]),
      [[40072 + 2, 40070 + 10 + 11 - (40072 + 2) + 1]],
      "module 1: value and scale factor in one span",
    );
    t.same(
      spansOfPoint("mppt_dc_power_8").map((s) => [s.address, s.count]),
      [
        [40074, 1],
        [40070 + 10 + 7 * 20 + 11, 1],
      ],
      "module 8: value and scale factor read apart, in the same cycle",
    );
  },
);

t.test("scan over RTU framing finds a SunSpec device behind a serial gateway", async (t) => {
  const { startRtuOverTcpServer } = await import("@steinmetz/sim");
  const { readFileSync } = await import("node:fs");
  const { parse } = await import("yaml");
  const { fixturesDir } = await import("@steinmetz/firmware-config");
  // The register image of the generic SunSpec inverter fixture, served as unit 2 on an RS485 line.
  const fixture = parse(readFileSync(join(fixturesDir, "inverter/sunspec-inverter-tcp.yaml"), "utf8")) as {
    holding: Record<string, number[]>;
  };
  const image = new Map<number, number>();
  for (const [start, words] of Object.entries(fixture.holding)) {
    for (const [i, w] of words.entries()) image.set(Number(start) + i, w);
  }
  const server = await startRtuOverTcpServer((unitId, _fn, address, count) => {
    if (unitId !== 2) throw new Error("silent");
    return Array.from({ length: count }, (_, i) => {
      const word = image.get(address + i);
      if (word === undefined) throw { modbusErrorCode: 2 };
      return word;
    });
  });
  t.teardown(() => server.close());
  const result = await scan({
    transport: { type: "rtu-over-tcp", host: "127.0.0.1", port: server.port },
    unitIds: [1, 2],
    timeoutMs: 200,
    log,
  });
  t.match(result.units, [
    { unitId: 1, answers: false, sunspec: null },
    {
      unitId: 2,
      answers: true,
      sunspec: {
        base: 40000,
        devices: [{ class: "inverter", models: [{ id: 1 }, { id: 103 }, { id: 120 }, { id: 160 }] }],
      },
    },
  ]);
  t.equal(result.units[1]?.sunspec?.devices[0]?.values.active_power, 8210);
  t.equal(server.badFrames(), 0);
});

/**
 * The simulated battery and the site's power balance: the battery's energy follows charge and
 * discharge over simulated time within its limits and survives a restart; its Modbus TCP register
 * map (SunSpec 1, 124, 713, 802) decodes by the official SunSpec definitions and by the edge's
 * `battery/sunspec-battery-tcp` profile; across the real Modbus servers of a simulated site, the
 * grid meter reads house load − PV − battery discharge.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  BatteryModel,
  CHARGE_STATUS,
  houseLoad,
  SitePower,
  startSimSite,
  startSunSpecBatterySim,
} from "@steinmetz/sim";
import pino from "pino";
import t from "tap";
import { DevicePoller } from "../../edge/src/acquisition/device-poller.js";
import { ModbusConnection } from "../../edge/src/acquisition/modbus-connection.js";
import type { NewReading } from "../../edge/src/buffer/reading-buffer.js";
import type { ConnectionConfig } from "../../edge/src/config/site-schema.js";
import { loadProfile } from "../../edge/src/profile/load-profile.js";
import { REPO, tempDir } from "../support/harness.js";

const log = pino({ level: "silent" });
const HOUR = 3_600_000;
/** The official SunSpec model definitions, a test oracle only (as edge/test/sunspec-models.test.ts uses them). */
const ORACLE_DIR = join(REPO, "../shared/sunspec-models/json");

function tcp(port: number): ConnectionConfig {
  return {
    id: "lan",
    type: "tcp",
    host: "127.0.0.1",
    port,
    timeoutMs: 1000,
    delayBetweenRequestsMs: 0,
    pauseAfterConnectMs: 0,
    maxRegistersPerRead: 125,
  };
}

t.test("state of charge follows charge and discharge over simulated time, within the limits", async (t) => {
  const stateFile = join(tempDir("sim-battery"), "battery.json");
  const battery = new BatteryModel({ capacityWh: 10_000, maxChargeW: 5000, maxDischargeW: 5000, stateFile });
  // A constant house load of 2 kW (500 W household, 1.5 kW heat pump); the battery aims at 30 W import.
  const site = new SitePower({ battery, householdW: () => 500, heatPumpW: () => 1500 });
  const flows = [
    site.at(0, 8000), // noon: 6 kW surplus, the battery charges at its 5 kW maximum
    site.at(1 * HOUR, 8000), // after an hour at 5 kW: full, the surplus goes to the grid
    site.at(2 * HOUR, 0), // night: the battery covers the house but 30 W
    site.at(6 * HOUR, 0), // four hours later
    site.at(7 * HOUR, 0), // the reserve is reached within that hour: the grid takes over
  ];
  t.same(
    flows.map((f) => ({ batteryW: f.batteryW, gridW: f.gridW, soc: Math.round((f.socPct ?? 0) * 10) / 10 })),
    [
      { batteryW: -5000, gridW: -1000, soc: 50 },
      { batteryW: 0, gridW: -6000, soc: 100 },
      { batteryW: 1970, gridW: 30, soc: 100 },
      { batteryW: 1970, gridW: 30, soc: 21.2 },
      { batteryW: 0, gridW: 2000, soc: 10 },
    ],
  );
  for (const f of flows)
    t.equal(f.gridW, f.loadW - f.pvW - f.batteryW, `at ${f.t / HOUR} h: grid = load − PV − battery`);
  const state = battery.state();
  t.match(state, { status: CHARGE_STATUS.empty, availableWh: 0, chargedWh: 1_850_000 + 5000 });
  t.equal(Math.round(state.dischargedWh), 1_790_000 + 9000, "discharged down to the 10 % reserve");
  t.equal(site.at(6 * HOUR, 0), flows[4], "time never runs backwards");

  const again = new BatteryModel({ capacityWh: 10_000, stateFile });
  t.equal(Math.round(again.state().socPct), 10, "a restarted battery keeps its charge");
  t.equal(Math.round(again.state().dischargedWh), 1_790_000 + 9000, "and its counters");
});

interface JsonPoint {
  name: string;
  type: string;
  size: number;
  sf?: string;
}

/** Decodes one model's fixed part by its official definition: name → scaled value (or raw for enums, bitfields). */
function decodeModel(id: number, words: number[]): Record<string, number | null> {
  const definition = JSON.parse(readFileSync(join(ORACLE_DIR, `model_${id}.json`), "utf8")) as {
    group: { points: JsonPoint[] };
  };
  const raw: Record<string, { value: number; type: string; sf?: string }> = {};
  let offset = 0;
  for (const p of definition.group.points) {
    const w = words.slice(offset, offset + p.size);
    offset += p.size;
    if (p.type === "string" || p.type === "pad") continue;
    let value = w.reduce((acc, word) => acc * 0x10000 + word, 0);
    if ((p.type === "int16" || p.type === "sunssf") && value >= 0x8000) value -= 0x10000;
    raw[p.name] = { value, type: p.type, ...(p.sf ? { sf: p.sf } : {}) };
  }
  const out: Record<string, number | null> = {};
  for (const [name, p] of Object.entries(raw)) {
    const notImplemented =
      (p.type === "int16" && p.value === -0x8000) ||
      (p.type === "sunssf" && p.value === -0x8000) ||
      ((p.type === "uint16" || p.type === "enum16") && p.value === 0xffff) ||
      (p.type === "uint32" && p.value === 0xffffffff);
    const sf = p.sf ? raw[p.sf]?.value : 0;
    out[name] = notImplemented || sf === undefined || sf === -0x8000 ? null : p.value * 10 ** sf;
  }
  return out;
}

const close = (a: number | null | undefined, b: number, digits = 1) =>
  a !== null && a !== undefined && Math.abs(a - b) <= 0.5 * 10 ** -digits + 1e-9;

t.test("the battery's register map decodes by the SunSpec definitions of models 1, 124, 713 and 802", async (t) => {
  const battery = new BatteryModel({ capacityWh: 10_000, initialSocPct: 73.5 });
  battery.step(0, 2400); // discharging 2.4 kW
  const sim = await startSunSpecBatterySim({ state: () => battery.state(), serialNumber: "BAT42" });
  t.teardown(() => sim.close());
  const conn = new ModbusConnection(tcp(sim.port), log);
  t.teardown(() => conn.close());
  const read = (address: number, count: number) => conn.readRegisters(1, "holding", address, count);
  t.same(await read(40000, 2), [0x5375, 0x6e53], '"SunS" at 40000');

  const chain: { id: number; address: number; length: number }[] = [];
  let address = 40002;
  for (let i = 0; i < 10; i++) {
    const [id, length] = (await read(address, 2)) as [number, number];
    if (id === 0xffff) break;
    chain.push({ id, address, length });
    address += 2 + length;
  }
  t.same(
    chain.map((m) => [m.id, m.address, m.length]),
    [
      [1, 40002, 66],
      [124, 40070, 24],
      [713, 40096, 7],
      [802, 40105, 62],
    ],
    "the model chain and the end marker",
  );
  const models: Record<number, Record<string, number | null>> = {};
  for (const m of chain) {
    const definition = JSON.parse(readFileSync(join(ORACLE_DIR, `model_${m.id}.json`), "utf8")) as {
      group: { points: JsonPoint[] };
    };
    const size = definition.group.points.reduce((n, p) => n + p.size, 0);
    t.equal(m.length, size - 2, `model ${m.id}: L as the definition gives it`);
    models[m.id] = decodeModel(m.id, await read(m.address, size));
  }
  const state = battery.state();
  t.equal(state.powerW, 2400);
  const m124 = models[124] ?? {};
  const m713 = models[713] ?? {};
  const m802 = models[802] ?? {};
  t.ok(close(m124.ChaState, 73.5), `124 ChaState ${m124.ChaState} %`);
  t.ok(close(m124.InBatV, state.voltageV), `124 InBatV ${m124.InBatV} V`);
  t.match(m124, { WChaMax: 5000, MinRsvPct: 10, OutWRte: 100, InWRte: 100, ChaSt: CHARGE_STATUS.discharging });
  t.ok(close(m124.StorAval, state.availableWh / 51.2), `124 StorAval ${m124.StorAval} Ah above the reserve`);
  t.match(m713, { WHRtg: 10_000, WHAvail: Math.round(state.availableWh), SoH: 98.5 });
  t.ok(close(m713.SoC, 73.5), `713 SoC ${m713.SoC} %`);
  t.match(m802, { WHRtg: 10_000, WChaRteMax: 5000, WDisChaRteMax: 5000, W: 2400, ChaSt: 3, Typ: 4, State: 3 });
  t.ok(close(m802.SoC, 73.5), `802 SoC ${m802.SoC} %`);
  t.ok(close(m802.A, state.currentA) && (m802.A ?? 0) > 0, `802 A ${m802.A} A, positive while discharging`);
  t.ok(close(m802.V, state.voltageV), `802 V ${m802.V} V`);
  t.ok(close(m802.CellVAvg, state.voltageV / 16, 3), `802 CellVAvg ${m802.CellVAvg} V of 16 cells`);
  t.equal(m802.DoD, null, "what the pack does not measure is not implemented");
  await t.rejects(
    conn.writeRegisters(1, 40070 + 7, [200], "single"),
    { code: "EDGE_ERR_MODBUS_EXCEPTION" },
    "read-only",
  );
});

t.test("the edge's battery/sunspec-battery-tcp profile reads the simulated battery", async (t) => {
  const battery = new BatteryModel({ capacityWh: 10_000, initialSocPct: 64.2 });
  battery.step(0, -3100); // charging 3.1 kW
  const sim = await startSunSpecBatterySim({ state: () => battery.state() });
  t.teardown(() => sim.close());
  const conn = new ModbusConnection(tcp(sim.port), log);
  t.teardown(() => conn.close());
  const committed: NewReading[] = [];
  const ref = "battery/sunspec-battery-tcp";
  const poller = new DevicePoller(
    { id: "battery-1", connection: "lan", unitId: 1, profile: ref, pollIntervalMs: 1000, slowEvery: 1 },
    { connection: conn, profile: loadProfile(ref), log, commit: (r) => committed.push(...r) },
  );
  t.equal(await poller.cycle(), true, poller.state.lastError?.message ?? "read");
  const values = Object.fromEntries(committed.map((r) => [r.point, r.value]));
  const state = battery.state();
  t.match(values, {
    soc: 64.2,
    max_charge_power: 5000,
    charge_limit_pct: 100,
    discharge_limit_pct: 100,
    energy_capacity: 10_000,
    energy_available: Math.round(state.availableWh),
    soh: 98.5,
  });
  t.ok(close(values.battery_voltage as number, state.voltageV), `battery_voltage ${values.battery_voltage} V`);
  t.ok(
    committed.every((r) => r.value !== null),
    `every point the profile maps has a value: ${committed.map((r) => r.point).join(", ")}`,
  );
});

t.test("across the site's Modbus servers the grid meter reads house load − PV − battery", async (t) => {
  let real = Date.UTC(2026, 5, 21, 9, 0); // 11:00 CEST, midsummer: the sun shines
  const site = await startSimSite({ speed: 60, now: () => real, dataDir: tempDir("sim-site") });
  t.teardown(() => site.close());
  const inverterConn = new ModbusConnection(tcp(site.inverter.port), log);
  t.teardown(() => inverterConn.close());
  const batteryConn = new ModbusConnection(tcp(site.battery.port), log);
  t.teardown(() => batteryConn.close());
  const poll = (id: string, ref: string, conn: ModbusConnection) => {
    const committed: NewReading[][] = [];
    const poller = new DevicePoller(
      { id, connection: "lan", unitId: 1, profile: ref, pollIntervalMs: 1000, slowEvery: 1 },
      { connection: conn, profile: loadProfile(ref), log, commit: (r) => committed.push(r), now: () => real },
    );
    return async () => {
      t.equal(await poller.cycle(), true, `${id}: ${poller.state.lastError?.message ?? "read"}`);
      return Object.fromEntries((committed.at(-1) ?? []).map((r) => [r.point, r.value as number]));
    };
  };
  const inverter = poll("inverter-1", "inverter/sunspec-inverter-tcp", inverterConn);
  const meter = poll("grid-meter", "meter/sunspec-meter-tcp", inverterConn);
  const battery = poll("battery-1", "battery/sunspec-battery-tcp", batteryConn);
  /** Model 802 W (offset 47 at 40105): the battery's power, which the edge has no SunSpec mapping for yet. */
  const batteryW = async () => {
    const [w] = (await batteryConn.readRegisters(1, "holding", 40105 + 47, 1)) as [number];
    return w >= 0x8000 ? w - 0x10000 : w;
  };

  const socs: number[] = [];
  // Six readings ten simulated minutes apart (ten real seconds at 60x), all devices at the same instant.
  for (let step = 0; step < 6; step++) {
    const pv = await inverter();
    const grid = await meter();
    const bat = await battery();
    const batW = await batteryW();
    const t0 = site.clock.now();
    const load = houseLoad(t0);
    t.ok(pv.power_limit_pct === 100 && pv.power_limit_enabled === 0, "model 123 is read with the inverter");
    t.equal(grid.active_power, load - (pv.active_power as number) - batW, `step ${step}: grid = load − PV − battery`);
    t.equal(batW, site.flow().batteryW);
    socs.push(bat.soc as number);
    real += 10_000;
  }
  t.ok(
    socs.every((s, i) => i === 0 || s >= (socs[i - 1] as number)),
    `a sunny summer morning charges the battery: ${socs.join(" → ")} %`,
  );
  t.ok((socs.at(-1) as number) > (socs[0] as number), "its charge rises");
});

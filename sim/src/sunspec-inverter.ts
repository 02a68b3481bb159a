import ModbusRTU from "modbus-serial";
import { findFreePort } from "./free-port.js";
import { RegisterImage } from "./register-image.js";
import { type SimClock, simClock } from "./sim-clock.js";
import { readState, writeState } from "./state-file.js";
import { irradiance } from "./sun.js";

/** Options of the simulated SunSpec three-phase inverter. */
export interface SunSpecInverterSimOptions {
  /** Address to listen on; loopback by default. */
  host?: string;
  /** TCP port; 0 or unset picks a free one. */
  port?: number;
  /** Modbus unit id the inverter answers to (others get no answer, like a real device). */
  unitId?: number;
  /** AC rating in W. */
  ratedPowerW?: number;
  /** Serial number reported in SunSpec model 1. */
  serialNumber?: string;
  /** Simulated seconds per real second (1 = real time; 144 = a day in 10 minutes). */
  speed?: number;
  /** Wall clock in ms; injected by tests. */
  now?: () => number;
  /**
   * Simulated time shared with the site's other simulated devices; replaces `speed` (and `now` for
   * the simulated time; `now` still stamps `onWrite`).
   */
  clock?: SimClock;
  /**
   * File that keeps the lifetime energy counters across restarts (the inverter's and, with
   * `meter`, the meter's import and export; counters never go back).
   */
  stateFile?: string;
  /** SunSpec base address: 40000 (default), 0 or 50000. */
  base?: number;
  /**
   * How the model chain ends: the 0xFFFF end marker (default), "zeros" (ID 0, L 0), or "none"
   * (the register map simply ends: reading the end header answers exception 02).
   */
  endMarker?: "ffff" | "zeros" | "none";
  /** Adds a grid meter behind the inverter: a second common model 1 and meter model 203. */
  meter?: boolean;
  /**
   * Adds SunSpec model 123 (immediate controls) right after model 103, with a writable active
   * power limit: WMaxLimPct (uint16, WMaxLimPct_SF = -1, i.e. 0.1 % of the rating; 0..1000),
   * WMaxLimPct_RvrtTms (s, 0 = never revert) and WMaxLim_Ena (0 disabled, 1 enabled). While
   * enabled, AC power is capped at WMaxLimPct % of the rating; with a revert time, the limit is
   * disabled again when WMaxLimPct is not rewritten (or the limit re-enabled) within that many
   * simulated seconds. Every other register is read-only: writes answer exception 02, values out
   * of range exception 03.
   */
  controls?: boolean;
  /**
   * Fixed irradiance (0..1, share of the rating the panels could give) instead of the sun curve
   * with clouds: the available PV power stays constant, so a controller's convergence is
   * deterministic (integration tests).
   */
  sun?: number;
  /**
   * With `meter`: a fixed house load in W instead of the default 600–1000 W swing. The meter
   * always sees load − AC power of the same instant, so a power limit shows at the meter in the
   * very read after it was written.
   */
  houseLoadW?: number;
  /**
   * With `meter`: the meter's active power in W (import > 0) for the inverter's AC power `acW` at
   * simulated time `t`, e.g. from a site model with a battery; replaces the house load.
   */
  gridPowerW?: (t: number, acW: number) => number;
  /** With `controls`: called for every accepted write of the power limit's registers. */
  onWrite?: (write: LimitWrite) => void;
}

/** An accepted write of one of model 123's power limit registers. */
export interface LimitWrite {
  register: "WMaxLimPct" | "WMaxLimPct_RvrtTms" | "WMaxLim_Ena";
  /** The raw register value (WMaxLimPct in 0.1 %). */
  value: number;
  /** When it was written (the simulator's clock, real ms). */
  at: number;
}

/** A running simulator. */
export interface SunSpecInverterSim {
  readonly host: string;
  readonly port: number;
  readonly unitId: number;
  /**
   * Current AC power in W, lifetime energy in Wh and the meter's grid power (import > 0), as last
   * served; with `controls`, the power limit's state (percent of the rating, enabled, revert time in s).
   */
  snapshot(): {
    powerW: number;
    energyWh: number;
    gridW: number;
    limitPct: number;
    limitEnabled: boolean;
    limitRevertS: number;
  };
  close(): Promise<void>;
}

/** Default SunSpec base address of the simulator. */
export const SUNSPEC_BASE = 40000;
const MODEL1_LENGTH = 66;
const MODEL103_LENGTH = 50;
const MODEL203_LENGTH = 105;
const MODEL123_LENGTH = 24;

/** Model 123 offsets (from its ID register) of the power limit's writable registers and scale factor. */
const WMAXLIMPCT = 5;
const WMAXLIMPCT_RVRTTMS = 7;
const WMAXLIM_ENA = 9;
const WMAXLIMPCT_SF = 23;
/** WMaxLimPct_SF: the limit is written in 0.1 % steps. */
const LIMIT_SF = -1;

/** Modbus exceptions for writes, as modbus-serial's server expects them. */
const ILLEGAL_DATA_ADDRESS = { modbusErrorCode: 0x02, msg: "Illegal data address" };
const ILLEGAL_DATA_VALUE = { modbusErrorCode: 0x03, msg: "Illegal data value" };

const NOT_IMPLEMENTED_INT16 = 0x8000;
const NOT_IMPLEMENTED_UINT16 = 0xffff;

/** SunSpec operating states (model 103 `St`). */
const ST_SLEEPING = 2;
const ST_MPPT = 4;

/**
 * Starts a Modbus TCP server that behaves like a SunSpec three-phase inverter
 * (common model 1 + inverter model 103 at base 40000). AC power follows a sun
 * curve with passing clouds, the lifetime energy counter integrates it and only
 * grows, points a simple inverter lacks answer with the SunSpec "not implemented"
 * sentinels. With `controls`, model 123 follows model 103 and its power limit can be
 * written (function 06 or 16); without it, every write answers exception 02.
 */
export async function startSunSpecInverterSim(options: SunSpecInverterSimOptions = {}): Promise<SunSpecInverterSim> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port || (await findFreePort(host));
  const unitId = options.unitId ?? 1;
  const rated = options.ratedPowerW ?? 10_000;
  const now = options.now ?? Date.now;
  const clock = options.clock ?? simClock({ speed: options.speed ?? 1, now });

  const saved = readState(options.stateFile, ["energyWh", "importWh", "exportWh"]);
  let energyWh = saved.energyWh ?? 1_234_567;
  let powerW = 0;
  let lastUpdate = clock.now();
  // Model 123 power limit: raw WMaxLimPct (0.1 %), revert time (s), enabled, and when (simulated ms) it was last set.
  let limitRaw = 1000;
  let limitRevertS = 0;
  let limitEnabled = false;
  let limitSetAt = lastUpdate;

  // Layout: "SunS", model 1, model 103, [model 123], [model 1, model 203], end marker.
  const base = options.base ?? SUNSPEC_BASE;
  const MODEL1_AT = base + 2;
  const MODEL103_AT = MODEL1_AT + 2 + MODEL1_LENGTH;
  const MODEL123_AT = MODEL103_AT + 2 + MODEL103_LENGTH;
  const METER1_AT = options.controls ? MODEL123_AT + 2 + MODEL123_LENGTH : MODEL123_AT;
  const MODEL203_AT = METER1_AT + 2 + MODEL1_LENGTH;
  const END_AT = options.meter ? MODEL203_AT + 2 + MODEL203_LENGTH : METER1_AT;
  const endMarker = options.endMarker ?? "ffff";
  const image = new RegisterImage(base, END_AT + (endMarker === "none" ? 0 : 2) - base);
  image.setString(base, 2, "SunS");
  const common = (at: number, model: string, serial: string) => {
    image.set(at, 1);
    image.set(at + 1, MODEL1_LENGTH);
    image.setString(at + 2, 16, "SteinmetZ");
    image.setString(at + 18, 16, model);
    image.setString(at + 34, 8, "");
    image.setString(at + 42, 8, "1.0.0");
    image.setString(at + 50, 16, serial);
    image.set(at + 66, unitId);
  };
  common(MODEL1_AT, "SIM-TRI-10K", options.serialNumber ?? "SIM0000001");
  image.set(MODEL103_AT, 103);
  image.set(MODEL103_AT + 1, MODEL103_LENGTH);
  if (options.controls) {
    const c = (offset: number) => MODEL123_AT + offset;
    image.set(c(0), 123);
    image.set(c(1), MODEL123_LENGTH);
    image.set(c(4), 1); // Conn: connected (Conn_WinTms, Conn_RvrtTms, WinTms and RmpTms stay 0)
    image.set(c(10), NOT_IMPLEMENTED_INT16); // OutPFSet
    for (let o = 15; o <= 17; o++) image.set(c(o), NOT_IMPLEMENTED_INT16); // VArWMaxPct, VArMaxPct, VArAvalPct
    image.set(c(21), NOT_IMPLEMENTED_UINT16); // VArPct_Mod
    image.set(c(22), NOT_IMPLEMENTED_UINT16); // VArPct_Ena
    image.setInt16(c(WMAXLIMPCT_SF), LIMIT_SF);
    image.set(c(24), NOT_IMPLEMENTED_INT16); // OutPFSet_SF
    image.set(c(25), NOT_IMPLEMENTED_INT16); // VArPct_SF
  }
  if (options.meter) {
    common(METER1_AT, "SIM-METER-3P", "SIMMETER01");
    image.set(MODEL203_AT, 203);
    image.set(MODEL203_AT + 1, MODEL203_LENGTH);
  }
  if (endMarker === "ffff") image.set(END_AT, 0xffff);
  let importWh = saved.importWh ?? 2_345_678;
  let exportWh = saved.exportWh ?? 987_654;
  let gridW = 0;

  function update(): void {
    const t = clock.now();
    const dtHours = Math.max(0, t - lastUpdate) / 3_600_000;
    lastUpdate = Math.max(lastUpdate, t);
    const sun = options.sun ?? irradiance(t);
    revertLimit(t);
    const cap = limitEnabled ? Math.round((rated * limitRaw) / 1000) : rated;
    const ac = Math.min(Math.round(rated * sun), cap);
    // Energy integrates the power of the interval that just ended (trapezoid), never decreases.
    energyWh += Math.max(0, ((powerW + ac) / 2) * dtHours);
    powerW = ac;

    const r = (offset: number) => MODEL103_AT + offset;
    const phaseV = 230 + 2 * Math.sin(t / 7_000);
    const phaseA = ac / (3 * phaseV);
    const dcV = ac > 0 ? 580 + 40 * sun : 0;
    const dcW = ac > 0 ? Math.round(ac / 0.97) : 0;
    image.set(r(2), Math.round(phaseA * 3 * 100)); // A, A_SF -2
    for (let p = 0; p < 3; p++) image.set(r(3 + p), Math.round(phaseA * 100)); // AphA..AphC
    image.setInt16(r(6), -2); // A_SF
    for (let p = 0; p < 3; p++) image.set(r(7 + p), NOT_IMPLEMENTED_UINT16); // PPVphAB..CA
    for (let p = 0; p < 3; p++) image.set(r(10 + p), Math.round(phaseV * 10)); // PhVphA..C
    image.setInt16(r(13), -1); // V_SF
    image.setInt16(r(14), ac); // W
    image.setInt16(r(15), 0); // W_SF
    image.set(r(16), Math.round((50 + 0.02 * Math.sin(t / 3_000)) * 100)); // Hz
    image.setInt16(r(17), -2); // Hz_SF
    image.setInt16(r(18), ac); // VA
    image.setInt16(r(19), 0); // VA_SF
    image.set(r(20), NOT_IMPLEMENTED_INT16); // VAr
    image.set(r(21), NOT_IMPLEMENTED_INT16); // VAr_SF
    image.setInt16(r(22), 100); // PF
    image.setInt16(r(23), 0); // PF_SF
    image.setUint32(r(24), Math.floor(energyWh)); // WH (acc32)
    image.setInt16(r(26), 0); // WH_SF
    image.set(r(27), dcV > 0 ? Math.round((dcW / dcV) * 100) : 0); // DCA
    image.setInt16(r(28), -2); // DCA_SF
    image.set(r(29), Math.round(dcV * 10)); // DCV
    image.setInt16(r(30), -1); // DCV_SF
    image.setInt16(r(31), dcW); // DCW
    image.setInt16(r(32), 0); // DCW_SF
    image.setInt16(r(33), Math.round((25 + 20 * sun) * 10)); // TmpCab
    for (let p = 0; p < 3; p++) image.set(r(34 + p), NOT_IMPLEMENTED_INT16); // TmpSnk, TmpTrns, TmpOt
    image.setInt16(r(37), -1); // Tmp_SF
    image.set(r(38), ac > 0 ? ST_MPPT : ST_SLEEPING); // St
    if (options.controls) {
      const c = (offset: number) => MODEL123_AT + offset;
      image.set(c(WMAXLIMPCT), limitRaw);
      image.set(c(WMAXLIMPCT_RVRTTMS), limitRevertS);
      image.set(c(WMAXLIM_ENA), limitEnabled ? 1 : 0);
    }
    if (options.meter) {
      // By default a house load around 600 W; the meter sees load minus PV (import positive, export negative).
      const load = options.houseLoadW ?? 600 + 400 * Math.sin(t / 1_800_000) ** 2;
      const grid = Math.round(options.gridPowerW ? options.gridPowerW(t, ac) : load - ac);
      const half = (gridW + grid) / 2;
      importWh += Math.max(0, half * dtHours);
      exportWh += Math.max(0, -half * dtHours);
      gridW = grid;
      const m = (offset: number) => MODEL203_AT + offset;
      const phaseW = [0.34, 0.31, 0.35].map((share) => Math.round(grid * share));
      const phaseVolts = [phaseV, phaseV + 1.2, phaseV - 0.8];
      const phaseAmps = phaseW.map((w, p) => Math.abs(w) / (phaseVolts[p] as number));
      image.setInt16(m(2), Math.round(phaseAmps.reduce((a, b) => a + b, 0) * 100)); // A
      for (let p = 0; p < 3; p++) image.setInt16(m(3 + p), Math.round((phaseAmps[p] as number) * 100)); // AphA..C
      image.setInt16(m(6), -2); // A_SF
      image.setInt16(m(7), Math.round(phaseV * 10)); // PhV
      for (let p = 0; p < 3; p++) image.setInt16(m(8 + p), Math.round((phaseVolts[p] as number) * 10)); // PhVphA..C
      image.setInt16(m(11), Math.round(phaseV * Math.sqrt(3) * 10)); // PPV
      for (let p = 0; p < 3; p++) image.setInt16(m(12 + p), Math.round(phaseV * Math.sqrt(3) * 10)); // PhVphAB..CA
      image.setInt16(m(15), -1); // V_SF
      image.setInt16(m(16), 5000); // Hz
      image.setInt16(m(17), -2); // Hz_SF
      image.setInt16(m(18), grid); // W
      for (let p = 0; p < 3; p++) image.setInt16(m(19 + p), phaseW[p] as number); // WphA..C
      image.setInt16(m(22), 0); // W_SF
      image.setInt16(m(23), Math.abs(grid)); // VA
      for (let p = 0; p < 3; p++) image.setInt16(m(24 + p), Math.abs(phaseW[p] as number)); // VAphA..C
      image.setInt16(m(27), 0); // VA_SF
      for (let o = 28; o <= 32; o++) image.set(m(o), NOT_IMPLEMENTED_INT16); // VAR, VARphA..C, VAR_SF
      for (let o = 33; o <= 37; o++) image.set(m(o), NOT_IMPLEMENTED_INT16); // PF, PFphA..C, PF_SF
      image.setUint32(m(38), Math.floor(exportWh)); // TotWhExp
      image.setUint32(m(46), Math.floor(importWh)); // TotWhImp
      image.setInt16(m(54), 0); // TotWh_SF
    }
    writeState(options.stateFile, { energyWh, ...(options.meter ? { importWh, exportWh } : {}) });
  }
  update();

  /** Disables the limit once its revert time passed without it being set again (`t`: simulated ms). */
  function revertLimit(t: number): void {
    if (limitEnabled && limitRevertS > 0 && t - limitSetAt >= limitRevertS * 1000) limitEnabled = false;
  }

  /**
   * Applies a write of `values` from `addr` (function 06 or 16): all or nothing. Registers outside
   * the map or read-only answer exception 02, values out of range exception 03.
   */
  function write(addr: number, values: number[]): void {
    image.read(addr, values.length); // exception 02 outside the register map
    const writes = values.map((value, i) => ({ offset: addr + i - MODEL123_AT, value }));
    const writable = [WMAXLIMPCT, WMAXLIMPCT_RVRTTMS, WMAXLIM_ENA];
    if (!options.controls || writes.some((w) => !writable.includes(w.offset))) throw ILLEGAL_DATA_ADDRESS;
    for (const { offset, value } of writes) {
      if ((offset === WMAXLIMPCT && value > 1000) || (offset === WMAXLIM_ENA && value > 1)) throw ILLEGAL_DATA_VALUE;
    }
    update(); // power and energy up to now under the old limit; a limit past its revert time reverts first
    const t = clock.now();
    const names: Record<number, LimitWrite["register"]> = {
      [WMAXLIMPCT]: "WMaxLimPct",
      [WMAXLIMPCT_RVRTTMS]: "WMaxLimPct_RvrtTms",
      [WMAXLIM_ENA]: "WMaxLim_Ena",
    };
    for (const { offset: o, value } of writes) {
      options.onWrite?.({ register: names[o] ?? "WMaxLimPct", value, at: now() });
      if (o === WMAXLIMPCT) {
        limitRaw = value;
        limitSetAt = t;
      } else if (o === WMAXLIMPCT_RVRTTMS) {
        limitRevertS = value;
      } else if (o === WMAXLIM_ENA) {
        if (value === 1) limitSetAt = t;
        limitEnabled = value === 1;
      }
    }
    update();
  }

  const vector = {
    getMultipleHoldingRegisters(addr: number, length: number): number[] {
      update();
      return image.read(addr, length);
    },
    getHoldingRegister(addr: number): number {
      update();
      return image.read(addr, 1)[0] as number;
    },
    setRegister(addr: number, value: number): void {
      write(addr, [value]);
    },
    setRegisterArray(addr: number, values: number[]): void {
      write(addr, values);
    },
  };
  const server = new ModbusRTU.ServerTCP(vector, { host, port, unitID: unitId });
  await new Promise<void>((resolve, reject) => {
    server.on("initialized", () => resolve());
    server.on("serverError", reject);
  });

  return {
    host,
    port,
    unitId,
    snapshot: () => ({ powerW, energyWh, gridW, limitPct: limitRaw / 10, limitEnabled, limitRevertS }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

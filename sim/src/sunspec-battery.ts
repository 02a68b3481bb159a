import ModbusRTU from "modbus-serial";
import type { BatteryState } from "./battery-model.js";
import { findFreePort } from "./free-port.js";
import { RegisterImage } from "./register-image.js";

/** Options of the simulated SunSpec storage. */
export interface SunSpecBatterySimOptions {
  /** Address to listen on; loopback by default. */
  host?: string;
  /** TCP port; 0 or unset picks a free one. */
  port?: number;
  /** Modbus unit id the battery answers to. */
  unitId?: number;
  /** Serial number reported in SunSpec model 1. */
  serialNumber?: string;
  /** The battery as it is now; asked at every read (e.g. `() => (site.at(clock.now()), battery.state())`). */
  state: () => BatteryState;
}

/** A running battery simulator. */
export interface SunSpecBatterySim {
  readonly host: string;
  readonly port: number;
  readonly unitId: number;
  /** The battery as last served. */
  snapshot(): BatteryState;
  close(): Promise<void>;
}

/** SunSpec base address of the battery simulator. */
export const BATTERY_SUNSPEC_BASE = 40000;
const MODEL1_LENGTH = 66;
const MODEL124_LENGTH = 24;
const MODEL713_LENGTH = 7;
const MODEL802_LENGTH = 62;

/** Register offsets (from the model's ID register), as the SunSpec definitions number them. */
const M124 = {
  WChaMax: 2,
  WChaGra: 3,
  WDisChaGra: 4,
  StorCtl_Mod: 5,
  VAChaMax: 6,
  MinRsvPct: 7,
  ChaState: 8,
  StorAval: 9,
  InBatV: 10,
  ChaSt: 11,
  OutWRte: 12,
  InWRte: 13,
  InOutWRte_WinTms: 14,
  InOutWRte_RvrtTms: 15,
  InOutWRte_RmpTms: 16,
  ChaGriSet: 17,
  WChaMax_SF: 18,
  WChaDisChaGra_SF: 19,
  VAChaMax_SF: 20,
  MinRsvPct_SF: 21,
  ChaState_SF: 22,
  StorAval_SF: 23,
  InBatV_SF: 24,
  InOutWRte_SF: 25,
} as const;
const M713 = { WHRtg: 2, WHAvail: 3, SoC: 4, SoH: 5, Sta: 6, WH_SF: 7, Pct_SF: 8 } as const;
const M802 = {
  AHRtg: 2,
  WHRtg: 3,
  WChaRteMax: 4,
  WDisChaRteMax: 5,
  DisChaRte: 6,
  SoCMax: 7,
  SoCMin: 8,
  SocRsvMax: 9,
  SoCRsvMin: 10,
  SoC: 11,
  DoD: 12,
  SoH: 13,
  NCyc: 14,
  ChaSt: 16,
  LocRemCtl: 17,
  Hb: 18,
  CtrlHb: 19,
  AlmRst: 20,
  Typ: 21,
  State: 22,
  StateVnd: 23,
  WarrDt: 24,
  Evt1: 26,
  Evt2: 28,
  EvtVnd1: 30,
  EvtVnd2: 32,
  V: 34,
  VMax: 35,
  VMin: 36,
  CellVMax: 37,
  CellVMaxStr: 38,
  CellVMaxMod: 39,
  CellVMin: 40,
  CellVMinStr: 41,
  CellVMinMod: 42,
  CellVAvg: 43,
  A: 44,
  AChaMax: 45,
  ADisChaMax: 46,
  W: 47,
  ReqInvState: 48,
  ReqW: 49,
  SetOp: 50,
  SetInvState: 51,
  AHRtg_SF: 52,
  WHRtg_SF: 53,
  WChaDisChaMax_SF: 54,
  DisChaRte_SF: 55,
  SoC_SF: 56,
  DoD_SF: 57,
  SoH_SF: 58,
  V_SF: 59,
  CellV_SF: 60,
  A_SF: 61,
  AMax_SF: 62,
  W_SF: 63,
} as const;

const ILLEGAL_DATA_ADDRESS = { modbusErrorCode: 0x02, msg: "Illegal data address" };
const NOT_IMPLEMENTED_INT16 = 0x8000;
const NOT_IMPLEMENTED_UINT16 = 0xffff;
/** Cells in series of the simulated pack (16 × LFP). */
const CELLS = 16;
/** State of health the simulated pack reports, in %. */
const SOH_PCT = 98.5;

/**
 * Starts a Modbus TCP server that behaves like a SunSpec storage system: "SunS" at 40000, common
 * model 1 (40002), basic storage controls model 124 (40070), DER storage capacity model 713
 * (40096), lithium-ion battery base model 802 (40105) and the end marker (40169). Every read
 * serves the battery's state at that moment (state of charge, voltage, current, power, charge
 * status, lifetime cycles). Read-only: writes answer exception 02. Power and current are positive
 * while discharging, as the battery nature counts them (model 802 leaves the sign open).
 */
export async function startSunSpecBatterySim(options: SunSpecBatterySimOptions): Promise<SunSpecBatterySim> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port || (await findFreePort(host));
  const unitId = options.unitId ?? 1;
  const base = BATTERY_SUNSPEC_BASE;
  const MODEL1_AT = base + 2;
  const MODEL124_AT = MODEL1_AT + 2 + MODEL1_LENGTH;
  const MODEL713_AT = MODEL124_AT + 2 + MODEL124_LENGTH;
  const MODEL802_AT = MODEL713_AT + 2 + MODEL713_LENGTH;
  const END_AT = MODEL802_AT + 2 + MODEL802_LENGTH;
  const image = new RegisterImage(base, END_AT + 2 - base);

  image.setString(base, 2, "SunS");
  image.set(MODEL1_AT, 1);
  image.set(MODEL1_AT + 1, MODEL1_LENGTH);
  image.setString(MODEL1_AT + 2, 16, "SteinmetZ");
  image.setString(MODEL1_AT + 18, 16, "SIM-BAT-10K");
  image.setString(MODEL1_AT + 34, 8, "");
  image.setString(MODEL1_AT + 42, 8, "1.0.0");
  image.setString(MODEL1_AT + 50, 16, options.serialNumber ?? "SIMBAT0001");
  image.set(MODEL1_AT + 66, unitId);

  // Model 124: fixed settings and scale factors; the values that move are set in update().
  const s124 = (offset: number) => MODEL124_AT + offset;
  image.set(MODEL124_AT, 124);
  image.set(MODEL124_AT + 1, MODEL124_LENGTH);
  image.set(s124(M124.WChaGra), 100); // % WChaMax/s: full power within a second
  image.set(s124(M124.WDisChaGra), 100);
  image.set(s124(M124.StorCtl_Mod), 0); // no forced charge or discharge
  image.set(s124(M124.VAChaMax), NOT_IMPLEMENTED_UINT16);
  image.setInt16(s124(M124.OutWRte), 10000); // 100.00 % of the discharge maximum
  image.setInt16(s124(M124.InWRte), 10000); // 100.00 % of the charge maximum
  image.set(s124(M124.ChaGriSet), 0); // PV: charged from the PV surplus only
  image.setInt16(s124(M124.WChaMax_SF), 0);
  image.setInt16(s124(M124.WChaDisChaGra_SF), 0);
  image.set(s124(M124.VAChaMax_SF), NOT_IMPLEMENTED_INT16);
  image.setInt16(s124(M124.MinRsvPct_SF), -1);
  image.setInt16(s124(M124.ChaState_SF), -1);
  image.setInt16(s124(M124.StorAval_SF), -1);
  image.setInt16(s124(M124.InBatV_SF), -1);
  image.setInt16(s124(M124.InOutWRte_SF), -2);

  // Model 713.
  const s713 = (offset: number) => MODEL713_AT + offset;
  image.set(MODEL713_AT, 713);
  image.set(MODEL713_AT + 1, MODEL713_LENGTH);
  image.set(s713(M713.SoH), Math.round(SOH_PCT * 10));
  image.set(s713(M713.Sta), 0); // OK
  image.setInt16(s713(M713.WH_SF), 0);
  image.setInt16(s713(M713.Pct_SF), -1);

  // Model 802.
  const s802 = (offset: number) => MODEL802_AT + offset;
  image.set(MODEL802_AT, 802);
  image.set(MODEL802_AT + 1, MODEL802_LENGTH);
  image.set(s802(M802.DisChaRte), NOT_IMPLEMENTED_UINT16);
  image.set(s802(M802.SoCMax), 1000); // 100.0 %
  image.set(s802(M802.SocRsvMax), NOT_IMPLEMENTED_UINT16);
  image.set(s802(M802.DoD), NOT_IMPLEMENTED_UINT16);
  image.set(s802(M802.SoH), Math.round(SOH_PCT * 10));
  image.set(s802(M802.LocRemCtl), 0); // remote
  image.set(s802(M802.Typ), 4); // lithium-ion
  image.set(s802(M802.State), 3); // connected
  image.set(s802(M802.StateVnd), NOT_IMPLEMENTED_UINT16);
  image.setUint32(s802(M802.WarrDt), 0xffffffff); // not implemented (uint32)
  image.set(s802(M802.VMax), 576); // 57.6 V
  image.set(s802(M802.VMin), 448); // 44.8 V
  image.set(s802(M802.CellVMaxStr), 1);
  image.set(s802(M802.CellVMaxMod), 1);
  image.set(s802(M802.CellVMinStr), 1);
  image.set(s802(M802.CellVMinMod), 2);
  image.set(s802(M802.AChaMax), 100);
  image.set(s802(M802.ADisChaMax), 100);
  image.set(s802(M802.ReqInvState), 0);
  image.set(s802(M802.ReqW), NOT_IMPLEMENTED_INT16);
  image.set(s802(M802.SetOp), 1); // connect
  image.set(s802(M802.SetInvState), 3); // inverter started
  image.setInt16(s802(M802.AHRtg_SF), 0);
  image.setInt16(s802(M802.WHRtg_SF), 0);
  image.setInt16(s802(M802.WChaDisChaMax_SF), 0);
  image.set(s802(M802.DisChaRte_SF), NOT_IMPLEMENTED_INT16);
  image.setInt16(s802(M802.SoC_SF), -1);
  image.set(s802(M802.DoD_SF), NOT_IMPLEMENTED_INT16);
  image.setInt16(s802(M802.SoH_SF), -1);
  image.setInt16(s802(M802.V_SF), -1);
  image.setInt16(s802(M802.CellV_SF), -3);
  image.setInt16(s802(M802.A_SF), -1);
  image.setInt16(s802(M802.AMax_SF), 0);
  image.setInt16(s802(M802.W_SF), 0);
  image.set(END_AT, 0xffff);

  let heartbeat = 0;
  let last = options.state();

  function update(): void {
    const b = options.state();
    last = b;
    const nominalV = 51.2;
    const ratedAh = Math.round(b.capacityWh / nominalV);
    const soc = Math.round(b.socPct * 10);
    image.set(s124(M124.WChaMax), b.maxChargeW);
    image.set(s124(M124.MinRsvPct), Math.round(b.minReservePct * 10));
    image.set(s124(M124.ChaState), soc);
    image.set(s124(M124.StorAval), Math.round((b.availableWh / nominalV) * 10)); // Ah above the reserve
    image.set(s124(M124.InBatV), Math.round(b.voltageV * 10));
    image.set(s124(M124.ChaSt), b.status);

    image.set(s713(M713.WHRtg), b.capacityWh);
    image.set(s713(M713.WHAvail), Math.round(b.availableWh));
    image.set(s713(M713.SoC), soc);

    image.set(s802(M802.AHRtg), ratedAh);
    image.set(s802(M802.WHRtg), b.capacityWh);
    image.set(s802(M802.WChaRteMax), b.maxChargeW);
    image.set(s802(M802.WDisChaRteMax), b.maxDischargeW);
    image.set(s802(M802.SoCMin), 0);
    image.set(s802(M802.SoCRsvMin), Math.round(b.minReservePct * 10));
    image.set(s802(M802.SoC), soc);
    image.setUint32(s802(M802.NCyc), Math.floor(b.dischargedWh / b.capacityWh));
    image.set(s802(M802.ChaSt), b.status);
    heartbeat = (heartbeat + 1) & 0xffff;
    image.set(s802(M802.Hb), heartbeat);
    image.set(s802(M802.V), Math.round(b.voltageV * 10));
    const cellV = b.voltageV / CELLS;
    image.set(s802(M802.CellVMax), Math.round((cellV + 0.012) * 1000));
    image.set(s802(M802.CellVMin), Math.round((cellV - 0.009) * 1000));
    image.set(s802(M802.CellVAvg), Math.round(cellV * 1000));
    image.setInt16(s802(M802.A), Math.round(b.currentA * 10));
    image.setInt16(s802(M802.W), b.powerW);
  }
  update();

  const vector = {
    getMultipleHoldingRegisters(addr: number, length: number): number[] {
      update();
      return image.read(addr, length);
    },
    getHoldingRegister(addr: number): number {
      update();
      return image.read(addr, 1)[0] as number;
    },
    setRegister(): void {
      throw ILLEGAL_DATA_ADDRESS;
    },
    setRegisterArray(): void {
      throw ILLEGAL_DATA_ADDRESS;
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
    snapshot: () => last,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

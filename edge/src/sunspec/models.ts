/**
 * SunSpec information models the edge reads, stated in the project's own format: for every point its
 * register offset, type, size, scale-factor link and units, and the canonical point id it maps to.
 *
 * Names, types, sizes, scale-factor links and units are spelled exactly as the official SunSpec model
 * definitions spell them, inconsistencies included (e.g. "var" vs "Var", "Wh" vs "WH", model 201's
 * PPVphAB vs models 202–204's PhVphAB for the same line-to-line voltage). edge/test/sunspec-models.test.ts
 * checks this table against those definitions.
 */

/** SunSpec point types as the models below use them. */
export type SunSpecType =
  | "int16"
  | "uint16"
  | "count"
  | "acc32"
  | "enum16"
  | "bitfield16"
  | "bitfield32"
  | "pad"
  | "int32"
  | "uint32"
  | "uint64"
  | "float32"
  | "string"
  | "sunssf";

export interface SunSpecPoint {
  /** SunSpec point name, e.g. "W". */
  name: string;
  /**
   * Register offset from the start of its group; for a model's top-level group that is the model's ID register
   * (ID = 0, L = 1), for a nested group the group's first register.
   */
  offset: number;
  type: SunSpecType;
  /** Size in registers. */
  size: number;
  /** Name of the scale-factor (sunssf) point when the value is scaled; it may live in another group of the model. */
  sf?: string;
  units?: string;
  /** Canonical point id of the product this point maps to, if any. */
  point?: string;
}

export interface SunSpecGroup {
  name: string;
  points: SunSpecPoint[];
  groups?: SunSpecRepeatingGroup[];
}

export interface SunSpecRepeatingGroup extends SunSpecGroup {
  /**
   * Repetition count as the SunSpec definition states it: the name of the point holding the count, or a number
   * as string. "0" means the group repeats to fill the model length L; "1" marks a group the definition gives
   * no count, which occurs exactly once and belongs to the model's fixed part (e.g. model 704's PFWInj).
   */
  count: string;
}

export interface SunSpecModel {
  id: number;
  name: string;
  /** Length L of the fixed part as the definition states it: sum of the fixed point sizes minus 2 (ID and L). */
  length: number;
  group: SunSpecGroup;
}

type PointExtra = Pick<SunSpecPoint, "sf" | "units" | "point">;

function p(name: string, offset: number, type: SunSpecType, size: number, extra: PointExtra = {}): SunSpecPoint {
  return { name, offset, type, size, ...extra };
}

function model(
  id: number,
  name: string,
  length: number,
  points: SunSpecPoint[],
  groups?: SunSpecRepeatingGroup[],
): SunSpecModel {
  return { id, name, length, group: groups ? { name, points, groups } : { name, points } };
}

/** Integer inverter layout shared by models 101, 102 and 103 (they differ only in which points are mandatory). */
function inverterPoints(): SunSpecPoint[] {
  return [
    p("ID", 0, "uint16", 1),
    p("L", 1, "uint16", 1),
    p("A", 2, "uint16", 1, { sf: "A_SF", units: "A", point: "ac_current" }),
    p("AphA", 3, "uint16", 1, { sf: "A_SF", units: "A", point: "ac_current_l1" }),
    p("AphB", 4, "uint16", 1, { sf: "A_SF", units: "A", point: "ac_current_l2" }),
    p("AphC", 5, "uint16", 1, { sf: "A_SF", units: "A", point: "ac_current_l3" }),
    p("A_SF", 6, "sunssf", 1),
    p("PPVphAB", 7, "uint16", 1, { sf: "V_SF", units: "V", point: "ac_voltage_l1_l2" }),
    p("PPVphBC", 8, "uint16", 1, { sf: "V_SF", units: "V" }),
    p("PPVphCA", 9, "uint16", 1, { sf: "V_SF", units: "V" }),
    p("PhVphA", 10, "uint16", 1, { sf: "V_SF", units: "V", point: "ac_voltage_l1" }),
    p("PhVphB", 11, "uint16", 1, { sf: "V_SF", units: "V", point: "ac_voltage_l2" }),
    p("PhVphC", 12, "uint16", 1, { sf: "V_SF", units: "V", point: "ac_voltage_l3" }),
    p("V_SF", 13, "sunssf", 1),
    p("W", 14, "int16", 1, { sf: "W_SF", units: "W", point: "active_power" }),
    p("W_SF", 15, "sunssf", 1),
    p("Hz", 16, "uint16", 1, { sf: "Hz_SF", units: "Hz", point: "frequency" }),
    p("Hz_SF", 17, "sunssf", 1),
    p("VA", 18, "int16", 1, { sf: "VA_SF", units: "VA", point: "apparent_power" }),
    p("VA_SF", 19, "sunssf", 1),
    p("VAr", 20, "int16", 1, { sf: "VAr_SF", units: "var", point: "reactive_power" }),
    p("VAr_SF", 21, "sunssf", 1),
    p("PF", 22, "int16", 1, { sf: "PF_SF", units: "Pct", point: "power_factor" }),
    p("PF_SF", 23, "sunssf", 1),
    p("WH", 24, "acc32", 2, { sf: "WH_SF", units: "Wh", point: "energy_exported" }),
    p("WH_SF", 26, "sunssf", 1),
    p("DCA", 27, "uint16", 1, { sf: "DCA_SF", units: "A", point: "dc_current" }),
    p("DCA_SF", 28, "sunssf", 1),
    p("DCV", 29, "uint16", 1, { sf: "DCV_SF", units: "V", point: "dc_voltage" }),
    p("DCV_SF", 30, "sunssf", 1),
    p("DCW", 31, "int16", 1, { sf: "DCW_SF", units: "W", point: "dc_power" }),
    p("DCW_SF", 32, "sunssf", 1),
    p("TmpCab", 33, "int16", 1, { sf: "Tmp_SF", units: "C", point: "cabinet_temperature" }),
    p("TmpSnk", 34, "int16", 1, { sf: "Tmp_SF", units: "C", point: "heat_sink_temperature" }),
    p("TmpTrns", 35, "int16", 1, { sf: "Tmp_SF", units: "C" }),
    p("TmpOt", 36, "int16", 1, { sf: "Tmp_SF", units: "C" }),
    p("Tmp_SF", 37, "sunssf", 1),
    p("St", 38, "enum16", 1, { point: "operating_state" }),
    p("StVnd", 39, "enum16", 1),
    p("Evt1", 40, "bitfield32", 2),
    p("Evt2", 42, "bitfield32", 2),
    p("EvtVnd1", 44, "bitfield32", 2),
    p("EvtVnd2", 46, "bitfield32", 2),
    p("EvtVnd3", 48, "bitfield32", 2),
    p("EvtVnd4", 50, "bitfield32", 2),
  ];
}

/** Float inverter layout shared by models 111, 112 and 113. */
function inverterFloatPoints(): SunSpecPoint[] {
  return [
    p("ID", 0, "uint16", 1),
    p("L", 1, "uint16", 1),
    p("A", 2, "float32", 2, { units: "A", point: "ac_current" }),
    p("AphA", 4, "float32", 2, { units: "A", point: "ac_current_l1" }),
    p("AphB", 6, "float32", 2, { units: "A", point: "ac_current_l2" }),
    p("AphC", 8, "float32", 2, { units: "A", point: "ac_current_l3" }),
    p("PPVphAB", 10, "float32", 2, { units: "V", point: "ac_voltage_l1_l2" }),
    p("PPVphBC", 12, "float32", 2, { units: "V" }),
    p("PPVphCA", 14, "float32", 2, { units: "V" }),
    p("PhVphA", 16, "float32", 2, { units: "V", point: "ac_voltage_l1" }),
    p("PhVphB", 18, "float32", 2, { units: "V", point: "ac_voltage_l2" }),
    p("PhVphC", 20, "float32", 2, { units: "V", point: "ac_voltage_l3" }),
    p("W", 22, "float32", 2, { units: "W", point: "active_power" }),
    p("Hz", 24, "float32", 2, { units: "Hz", point: "frequency" }),
    p("VA", 26, "float32", 2, { units: "VA", point: "apparent_power" }),
    p("VAr", 28, "float32", 2, { units: "var", point: "reactive_power" }),
    p("PF", 30, "float32", 2, { units: "Pct", point: "power_factor" }),
    p("WH", 32, "float32", 2, { units: "Wh", point: "energy_exported" }),
    p("DCA", 34, "float32", 2, { units: "A", point: "dc_current" }),
    p("DCV", 36, "float32", 2, { units: "V", point: "dc_voltage" }),
    p("DCW", 38, "float32", 2, { units: "W", point: "dc_power" }),
    p("TmpCab", 40, "float32", 2, { units: "C", point: "cabinet_temperature" }),
    p("TmpSnk", 42, "float32", 2, { units: "C", point: "heat_sink_temperature" }),
    p("TmpTrns", 44, "float32", 2, { units: "C" }),
    p("TmpOt", 46, "float32", 2, { units: "C" }),
    p("St", 48, "enum16", 1, { point: "operating_state" }),
    p("StVnd", 49, "enum16", 1),
    p("Evt1", 50, "bitfield32", 2),
    p("Evt2", 52, "bitfield32", 2),
    p("EvtVnd1", 54, "bitfield32", 2),
    p("EvtVnd2", 56, "bitfield32", 2),
    p("EvtVnd3", 58, "bitfield32", 2),
    p("EvtVnd4", 60, "bitfield32", 2),
  ];
}

/**
 * Integer meter layout shared by models 201–204. The definitions name the line-to-line voltages PPVphAB/BC/CA
 * in model 201 but PhVphAB/BC/CA in models 202–204; `ll` is that prefix.
 */
function meterPoints(ll: "PPVph" | "PhVph"): SunSpecPoint[] {
  return [
    p("ID", 0, "uint16", 1),
    p("L", 1, "uint16", 1),
    p("A", 2, "int16", 1, { sf: "A_SF", units: "A", point: "ac_current" }),
    p("AphA", 3, "int16", 1, { sf: "A_SF", units: "A", point: "ac_current_l1" }),
    p("AphB", 4, "int16", 1, { sf: "A_SF", units: "A", point: "ac_current_l2" }),
    p("AphC", 5, "int16", 1, { sf: "A_SF", units: "A", point: "ac_current_l3" }),
    p("A_SF", 6, "sunssf", 1),
    p("PhV", 7, "int16", 1, { sf: "V_SF", units: "V" }),
    p("PhVphA", 8, "int16", 1, { sf: "V_SF", units: "V", point: "ac_voltage_l1" }),
    p("PhVphB", 9, "int16", 1, { sf: "V_SF", units: "V", point: "ac_voltage_l2" }),
    p("PhVphC", 10, "int16", 1, { sf: "V_SF", units: "V", point: "ac_voltage_l3" }),
    p("PPV", 11, "int16", 1, { sf: "V_SF", units: "V" }),
    p(`${ll}AB`, 12, "int16", 1, { sf: "V_SF", units: "V", point: "ac_voltage_l1_l2" }),
    p(`${ll}BC`, 13, "int16", 1, { sf: "V_SF", units: "V" }),
    p(`${ll}CA`, 14, "int16", 1, { sf: "V_SF", units: "V" }),
    p("V_SF", 15, "sunssf", 1),
    p("Hz", 16, "int16", 1, { sf: "Hz_SF", units: "Hz", point: "frequency" }),
    p("Hz_SF", 17, "sunssf", 1),
    p("W", 18, "int16", 1, { sf: "W_SF", units: "W", point: "active_power" }),
    p("WphA", 19, "int16", 1, { sf: "W_SF", units: "W", point: "active_power_l1" }),
    p("WphB", 20, "int16", 1, { sf: "W_SF", units: "W", point: "active_power_l2" }),
    p("WphC", 21, "int16", 1, { sf: "W_SF", units: "W", point: "active_power_l3" }),
    p("W_SF", 22, "sunssf", 1),
    p("VA", 23, "int16", 1, { sf: "VA_SF", units: "VA", point: "apparent_power" }),
    p("VAphA", 24, "int16", 1, { sf: "VA_SF", units: "VA" }),
    p("VAphB", 25, "int16", 1, { sf: "VA_SF", units: "VA" }),
    p("VAphC", 26, "int16", 1, { sf: "VA_SF", units: "VA" }),
    p("VA_SF", 27, "sunssf", 1),
    p("VAR", 28, "int16", 1, { sf: "VAR_SF", units: "var", point: "reactive_power" }),
    p("VARphA", 29, "int16", 1, { sf: "VAR_SF", units: "var" }),
    p("VARphB", 30, "int16", 1, { sf: "VAR_SF", units: "var" }),
    p("VARphC", 31, "int16", 1, { sf: "VAR_SF", units: "var" }),
    p("VAR_SF", 32, "sunssf", 1),
    p("PF", 33, "int16", 1, { sf: "PF_SF", units: "Pct", point: "power_factor" }),
    p("PFphA", 34, "int16", 1, { sf: "PF_SF", units: "Pct" }),
    p("PFphB", 35, "int16", 1, { sf: "PF_SF", units: "Pct" }),
    p("PFphC", 36, "int16", 1, { sf: "PF_SF", units: "Pct" }),
    p("PF_SF", 37, "sunssf", 1),
    p("TotWhExp", 38, "acc32", 2, { sf: "TotWh_SF", units: "Wh", point: "energy_exported" }),
    p("TotWhExpPhA", 40, "acc32", 2, { sf: "TotWh_SF", units: "Wh" }),
    p("TotWhExpPhB", 42, "acc32", 2, { sf: "TotWh_SF", units: "Wh" }),
    p("TotWhExpPhC", 44, "acc32", 2, { sf: "TotWh_SF", units: "Wh" }),
    p("TotWhImp", 46, "acc32", 2, { sf: "TotWh_SF", units: "Wh", point: "energy_imported" }),
    p("TotWhImpPhA", 48, "acc32", 2, { sf: "TotWh_SF", units: "Wh" }),
    p("TotWhImpPhB", 50, "acc32", 2, { sf: "TotWh_SF", units: "Wh" }),
    p("TotWhImpPhC", 52, "acc32", 2, { sf: "TotWh_SF", units: "Wh" }),
    p("TotWh_SF", 54, "sunssf", 1),
    p("TotVAhExp", 55, "acc32", 2, { sf: "TotVAh_SF", units: "VAh" }),
    p("TotVAhExpPhA", 57, "acc32", 2, { sf: "TotVAh_SF", units: "VAh" }),
    p("TotVAhExpPhB", 59, "acc32", 2, { sf: "TotVAh_SF", units: "VAh" }),
    p("TotVAhExpPhC", 61, "acc32", 2, { sf: "TotVAh_SF", units: "VAh" }),
    p("TotVAhImp", 63, "acc32", 2, { sf: "TotVAh_SF", units: "VAh" }),
    p("TotVAhImpPhA", 65, "acc32", 2, { sf: "TotVAh_SF", units: "VAh" }),
    p("TotVAhImpPhB", 67, "acc32", 2, { sf: "TotVAh_SF", units: "VAh" }),
    p("TotVAhImpPhC", 69, "acc32", 2, { sf: "TotVAh_SF", units: "VAh" }),
    p("TotVAh_SF", 71, "sunssf", 1),
    p("TotVArhImpQ1", 72, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArhImpQ1PhA", 74, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArhImpQ1PhB", 76, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArhImpQ1PhC", 78, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArhImpQ2", 80, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArhImpQ2PhA", 82, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArhImpQ2PhB", 84, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArhImpQ2PhC", 86, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArhExpQ3", 88, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArhExpQ3PhA", 90, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArhExpQ3PhB", 92, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArhExpQ3PhC", 94, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArhExpQ4", 96, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArhExpQ4PhA", 98, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArhExpQ4PhB", 100, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArhExpQ4PhC", 102, "acc32", 2, { sf: "TotVArh_SF", units: "varh" }),
    p("TotVArh_SF", 104, "sunssf", 1),
    p("Evt", 105, "bitfield32", 2),
  ];
}

/** Float meter layout shared by models 211–214. */
function meterFloatPoints(): SunSpecPoint[] {
  return [
    p("ID", 0, "uint16", 1),
    p("L", 1, "uint16", 1),
    p("A", 2, "float32", 2, { units: "A", point: "ac_current" }),
    p("AphA", 4, "float32", 2, { units: "A", point: "ac_current_l1" }),
    p("AphB", 6, "float32", 2, { units: "A", point: "ac_current_l2" }),
    p("AphC", 8, "float32", 2, { units: "A", point: "ac_current_l3" }),
    p("PhV", 10, "float32", 2, { units: "V" }),
    p("PhVphA", 12, "float32", 2, { units: "V", point: "ac_voltage_l1" }),
    p("PhVphB", 14, "float32", 2, { units: "V", point: "ac_voltage_l2" }),
    p("PhVphC", 16, "float32", 2, { units: "V", point: "ac_voltage_l3" }),
    p("PPV", 18, "float32", 2, { units: "V" }),
    p("PPVphAB", 20, "float32", 2, { units: "V", point: "ac_voltage_l1_l2" }),
    p("PPVphBC", 22, "float32", 2, { units: "V" }),
    p("PPVphCA", 24, "float32", 2, { units: "V" }),
    p("Hz", 26, "float32", 2, { units: "Hz", point: "frequency" }),
    p("W", 28, "float32", 2, { units: "W", point: "active_power" }),
    p("WphA", 30, "float32", 2, { units: "W", point: "active_power_l1" }),
    p("WphB", 32, "float32", 2, { units: "W", point: "active_power_l2" }),
    p("WphC", 34, "float32", 2, { units: "W", point: "active_power_l3" }),
    p("VA", 36, "float32", 2, { units: "VA", point: "apparent_power" }),
    p("VAphA", 38, "float32", 2, { units: "VA" }),
    p("VAphB", 40, "float32", 2, { units: "VA" }),
    p("VAphC", 42, "float32", 2, { units: "VA" }),
    p("VAR", 44, "float32", 2, { units: "var", point: "reactive_power" }),
    p("VARphA", 46, "float32", 2, { units: "var" }),
    p("VARphB", 48, "float32", 2, { units: "var" }),
    p("VARphC", 50, "float32", 2, { units: "var" }),
    p("PF", 52, "float32", 2, { units: "PF", point: "power_factor" }),
    p("PFphA", 54, "float32", 2, { units: "PF" }),
    p("PFphB", 56, "float32", 2, { units: "PF" }),
    p("PFphC", 58, "float32", 2, { units: "PF" }),
    p("TotWhExp", 60, "float32", 2, { units: "Wh", point: "energy_exported" }),
    p("TotWhExpPhA", 62, "float32", 2, { units: "Wh" }),
    p("TotWhExpPhB", 64, "float32", 2, { units: "Wh" }),
    p("TotWhExpPhC", 66, "float32", 2, { units: "Wh" }),
    p("TotWhImp", 68, "float32", 2, { units: "Wh", point: "energy_imported" }),
    p("TotWhImpPhA", 70, "float32", 2, { units: "Wh" }),
    p("TotWhImpPhB", 72, "float32", 2, { units: "Wh" }),
    p("TotWhImpPhC", 74, "float32", 2, { units: "Wh" }),
    p("TotVAhExp", 76, "float32", 2, { units: "VAh" }),
    p("TotVAhExpPhA", 78, "float32", 2, { units: "VAh" }),
    p("TotVAhExpPhB", 80, "float32", 2, { units: "VAh" }),
    p("TotVAhExpPhC", 82, "float32", 2, { units: "VAh" }),
    p("TotVAhImp", 84, "float32", 2, { units: "VAh" }),
    p("TotVAhImpPhA", 86, "float32", 2, { units: "VAh" }),
    p("TotVAhImpPhB", 88, "float32", 2, { units: "VAh" }),
    p("TotVAhImpPhC", 90, "float32", 2, { units: "VAh" }),
    p("TotVArhImpQ1", 92, "float32", 2, { units: "varh" }),
    p("TotVArhImpQ1phA", 94, "float32", 2, { units: "varh" }),
    p("TotVArhImpQ1phB", 96, "float32", 2, { units: "varh" }),
    p("TotVArhImpQ1phC", 98, "float32", 2, { units: "varh" }),
    p("TotVArhImpQ2", 100, "float32", 2, { units: "varh" }),
    p("TotVArhImpQ2phA", 102, "float32", 2, { units: "varh" }),
    p("TotVArhImpQ2phB", 104, "float32", 2, { units: "varh" }),
    p("TotVArhImpQ2phC", 106, "float32", 2, { units: "varh" }),
    p("TotVArhExpQ3", 108, "float32", 2, { units: "varh" }),
    p("TotVArhExpQ3phA", 110, "float32", 2, { units: "varh" }),
    p("TotVArhExpQ3phB", 112, "float32", 2, { units: "varh" }),
    p("TotVArhExpQ3phC", 114, "float32", 2, { units: "varh" }),
    p("TotVArhExpQ4", 116, "float32", 2, { units: "varh" }),
    p("TotVArhExpQ4phA", 118, "float32", 2, { units: "varh" }),
    p("TotVArhExpQ4phB", 120, "float32", 2, { units: "varh" }),
    p("TotVArhExpQ4phC", 122, "float32", 2, { units: "varh" }),
    p("Evt", 124, "bitfield32", 2),
  ];
}

const MODELS: SunSpecModel[] = [
  /** Model 1: Common (manufacturer, model, options, version, serial number, device address). */
  model(1, "common", 66, [
    p("ID", 0, "uint16", 1),
    p("L", 1, "uint16", 1),
    p("Mn", 2, "string", 16),
    p("Md", 18, "string", 16),
    p("Opt", 34, "string", 8),
    p("Vr", 42, "string", 8),
    p("SN", 50, "string", 16),
    p("DA", 66, "uint16", 1),
    p("Pad", 67, "pad", 1),
  ]),
  /** Model 101: Inverter (single phase), integer values with scale factors. */
  model(101, "inverter_single_phase", 50, inverterPoints()),
  /** Model 102: Inverter (split phase), integer values with scale factors. */
  model(102, "inverter_split_phase", 50, inverterPoints()),
  /** Model 103: Inverter (three phase), integer values with scale factors. */
  model(103, "inverter_three_phase", 50, inverterPoints()),
  /** Model 111: Inverter (single phase), float values. */
  model(111, "inverter_single_phase_float", 60, inverterFloatPoints()),
  /** Model 112: Inverter (split phase), float values. */
  model(112, "inverter_split_phase_float", 60, inverterFloatPoints()),
  /** Model 113: Inverter (three phase), float values. */
  model(113, "inverter_three_phase_float", 60, inverterFloatPoints()),
  /** Model 120: Nameplate ratings. */
  model(120, "nameplate", 26, [
    p("ID", 0, "uint16", 1),
    p("L", 1, "uint16", 1),
    p("DERTyp", 2, "enum16", 1),
    p("WRtg", 3, "uint16", 1, { sf: "WRtg_SF", units: "W", point: "rated_power" }),
    p("WRtg_SF", 4, "sunssf", 1),
    p("VARtg", 5, "uint16", 1, { sf: "VARtg_SF", units: "VA" }),
    p("VARtg_SF", 6, "sunssf", 1),
    p("VArRtgQ1", 7, "int16", 1, { sf: "VArRtg_SF", units: "var" }),
    p("VArRtgQ2", 8, "int16", 1, { sf: "VArRtg_SF", units: "var" }),
    p("VArRtgQ3", 9, "int16", 1, { sf: "VArRtg_SF", units: "var" }),
    p("VArRtgQ4", 10, "int16", 1, { sf: "VArRtg_SF", units: "var" }),
    p("VArRtg_SF", 11, "sunssf", 1),
    p("ARtg", 12, "uint16", 1, { sf: "ARtg_SF", units: "A" }),
    p("ARtg_SF", 13, "sunssf", 1),
    p("PFRtgQ1", 14, "int16", 1, { sf: "PFRtg_SF", units: "cos()" }),
    p("PFRtgQ2", 15, "int16", 1, { sf: "PFRtg_SF", units: "cos()" }),
    p("PFRtgQ3", 16, "int16", 1, { sf: "PFRtg_SF", units: "cos()" }),
    p("PFRtgQ4", 17, "int16", 1, { sf: "PFRtg_SF", units: "cos()" }),
    p("PFRtg_SF", 18, "sunssf", 1),
    p("WHRtg", 19, "uint16", 1, { sf: "WHRtg_SF", units: "Wh", point: "energy_capacity" }),
    p("WHRtg_SF", 20, "sunssf", 1),
    p("AhrRtg", 21, "uint16", 1, { sf: "AhrRtg_SF", units: "AH" }),
    p("AhrRtg_SF", 22, "sunssf", 1),
    p("MaxChaRte", 23, "uint16", 1, { sf: "MaxChaRte_SF", units: "W" }),
    p("MaxChaRte_SF", 24, "sunssf", 1),
    p("MaxDisChaRte", 25, "uint16", 1, { sf: "MaxDisChaRte_SF", units: "W" }),
    p("MaxDisChaRte_SF", 26, "sunssf", 1),
    p("Pad", 27, "pad", 1),
  ]),
  /** Model 121: Basic settings. */
  model(121, "settings", 30, [
    p("ID", 0, "uint16", 1),
    p("L", 1, "uint16", 1),
    p("WMax", 2, "uint16", 1, { sf: "WMax_SF", units: "W", point: "max_power" }),
    p("VRef", 3, "uint16", 1, { sf: "VRef_SF", units: "V" }),
    p("VRefOfs", 4, "int16", 1, { sf: "VRefOfs_SF", units: "V" }),
    p("VMax", 5, "uint16", 1, { sf: "VMinMax_SF", units: "V" }),
    p("VMin", 6, "uint16", 1, { sf: "VMinMax_SF", units: "V" }),
    p("VAMax", 7, "uint16", 1, { sf: "VAMax_SF", units: "VA" }),
    p("VArMaxQ1", 8, "int16", 1, { sf: "VArMax_SF", units: "var" }),
    p("VArMaxQ2", 9, "int16", 1, { sf: "VArMax_SF", units: "var" }),
    p("VArMaxQ3", 10, "int16", 1, { sf: "VArMax_SF", units: "var" }),
    p("VArMaxQ4", 11, "int16", 1, { sf: "VArMax_SF", units: "var" }),
    p("WGra", 12, "uint16", 1, { sf: "WGra_SF", units: "% WMax/sec" }),
    p("PFMinQ1", 13, "int16", 1, { sf: "PFMin_SF", units: "cos()" }),
    p("PFMinQ2", 14, "int16", 1, { sf: "PFMin_SF", units: "cos()" }),
    p("PFMinQ3", 15, "int16", 1, { sf: "PFMin_SF", units: "cos()" }),
    p("PFMinQ4", 16, "int16", 1, { sf: "PFMin_SF", units: "cos()" }),
    p("VArAct", 17, "enum16", 1),
    p("ClcTotVA", 18, "enum16", 1),
    p("MaxRmpRte", 19, "uint16", 1, { sf: "MaxRmpRte_SF", units: "% WGra" }),
    p("ECPNomHz", 20, "uint16", 1, { sf: "ECPNomHz_SF", units: "Hz" }),
    p("ConnPh", 21, "enum16", 1),
    p("WMax_SF", 22, "sunssf", 1),
    p("VRef_SF", 23, "sunssf", 1),
    p("VRefOfs_SF", 24, "sunssf", 1),
    p("VMinMax_SF", 25, "sunssf", 1),
    p("VAMax_SF", 26, "sunssf", 1),
    p("VArMax_SF", 27, "sunssf", 1),
    p("WGra_SF", 28, "sunssf", 1),
    p("PFMin_SF", 29, "sunssf", 1),
    p("MaxRmpRte_SF", 30, "sunssf", 1),
    p("ECPNomHz_SF", 31, "sunssf", 1),
  ]),
  /** Model 123: Immediate controls (connect, power limit, power factor, var). */
  model(123, "controls", 24, [
    p("ID", 0, "uint16", 1),
    p("L", 1, "uint16", 1),
    p("Conn_WinTms", 2, "uint16", 1, { units: "Secs" }),
    p("Conn_RvrtTms", 3, "uint16", 1, { units: "Secs" }),
    p("Conn", 4, "enum16", 1),
    p("WMaxLimPct", 5, "uint16", 1, { sf: "WMaxLimPct_SF", units: "% WMax", point: "power_limit_pct" }),
    p("WMaxLimPct_WinTms", 6, "uint16", 1, { units: "Secs" }),
    p("WMaxLimPct_RvrtTms", 7, "uint16", 1, { units: "Secs", point: "power_limit_revert_timeout" }),
    p("WMaxLimPct_RmpTms", 8, "uint16", 1, { units: "Secs" }),
    p("WMaxLim_Ena", 9, "enum16", 1, { point: "power_limit_enabled" }),
    p("OutPFSet", 10, "int16", 1, { sf: "OutPFSet_SF", units: "cos()" }),
    p("OutPFSet_WinTms", 11, "uint16", 1, { units: "Secs" }),
    p("OutPFSet_RvrtTms", 12, "uint16", 1, { units: "Secs" }),
    p("OutPFSet_RmpTms", 13, "uint16", 1, { units: "Secs" }),
    p("OutPFSet_Ena", 14, "enum16", 1),
    p("VArWMaxPct", 15, "int16", 1, { sf: "VArPct_SF", units: "% WMax" }),
    p("VArMaxPct", 16, "int16", 1, { sf: "VArPct_SF", units: "% VArMax" }),
    p("VArAvalPct", 17, "int16", 1, { sf: "VArPct_SF", units: "% VArAval" }),
    p("VArPct_WinTms", 18, "uint16", 1, { units: "Secs" }),
    p("VArPct_RvrtTms", 19, "uint16", 1, { units: "Secs" }),
    p("VArPct_RmpTms", 20, "uint16", 1, { units: "Secs" }),
    p("VArPct_Mod", 21, "enum16", 1),
    p("VArPct_Ena", 22, "enum16", 1),
    p("WMaxLimPct_SF", 23, "sunssf", 1),
    p("OutPFSet_SF", 24, "sunssf", 1),
    p("VArPct_SF", 25, "sunssf", 1),
  ]),
  /** Model 124: Basic storage controls. */
  model(124, "storage_basic", 24, [
    p("ID", 0, "uint16", 1),
    p("L", 1, "uint16", 1),
    p("WChaMax", 2, "uint16", 1, { sf: "WChaMax_SF", units: "W", point: "max_charge_power" }),
    p("WChaGra", 3, "uint16", 1, { sf: "WChaDisChaGra_SF", units: "% WChaMax/sec" }),
    p("WDisChaGra", 4, "uint16", 1, { sf: "WChaDisChaGra_SF", units: "% WChaMax/sec" }),
    p("StorCtl_Mod", 5, "bitfield16", 1),
    p("VAChaMax", 6, "uint16", 1, { sf: "VAChaMax_SF", units: "VA" }),
    p("MinRsvPct", 7, "uint16", 1, { sf: "MinRsvPct_SF", units: "% WChaMax" }),
    p("ChaState", 8, "uint16", 1, { sf: "ChaState_SF", units: "% AhrRtg", point: "soc" }),
    p("StorAval", 9, "uint16", 1, { sf: "StorAval_SF", units: "AH" }),
    p("InBatV", 10, "uint16", 1, { sf: "InBatV_SF", units: "V", point: "battery_voltage" }),
    p("ChaSt", 11, "enum16", 1),
    p("OutWRte", 12, "int16", 1, { sf: "InOutWRte_SF", units: "% WDisChaMax", point: "discharge_limit_pct" }),
    p("InWRte", 13, "int16", 1, { sf: "InOutWRte_SF", units: " % WChaMax", point: "charge_limit_pct" }),
    p("InOutWRte_WinTms", 14, "uint16", 1, { units: "Secs" }),
    p("InOutWRte_RvrtTms", 15, "uint16", 1, { units: "Secs" }),
    p("InOutWRte_RmpTms", 16, "uint16", 1, { units: "Secs" }),
    p("ChaGriSet", 17, "enum16", 1),
    p("WChaMax_SF", 18, "sunssf", 1),
    p("WChaDisChaGra_SF", 19, "sunssf", 1),
    p("VAChaMax_SF", 20, "sunssf", 1),
    p("MinRsvPct_SF", 21, "sunssf", 1),
    p("ChaState_SF", 22, "sunssf", 1),
    p("StorAval_SF", 23, "sunssf", 1),
    p("InBatV_SF", 24, "sunssf", 1),
    p("InOutWRte_SF", 25, "sunssf", 1),
  ]),
  /**
   * Model 160: Multiple MPPT inverter extension. The module group repeats once per MPPT input: the definition
   * gives it count 0 (as many as fit in L, i.e. (L - 8) / 20), and N holds the same number.
   */
  model(
    160,
    "mppt",
    8,
    [
      p("ID", 0, "uint16", 1),
      p("L", 1, "uint16", 1),
      p("DCA_SF", 2, "sunssf", 1),
      p("DCV_SF", 3, "sunssf", 1),
      p("DCW_SF", 4, "sunssf", 1),
      p("DCWH_SF", 5, "sunssf", 1),
      p("Evt", 6, "bitfield32", 2),
      p("N", 8, "count", 1),
      p("TmsPer", 9, "uint16", 1),
    ],
    [
      {
        name: "module",
        count: "0",
        points: [
          p("ID", 0, "uint16", 1),
          p("IDStr", 1, "string", 8),
          p("DCA", 9, "uint16", 1, { sf: "DCA_SF", units: "A", point: "mppt_dc_current" }),
          p("DCV", 10, "uint16", 1, { sf: "DCV_SF", units: "V", point: "mppt_dc_voltage" }),
          p("DCW", 11, "uint16", 1, { sf: "DCW_SF", units: "W", point: "mppt_dc_power" }),
          p("DCWH", 12, "acc32", 2, { sf: "DCWH_SF", units: "Wh", point: "mppt_energy" }),
          p("Tms", 14, "uint32", 2, { units: "Secs" }),
          p("Tmp", 16, "int16", 1, { units: "C" }),
          p("DCSt", 17, "enum16", 1),
          p("DCEvt", 18, "bitfield32", 2),
        ],
      },
    ],
  ),
  /** Model 201: Single-phase (AN or AB) meter, integer values with scale factors. */
  model(201, "ac_meter_an_or_ab", 105, meterPoints("PPVph")),
  /** Model 202: Split single-phase (ABN) meter, integer values with scale factors. */
  model(202, "ac_meter_abn", 105, meterPoints("PhVph")),
  /** Model 203: Wye-connected three-phase (ABCN) meter, integer values with scale factors. */
  model(203, "ac_meter_abcn", 105, meterPoints("PhVph")),
  /** Model 204: Delta-connected three-phase (ABC) meter, integer values with scale factors. */
  model(204, "ac_meter_abc", 105, meterPoints("PhVph")),
  /** Model 211: Single-phase (AN or AB) meter, float values. */
  model(211, "ac_meter_an_or_ab_float", 124, meterFloatPoints()),
  /** Model 212: Split single-phase (ABN) meter, float values. */
  model(212, "ac_meter_abn_float", 124, meterFloatPoints()),
  /** Model 213: Wye-connected three-phase (ABCN) meter, float values. */
  model(213, "ac_meter_abcn_float", 124, meterFloatPoints()),
  /** Model 214: Delta-connected three-phase (ABC) meter, float values. */
  model(214, "ac_meter_abc_float", 124, meterFloatPoints()),
  /** Model 701: DER AC measurement. */
  model(701, "DERMeasureAC", 153, [
    p("ID", 0, "uint16", 1),
    p("L", 1, "uint16", 1),
    p("ACType", 2, "enum16", 1),
    p("St", 3, "enum16", 1),
    p("InvSt", 4, "enum16", 1),
    p("ConnSt", 5, "enum16", 1),
    p("Alrm", 6, "bitfield32", 2),
    p("DERMode", 8, "bitfield32", 2),
    p("W", 10, "int16", 1, { sf: "W_SF", units: "W", point: "active_power" }),
    p("VA", 11, "int16", 1, { sf: "VA_SF", units: "VA", point: "apparent_power" }),
    p("Var", 12, "int16", 1, { sf: "Var_SF", units: "Var", point: "reactive_power" }),
    p("PF", 13, "int16", 1, { sf: "PF_SF", point: "power_factor" }),
    p("A", 14, "int16", 1, { sf: "A_SF", units: "A", point: "ac_current" }),
    p("LLV", 15, "uint16", 1, { sf: "V_SF", units: "V" }),
    p("LNV", 16, "uint16", 1, { sf: "V_SF", units: "V" }),
    p("Hz", 17, "uint32", 2, { sf: "Hz_SF", units: "Hz", point: "frequency" }),
    p("TotWhInj", 19, "uint64", 4, { sf: "TotWh_SF", units: "Wh", point: "energy_exported" }),
    p("TotWhAbs", 23, "uint64", 4, { sf: "TotWh_SF", units: "Wh", point: "energy_imported" }),
    p("TotVarhInj", 27, "uint64", 4, { sf: "TotVarh_SF", units: "Varh" }),
    p("TotVarhAbs", 31, "uint64", 4, { sf: "TotVarh_SF", units: "Varh" }),
    p("TmpAmb", 35, "int16", 1, { sf: "Tmp_SF", units: "C" }),
    p("TmpCab", 36, "int16", 1, { sf: "Tmp_SF", units: "C", point: "cabinet_temperature" }),
    p("TmpSnk", 37, "int16", 1, { sf: "Tmp_SF", units: "C", point: "heat_sink_temperature" }),
    p("TmpTrns", 38, "int16", 1, { sf: "Tmp_SF", units: "C" }),
    p("TmpSw", 39, "int16", 1, { sf: "Tmp_SF", units: "C" }),
    p("TmpOt", 40, "int16", 1, { sf: "Tmp_SF", units: "C" }),
    p("WL1", 41, "int16", 1, { sf: "W_SF", units: "W", point: "active_power_l1" }),
    p("VAL1", 42, "int16", 1, { sf: "VA_SF", units: "VA" }),
    p("VarL1", 43, "int16", 1, { sf: "Var_SF", units: "Var" }),
    p("PFL1", 44, "int16", 1, { sf: "PF_SF" }),
    p("AL1", 45, "int16", 1, { sf: "A_SF", units: "A", point: "ac_current_l1" }),
    p("VL1L2", 46, "uint16", 1, { sf: "V_SF", units: "V", point: "ac_voltage_l1_l2" }),
    p("VL1", 47, "uint16", 1, { sf: "V_SF", units: "V", point: "ac_voltage_l1" }),
    p("TotWhInjL1", 48, "uint64", 4, { sf: "TotWh_SF", units: "Wh" }),
    p("TotWhAbsL1", 52, "uint64", 4, { sf: "TotWh_SF", units: "Wh" }),
    p("TotVarhInjL1", 56, "uint64", 4, { sf: "TotVarh_SF", units: "Varh" }),
    p("TotVarhAbsL1", 60, "uint64", 4, { sf: "TotVarh_SF", units: "Varh" }),
    p("WL2", 64, "int16", 1, { sf: "W_SF", units: "W", point: "active_power_l2" }),
    p("VAL2", 65, "int16", 1, { sf: "VA_SF", units: "VA" }),
    p("VarL2", 66, "int16", 1, { sf: "Var_SF", units: "Var" }),
    p("PFL2", 67, "int16", 1, { sf: "PF_SF" }),
    p("AL2", 68, "int16", 1, { sf: "A_SF", units: "A", point: "ac_current_l2" }),
    p("VL2L3", 69, "uint16", 1, { sf: "V_SF", units: "V" }),
    p("VL2", 70, "uint16", 1, { sf: "V_SF", units: "V", point: "ac_voltage_l2" }),
    p("TotWhInjL2", 71, "uint64", 4, { sf: "TotWh_SF", units: "Wh" }),
    p("TotWhAbsL2", 75, "uint64", 4, { sf: "TotWh_SF", units: "Wh" }),
    p("TotVarhInjL2", 79, "uint64", 4, { sf: "TotVarh_SF", units: "Varh" }),
    p("TotVarhAbsL2", 83, "uint64", 4, { sf: "TotVarh_SF", units: "Varh" }),
    p("WL3", 87, "int16", 1, { sf: "W_SF", units: "W", point: "active_power_l3" }),
    p("VAL3", 88, "int16", 1, { sf: "VA_SF", units: "VA" }),
    p("VarL3", 89, "int16", 1, { sf: "Var_SF", units: "Var" }),
    p("PFL3", 90, "int16", 1, { sf: "PF_SF" }),
    p("AL3", 91, "int16", 1, { sf: "A_SF", units: "A", point: "ac_current_l3" }),
    p("VL3L1", 92, "uint16", 1, { sf: "V_SF", units: "V" }),
    p("VL3", 93, "uint16", 1, { sf: "V_SF", units: "V", point: "ac_voltage_l3" }),
    p("TotWhInjL3", 94, "uint64", 4, { sf: "TotWh_SF", units: "Wh" }),
    p("TotWhAbsL3", 98, "uint64", 4, { sf: "TotWh_SF", units: "Wh" }),
    p("TotVarhInjL3", 102, "uint64", 4, { sf: "TotVarh_SF", units: "Varh" }),
    p("TotVarhAbsL3", 106, "uint64", 4, { sf: "TotVarh_SF", units: "Varh" }),
    p("ThrotPct", 110, "uint16", 1, { units: "Pct" }),
    p("ThrotSrc", 111, "bitfield32", 2),
    p("A_SF", 113, "sunssf", 1),
    p("V_SF", 114, "sunssf", 1),
    p("Hz_SF", 115, "sunssf", 1),
    p("W_SF", 116, "sunssf", 1),
    p("PF_SF", 117, "sunssf", 1),
    p("VA_SF", 118, "sunssf", 1),
    p("Var_SF", 119, "sunssf", 1),
    p("TotWh_SF", 120, "sunssf", 1),
    p("TotVarh_SF", 121, "sunssf", 1),
    p("Tmp_SF", 122, "sunssf", 1),
    p("MnAlrmInfo", 123, "string", 32),
  ]),
  /** Model 702: DER capacity (ratings and settings). */
  model(702, "DERCapacity", 50, [
    p("ID", 0, "uint16", 1),
    p("L", 1, "uint16", 1),
    p("WMaxRtg", 2, "uint16", 1, { sf: "W_SF", units: "W", point: "rated_power" }),
    p("WOvrExtRtg", 3, "uint16", 1, { sf: "W_SF", units: "W" }),
    p("WOvrExtRtgPF", 4, "uint16", 1, { sf: "PF_SF" }),
    p("WUndExtRtg", 5, "uint16", 1, { sf: "W_SF", units: "W" }),
    p("WUndExtRtgPF", 6, "uint16", 1, { sf: "PF_SF" }),
    p("VAMaxRtg", 7, "uint16", 1, { sf: "VA_SF", units: "VA" }),
    p("VarMaxInjRtg", 8, "uint16", 1, { sf: "Var_SF", units: "Var" }),
    p("VarMaxAbsRtg", 9, "uint16", 1, { sf: "Var_SF", units: "Var" }),
    p("WChaRteMaxRtg", 10, "uint16", 1, { sf: "W_SF", units: "W" }),
    p("WDisChaRteMaxRtg", 11, "uint16", 1, { sf: "W_SF", units: "W" }),
    p("VAChaRteMaxRtg", 12, "uint16", 1, { sf: "VA_SF", units: "VA" }),
    p("VADisChaRteMaxRtg", 13, "uint16", 1, { sf: "VA_SF", units: "VA" }),
    p("VNomRtg", 14, "uint16", 1, { sf: "V_SF", units: "V" }),
    p("VMaxRtg", 15, "uint16", 1, { sf: "V_SF", units: "V" }),
    p("VMinRtg", 16, "uint16", 1, { sf: "V_SF", units: "V" }),
    p("AMaxRtg", 17, "uint16", 1, { sf: "A_SF", units: "A" }),
    p("PFOvrExtRtg", 18, "uint16", 1, { sf: "PF_SF" }),
    p("PFUndExtRtg", 19, "uint16", 1, { sf: "PF_SF" }),
    p("ReactSusceptRtg", 20, "uint16", 1, { sf: "S_SF", units: "S" }),
    p("NorOpCatRtg", 21, "enum16", 1),
    p("AbnOpCatRtg", 22, "enum16", 1),
    p("CtrlModes", 23, "bitfield32", 2),
    p("IntIslandCatRtg", 25, "bitfield16", 1),
    p("WMax", 26, "uint16", 1, { sf: "W_SF", units: "W", point: "max_power" }),
    p("WMaxOvrExt", 27, "uint16", 1, { sf: "W_SF", units: "W" }),
    p("WOvrExtPF", 28, "uint16", 1, { sf: "PF_SF" }),
    p("WMaxUndExt", 29, "uint16", 1, { sf: "W_SF", units: "W" }),
    p("WUndExtPF", 30, "uint16", 1, { sf: "PF_SF" }),
    p("VAMax", 31, "uint16", 1, { sf: "VA_SF", units: "VA" }),
    p("VarMaxInj", 32, "uint16", 1, { sf: "Var_SF", units: "Var" }),
    p("VarMaxAbs", 33, "uint16", 1, { sf: "Var_SF", units: "Var" }),
    p("WChaRteMax", 34, "uint16", 1, { sf: "W_SF", units: "W", point: "max_charge_power" }),
    p("WDisChaRteMax", 35, "uint16", 1, { sf: "W_SF", units: "W", point: "max_discharge_power" }),
    p("VAChaRteMax", 36, "uint16", 1, { sf: "VA_SF", units: "VA" }),
    p("VADisChaRteMax", 37, "uint16", 1, { sf: "VA_SF", units: "VA" }),
    p("VNom", 38, "uint16", 1, { sf: "V_SF", units: "V" }),
    p("VMax", 39, "uint16", 1, { sf: "V_SF", units: "V" }),
    p("VMin", 40, "uint16", 1, { sf: "V_SF", units: "V" }),
    p("AMax", 41, "uint16", 1, { sf: "A_SF", units: "A" }),
    p("PFOvrExt", 42, "uint16", 1, { sf: "PF_SF" }),
    p("PFUndExt", 43, "uint16", 1, { sf: "PF_SF" }),
    p("IntIslandCat", 44, "bitfield16", 1),
    p("W_SF", 45, "sunssf", 1),
    p("PF_SF", 46, "sunssf", 1),
    p("VA_SF", 47, "sunssf", 1),
    p("Var_SF", 48, "sunssf", 1),
    p("V_SF", 49, "sunssf", 1),
    p("A_SF", 50, "sunssf", 1),
    p("S_SF", 51, "sunssf", 1),
  ]),
  /** Model 704: DER AC controls; the four power-factor groups follow the fixed points once each. */
  model(
    704,
    "DERCtlAC",
    65,
    [
      p("ID", 0, "uint16", 1),
      p("L", 1, "uint16", 1),
      p("PFWInjEna", 2, "enum16", 1),
      p("PFWInjEnaRvrt", 3, "enum16", 1),
      p("PFWInjRvrtTms", 4, "uint32", 2, { units: "Secs" }),
      p("PFWInjRvrtRem", 6, "uint32", 2, { units: "Secs" }),
      p("PFWAbsEna", 8, "enum16", 1),
      p("PFWAbsEnaRvrt", 9, "enum16", 1),
      p("PFWAbsRvrtTms", 10, "uint32", 2, { units: "Secs" }),
      p("PFWAbsRvrtRem", 12, "uint32", 2, { units: "Secs" }),
      p("WMaxLimPctEna", 14, "enum16", 1, { point: "power_limit_enabled" }),
      p("WMaxLimPct", 15, "uint16", 1, { sf: "WMaxLimPct_SF", units: "Pct", point: "power_limit_pct" }),
      p("WMaxLimPctRvrt", 16, "uint16", 1, { sf: "WMaxLimPct_SF", units: "Pct" }),
      p("WMaxLimPctEnaRvrt", 17, "enum16", 1),
      p("WMaxLimPctRvrtTms", 18, "uint32", 2, { units: "Secs", point: "power_limit_revert_timeout" }),
      p("WMaxLimPctRvrtRem", 20, "uint32", 2, { units: "Secs" }),
      p("WSetEna", 22, "enum16", 1),
      p("WSetMod", 23, "enum16", 1),
      p("WSet", 24, "int32", 2, { sf: "WSet_SF", units: "W" }),
      p("WSetRvrt", 26, "int32", 2, { sf: "WSet_SF", units: "W" }),
      p("WSetPct", 28, "int16", 1, { sf: "WSetPct_SF", units: "Pct" }),
      p("WSetPctRvrt", 29, "int16", 1, { sf: "WSetPct_SF", units: "Pct" }),
      p("WSetEnaRvrt", 30, "enum16", 1),
      p("WSetRvrtTms", 31, "uint32", 2, { units: "Secs" }),
      p("WSetRvrtRem", 33, "uint32", 2, { units: "Secs" }),
      p("VarSetEna", 35, "enum16", 1),
      p("VarSetMod", 36, "enum16", 1),
      p("VarSetPri", 37, "enum16", 1),
      p("VarSet", 38, "int32", 2, { sf: "VarSet_SF", units: "Var" }),
      p("VarSetRvrt", 40, "int32", 2, { sf: "VarSet_SF", units: "Var" }),
      p("VarSetPct", 42, "int16", 1, { sf: "VarSetPct_SF", units: "Pct" }),
      p("VarSetPctRvrt", 43, "int16", 1, { sf: "VarSetPct_SF", units: "Pct" }),
      p("VarSetEnaRvrt", 44, "enum16", 1),
      p("VarSetRvrtTms", 45, "uint32", 2, { units: "Secs" }),
      p("VarSetRvrtRem", 47, "uint32", 2, { units: "Secs" }),
      p("WRmp", 49, "uint16", 1, { units: "%Max/Sec" }),
      p("WRmpRef", 50, "enum16", 1),
      p("VarRmp", 51, "uint16", 1, { units: "%Max/Sec" }),
      p("AntiIslEna", 52, "enum16", 1),
      p("PF_SF", 53, "sunssf", 1),
      p("WMaxLimPct_SF", 54, "sunssf", 1),
      p("WSet_SF", 55, "sunssf", 1),
      p("WSetPct_SF", 56, "sunssf", 1),
      p("VarSet_SF", 57, "sunssf", 1),
      p("VarSetPct_SF", 58, "sunssf", 1),
    ],
    [
      {
        name: "PFWInj",
        count: "1",
        points: [p("PF", 0, "uint16", 1, { sf: "PF_SF" }), p("Ext", 1, "enum16", 1)],
      },
      {
        name: "PFWInjRvrt",
        count: "1",
        points: [p("PF", 0, "uint16", 1, { sf: "PF_SF" }), p("Ext", 1, "enum16", 1)],
      },
      {
        name: "PFWAbs",
        count: "1",
        points: [p("PF", 0, "uint16", 1, { sf: "PF_SF" }), p("Ext", 1, "enum16", 1)],
      },
      {
        name: "PFWAbsRvrt",
        count: "1",
        points: [p("PF", 0, "uint16", 1, { sf: "PF_SF" }), p("Ext", 1, "enum16", 1)],
      },
    ],
  ),
  /** Model 713: DER storage capacity. */
  model(713, "DERStorageCapacity", 7, [
    p("ID", 0, "uint16", 1),
    p("L", 1, "uint16", 1),
    p("WHRtg", 2, "uint16", 1, { sf: "WH_SF", units: "WH", point: "energy_capacity" }),
    p("WHAvail", 3, "uint16", 1, { sf: "WH_SF", units: "WH", point: "energy_available" }),
    p("SoC", 4, "uint16", 1, { sf: "Pct_SF", units: "Pct", point: "soc" }),
    p("SoH", 5, "uint16", 1, { sf: "Pct_SF", units: "Pct", point: "soh" }),
    p("Sta", 6, "enum16", 1),
    p("WH_SF", 7, "sunssf", 1),
    p("Pct_SF", 8, "sunssf", 1),
  ]),
];

/** The SunSpec models the edge knows, by model id. */
export const SUNSPEC_MODELS: ReadonlyMap<number, SunSpecModel> = new Map(MODELS.map((m) => [m.id, m]));

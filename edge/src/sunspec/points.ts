import type { NumericType } from "../acquisition/decode.js";
import type { ProfilePoint } from "../profile/profile-schema.js";
import type { ChainModel } from "./discovery.js";
import { SUNSPEC_MODELS, type SunSpecGroup, type SunSpecPoint, type SunSpecType } from "./models.js";

/** Device class of a logical device, from the models it carries. */
export type SunSpecClass = "inverter" | "meter" | "battery";

const CLASS_OF_MODEL: ReadonlyArray<[SunSpecClass, (id: number) => boolean]> = [
  ["inverter", (id) => (id >= 101 && id <= 103) || (id >= 111 && id <= 113) || id === 701],
  ["meter", (id) => (id >= 201 && id <= 204) || (id >= 211 && id <= 214)],
  ["battery", (id) => id === 124 || id === 713 || id === 802 || id === 803],
];

/** The class of a chain: that of its first model that says one. */
export function classOfChain(models: readonly ChainModel[]): SunSpecClass | undefined {
  for (const m of models) for (const [cls, test] of CLASS_OF_MODEL) if (test(m.id)) return cls;
  return undefined;
}

const NUMERIC: Partial<Record<SunSpecType, NumericType>> = {
  int16: "int16",
  uint16: "uint16",
  count: "uint16",
  acc32: "acc32",
  enum16: "enum16",
  bitfield16: "bitfield16",
  bitfield32: "bitfield32",
  int32: "int32",
  uint32: "uint32",
  uint64: "uint64",
  float32: "float32",
  sunssf: "sunssf",
};

const size = (points: readonly SunSpecPoint[]) => points.reduce((n, p) => n + p.size, 0);

/**
 * Turns a discovered model chain into profile points at absolute addresses: every model point that
 * maps to a canonical point id, with its scale-factor register (looked up in the same group
 * instance first, then in the model's fixed part). Repeating groups (e.g. model 160's MPPT
 * modules) repeat to fill the model's length and number their ids: `mppt_dc_power_1`, `_2`, ...
 * When two models map the same id, the first in the chain wins.
 */
export function pointsFromChain(models: readonly ChainModel[]): ProfilePoint[] {
  const points: ProfilePoint[] = [];
  const seen = new Set<string>();
  for (const chain of models) {
    const model = SUNSPEC_MODELS.get(chain.id);
    if (!model) continue;
    const fixed = model.group.points;
    const add = (group: SunSpecGroup, at: number, suffix: string) => {
      for (const point of group.points) {
        const type = NUMERIC[point.type];
        if (!point.point || !type || seen.has(point.point + suffix)) continue;
        const local = point.sf ? group.points.find((q) => q.name === point.sf) : undefined;
        const inFixed = point.sf && !local ? fixed.find((q) => q.name === point.sf) : undefined;
        if (point.sf && !local && !inFixed) continue;
        const sfAddress = local ? at + local.offset : inFixed ? chain.address + inFixed.offset : undefined;
        seen.add(point.point + suffix);
        points.push({
          id: point.point + suffix,
          address: at + point.offset,
          type,
          ...(sfAddress === undefined ? {} : { scale: { register: sfAddress } }),
        });
      }
    };
    add(model.group, chain.address, "");
    // Groups follow the fixed part in order; a counted group repeats to fill the model's length.
    let at = chain.address + size(fixed);
    const end = chain.address + 2 + chain.length;
    for (const group of model.group.groups ?? []) {
      const groupSize = size(group.points);
      if (groupSize === 0) continue;
      const repeats = group.count === "1" ? 1 : Math.floor((end - at) / groupSize);
      for (let i = 0; i < repeats; i++) {
        add(group, at, group.count === "1" ? "" : `_${i + 1}`);
        at += groupSize;
      }
    }
  }
  return points;
}

import { Quality } from "@steinmetz/proto";
import { POINT_TYPE_REGISTERS, type PointType, type ProfilePoint } from "../profile/profile-schema.js";

/** A decoded point value. */
export interface Decoded {
  value: number | null;
  quality: Quality;
}

/** SunSpec "not implemented" values per type; a point reading one of them has no value. */
const NOT_IMPLEMENTED: Readonly<Record<PointType, number>> = {
  int16: -0x8000,
  uint16: 0xffff,
  enum16: 0xffff,
  int32: -0x80000000,
  uint32: 0xffffffff,
  acc32: 0,
};
const SCALE_FACTOR_NOT_IMPLEMENTED = -0x8000;

/** Reads the raw integer of `type` at `offset` in `words` (big-endian words, high word first). */
export function rawValue(words: ArrayLike<number>, offset: number, type: PointType): number {
  const hi = words[offset] as number;
  switch (type) {
    case "int16":
      return hi >= 0x8000 ? hi - 0x10000 : hi;
    case "uint16":
    case "enum16":
      return hi;
    case "int32": {
      const u = hi * 0x10000 + (words[offset + 1] as number);
      return u >= 0x80000000 ? u - 0x100000000 : u;
    }
    case "uint32":
    case "acc32":
      return hi * 0x10000 + (words[offset + 1] as number);
  }
}

/**
 * Decodes one profile point from a block of registers read at `blockAddress`:
 * SunSpec sentinels (in the value or its scale factor) give no value with quality
 * NOT_IMPLEMENTED; otherwise value × 10^sf × factor in the nature's unit.
 */
export function decodePoint(point: ProfilePoint, words: ArrayLike<number>, blockAddress: number): Decoded {
  const offset = point.address - blockAddress;
  if (offset < 0 || offset + POINT_TYPE_REGISTERS[point.type] > words.length) {
    throw new RangeError(`point ${point.id} at ${point.address} is outside the block read at ${blockAddress}`);
  }
  const raw = rawValue(words, offset, point.type);
  if (raw === NOT_IMPLEMENTED[point.type]) return { value: null, quality: Quality.QUALITY_NOT_IMPLEMENTED };
  let value = raw;
  if (point.scale?.register !== undefined) {
    const sf = rawValue(words, point.scale.register - blockAddress, "int16");
    if (sf === SCALE_FACTOR_NOT_IMPLEMENTED) return { value: null, quality: Quality.QUALITY_NOT_IMPLEMENTED };
    // Divide for negative exponents: 2301 / 10 is exactly 230.1, 2301 * 0.1 is not.
    value = sf < 0 ? value / 10 ** -sf : value * 10 ** sf;
  }
  if (point.scale?.factor !== undefined) value *= point.scale.factor;
  return { value, quality: Quality.QUALITY_GOOD };
}

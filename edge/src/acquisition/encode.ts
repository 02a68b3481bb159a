/**
 * The inverse of decode.ts for writes: a value in the point's unit becomes the raw integer (or
 * float) the register holds, range-checked against the type, and then register words in the
 * point's byte/word order.
 */
import { WriteRefusedError } from "../errors.js";
import { type ByteOrder, NUMERIC_TYPES, type NumericType, type PointEncoding } from "./decode.js";

/** The float types; every other type holds an integer. */
const FLOAT_TYPES: ReadonlySet<NumericType> = new Set(["float32", "float64"]);

/** Largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * Raw integer range of each integer type, inclusive. 64-bit bounds are exact powers of two (the
 * upper one exclusive, see `inRange`), as JavaScript numbers cannot hold 2^63 - 1.
 */
export const INTEGER_RANGES: Readonly<Record<Exclude<NumericType, "float32" | "float64">, [number, number]>> = {
  int16: [-0x8000, 0x7fff],
  sunssf: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  acc16: [0, 0xffff],
  enum16: [0, 0xffff],
  bitfield16: [0, 0xffff],
  int32: [-0x80000000, 0x7fffffff],
  uint32: [0, 0xffffffff],
  acc32: [0, 0xffffffff],
  enum32: [0, 0xffffffff],
  bitfield32: [0, 0xffffffff],
  int64: [-(2 ** 63), 2 ** 63],
  uint64: [0, 2 ** 64],
  acc64: [0, 2 ** 64],
};

/** Whether `type` holds a float (float32, float64) rather than an integer. */
export function isFloatType(type: NumericType): boolean {
  return FLOAT_TYPES.has(type);
}

function inRange(raw: number, type: NumericType): boolean {
  if (type === "float32") return Math.abs(raw) <= FLOAT32_MAX;
  if (type === "float64") return Number.isFinite(raw);
  const [min, max] = INTEGER_RANGES[type];
  const is64 = NUMERIC_TYPES[type] === 4;
  return raw >= min && (is64 ? raw < max : raw <= max);
}

/**
 * Register words holding the raw number `raw` of `type` in `order` (the inverse of decode.ts's
 * `rawValue`). Integers must be integral and within the type's range, floats finite and (float32)
 * within its range; otherwise `EDGE_ERR_WRITE_REFUSED` with reason "out-of-range".
 */
export function encodeRaw(raw: number, type: NumericType, order: ByteOrder = "ABCD"): number[] {
  const float = isFloatType(type);
  if (!Number.isFinite(raw) || (!float && !Number.isInteger(raw)) || !inRange(raw, type)) {
    throw new WriteRefusedError("out-of-range", `raw value ${raw} does not fit ${type}`);
  }
  const count = NUMERIC_TYPES[type];
  const view = new DataView(new ArrayBuffer(count * 2));
  switch (type) {
    case "int16":
    case "sunssf":
      view.setInt16(0, raw);
      break;
    case "uint16":
    case "acc16":
    case "enum16":
    case "bitfield16":
      view.setUint16(0, raw);
      break;
    case "int32":
      view.setInt32(0, raw);
      break;
    case "uint32":
    case "acc32":
    case "enum32":
    case "bitfield32":
      view.setUint32(0, raw);
      break;
    case "float32":
      view.setFloat32(0, raw);
      break;
    case "int64":
      view.setBigInt64(0, BigInt(raw));
      break;
    case "uint64":
    case "acc64":
      view.setBigUint64(0, BigInt(raw));
      break;
    case "float64":
      view.setFloat64(0, raw);
      break;
  }
  // Big-endian words; then the order's word reversal and byte swap, as decode.ts undoes them.
  const reverseWords = order === "CDAB" || order === "DCBA";
  const swapBytes = order === "BADC" || order === "DCBA";
  const words = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const word = view.getUint16(i * 2);
    words[reverseWords ? count - 1 - i : i] = swapBytes ? ((word & 0xff) << 8) | (word >> 8) : word;
  }
  return words;
}

/**
 * The value in the point's unit that raw number `raw` stands for: raw × 10^sf × factor, computed
 * exactly as decode.ts's `decodePoint` does.
 */
export function unitValue(raw: number, sf: number | undefined, factor: number | undefined): number {
  let value = raw;
  if (sf !== undefined) value = sf < 0 ? value / 10 ** -sf : value * 10 ** sf;
  if (factor !== undefined) value *= factor;
  return value;
}

/** Rounds half away from zero (so -2.5 and 2.5 round symmetrically). */
function roundHalfAway(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

/** A value encoded for writing. */
export interface EncodedValue {
  /** The raw number the registers hold (rounded for integer types). */
  raw: number;
  /** The register words, in the point's order, starting at the point's address. */
  words: number[];
  /** The value the device will report after the write, in the point's unit (the rounded value). */
  value: number;
  /** One raw step in the point's unit (the write's resolution); 0 for floats. */
  step: number;
}

/**
 * Encodes `value` (in the point's unit) for writing to `point`: divides by 10^sf (`sf`, the value
 * of the point's scale-factor register read just before; required when the point has one) and by
 * the fixed factor, rounds integer types half away from zero, range-checks against the type and
 * orders the words. Throws `EDGE_ERR_WRITE_REFUSED` ("not-finite", "out-of-range") otherwise.
 */
export function encodePoint(point: PointEncoding, value: number, sf?: number): EncodedValue {
  if (!Number.isFinite(value)) throw new WriteRefusedError("not-finite", `value ${value} is not a finite number`);
  if (point.scaleRegister !== undefined && sf === undefined) {
    throw new RangeError(`point at ${point.address} needs the value of its scale factor at ${point.scaleRegister}`);
  }
  const usedSf = point.scaleRegister === undefined ? undefined : sf;
  if (point.factor === 0) throw new WriteRefusedError("out-of-range", `point at ${point.address} has factor 0`);
  let raw = value;
  // Multiply for negative exponents: 230.1 × 10 rounds to 2301, 230.1 / 0.1 might not.
  if (usedSf !== undefined) raw = usedSf < 0 ? raw * 10 ** -usedSf : raw / 10 ** usedSf;
  if (point.factor !== undefined) raw /= point.factor;
  const float = isFloatType(point.type);
  if (!float) raw = roundHalfAway(raw);
  if (Object.is(raw, -0)) raw = 0;
  const words = encodeRaw(raw, point.type, point.order ?? "ABCD");
  // What the device will hold: floats lose precision in float32, integers were rounded.
  const held = float ? (point.type === "float32" ? Math.fround(raw) : raw) : raw;
  return {
    raw: held,
    words,
    value: unitValue(held, usedSf, point.factor),
    step: float ? 0 : Math.abs(unitValue(1, usedSf, point.factor)),
  };
}

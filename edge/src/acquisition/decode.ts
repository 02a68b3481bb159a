import { Quality } from "@steinmetz/proto";

/** Numeric register types a point can have (SunSpec names where they exist). */
export const NUMERIC_TYPES = {
  int16: 1,
  uint16: 1,
  acc16: 1,
  enum16: 1,
  bitfield16: 1,
  sunssf: 1,
  int32: 2,
  uint32: 2,
  acc32: 2,
  enum32: 2,
  bitfield32: 2,
  float32: 2,
  int64: 4,
  uint64: 4,
  acc64: 4,
  float64: 4,
} as const;

/** A numeric register type; the value is its size in registers. */
export type NumericType = keyof typeof NUMERIC_TYPES;

/**
 * Byte and word order of multi-register values, named by the order in which the bytes of a
 * 32-bit big-endian value ABCD arrive: ABCD (big-endian, SunSpec), CDAB (word-swapped, common
 * for float meters), BADC (byte-swapped words), DCBA (little-endian). For 64-bit values the
 * same rule applies to four words.
 */
export type ByteOrder = "ABCD" | "CDAB" | "BADC" | "DCBA";

/** Which values mean "not implemented" (no value, quality NOT_IMPLEMENTED). */
export type Sentinels = "sunspec" | "none";

/** A decoded point value. */
export interface Decoded {
  value: number | null;
  quality: Quality;
}

/** Registers `words[offset .. offset+count)` as bytes in big-endian order after undoing `order`. */
function bytesOf(words: ArrayLike<number>, offset: number, count: number, order: ByteOrder): DataView {
  const view = new DataView(new ArrayBuffer(count * 2));
  const reverseWords = order === "CDAB" || order === "DCBA";
  const swapBytes = order === "BADC" || order === "DCBA";
  for (let i = 0; i < count; i++) {
    const word = words[offset + (reverseWords ? count - 1 - i : i)];
    if (word === undefined) throw new RangeError(`register ${offset + i} missing`);
    view.setUint16(i * 2, swapBytes ? ((word & 0xff) << 8) | (word >> 8) : word);
  }
  return view;
}

/** Decodes the raw number of `type` at `offset` in `words` (bigints become numbers). */
export function rawValue(
  words: ArrayLike<number>,
  offset: number,
  type: NumericType,
  order: ByteOrder = "ABCD",
): number {
  const view = bytesOf(words, offset, NUMERIC_TYPES[type], order);
  switch (type) {
    case "int16":
    case "sunssf":
      return view.getInt16(0);
    case "uint16":
    case "acc16":
    case "enum16":
    case "bitfield16":
      return view.getUint16(0);
    case "int32":
      return view.getInt32(0);
    case "uint32":
    case "acc32":
    case "enum32":
    case "bitfield32":
      return view.getUint32(0);
    case "float32":
      return view.getFloat32(0);
    case "int64":
      return Number(view.getBigInt64(0));
    case "uint64":
    case "acc64":
      return Number(view.getBigUint64(0));
    case "float64":
      return view.getFloat64(0);
  }
}

/** Whether the raw registers hold SunSpec's "not implemented" value for `type`. */
function isNotImplemented(words: ArrayLike<number>, offset: number, type: NumericType, order: ByteOrder): boolean {
  const view = bytesOf(words, offset, NUMERIC_TYPES[type], order);
  switch (type) {
    case "int16":
    case "sunssf":
      return view.getUint16(0) === 0x8000;
    case "uint16":
    case "enum16":
    case "bitfield16":
      return view.getUint16(0) === 0xffff;
    case "acc16":
      return view.getUint16(0) === 0;
    case "acc32":
      return view.getUint32(0) === 0;
    case "int32":
      return view.getUint32(0) === 0x80000000;
    case "uint32":
    case "enum32":
    case "bitfield32":
      return view.getUint32(0) === 0xffffffff;
    case "int64":
      return view.getBigUint64(0) === 0x8000000000000000n;
    case "uint64":
      return view.getBigUint64(0) === 0xffffffffffffffffn;
    case "acc64":
      return view.getBigUint64(0) === 0n;
    case "float32":
      return Number.isNaN(view.getFloat32(0));
    case "float64":
      return Number.isNaN(view.getFloat64(0));
  }
}

/** How to turn registers into a point value. */
export interface PointEncoding {
  address: number;
  type: NumericType;
  order?: ByteOrder;
  /** Fixed factor applied after the scale-factor register. */
  factor?: number;
  /** Register holding a SunSpec scale factor (value × 10^sf), read in the same request. */
  scaleRegister?: number;
}

/**
 * Decodes one point from registers read starting at `readAddress`. With SunSpec sentinels, a
 * "not implemented" value or scale factor gives no value with quality NOT_IMPLEMENTED; NaN floats
 * always do. The result is value × 10^sf × factor, in the unit of the point's nature.
 */
export function decodePoint(
  point: PointEncoding,
  words: ArrayLike<number>,
  readAddress: number,
  sentinels: Sentinels = "sunspec",
): Decoded {
  const offset = point.address - readAddress;
  const order = point.order ?? "ABCD";
  if (offset < 0 || offset + NUMERIC_TYPES[point.type] > words.length) {
    throw new RangeError(`point at ${point.address} is outside the read at ${readAddress}`);
  }
  const notImplemented: Decoded = { value: null, quality: Quality.QUALITY_NOT_IMPLEMENTED };
  if (sentinels === "sunspec" && isNotImplemented(words, offset, point.type, order)) return notImplemented;
  let value = rawValue(words, offset, point.type, order);
  if (Number.isNaN(value)) return notImplemented;
  if (point.scaleRegister !== undefined) {
    const sfOffset = point.scaleRegister - readAddress;
    if (sfOffset < 0 || sfOffset >= words.length) {
      throw new RangeError(`scale factor at ${point.scaleRegister} is outside the read at ${readAddress}`);
    }
    const sf = rawValue(words, sfOffset, "sunssf");
    if (sf === -0x8000) return notImplemented;
    // Divide for negative exponents: 2301 / 10 is exactly 230.1, 2301 * 0.1 is not.
    value = sf < 0 ? value / 10 ** -sf : value * 10 ** sf;
  }
  if (point.factor !== undefined) value *= point.factor;
  return { value, quality: Quality.QUALITY_GOOD };
}

/** Decodes `count` registers as an ASCII string (two characters per register, NULs and padding trimmed). */
export function decodeString(words: ArrayLike<number>, offset: number, count: number): string {
  const view = bytesOf(words, offset, count, "ABCD");
  return Buffer.from(view.buffer).toString("latin1").replace(/\0+$/, "").trim();
}

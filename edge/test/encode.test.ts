/** Encoding values for writes: the inverse of decode.ts for every type and byte order. */
import { Quality } from "@steinmetz/proto";
import t from "tap";
import {
  type ByteOrder,
  decodePoint,
  NUMERIC_TYPES,
  type NumericType,
  type PointEncoding,
  rawValue,
} from "../src/acquisition/decode.js";
import { encodePoint, encodeRaw, INTEGER_RANGES, unitValue } from "../src/acquisition/encode.js";
import { WriteRefusedError } from "../src/errors.js";

const ORDERS: ByteOrder[] = ["ABCD", "CDAB", "BADC", "DCBA"];
const TYPES = Object.keys(NUMERIC_TYPES) as NumericType[];

/** Sample raw values of each type: its bounds, zero, ±1 and something with every byte distinct. */
function samples(type: NumericType): number[] {
  if (type === "float32") return [0, 12.5, -1.5, Math.fround(Math.PI), 3.4028234663852886e38, Math.fround(-1e-30)];
  if (type === "float64") return [0, 12.5, -1.5, Math.PI, Number.MAX_VALUE, -Number.MIN_VALUE];
  const [min, max] = INTEGER_RANGES[type];
  const size = NUMERIC_TYPES[type];
  // 64-bit upper bounds are exclusive (2^63 - 1 is not a JavaScript number); use the largest safe integer there.
  const top = size === 4 ? Number.MAX_SAFE_INTEGER : max;
  const distinct = size === 1 ? 0x1234 : size === 2 ? 0x12345678 : 0x1234_5678_9abc;
  const values = [min, top, 0, 1, distinct, size === 4 ? min : 0];
  if (min < 0) values.push(-1, -distinct);
  return values;
}

t.test("raw round trip with rawValue for every type and byte order", async (t) => {
  for (const type of TYPES) {
    for (const order of ORDERS) {
      for (const raw of samples(type)) {
        const words = encodeRaw(raw, type, order);
        t.equal(words.length, NUMERIC_TYPES[type], `${type} ${order}: ${words.length} registers`);
        t.ok(
          words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff),
          `${type} ${order} ${raw}: 16-bit words`,
        );
        t.equal(rawValue(words, 0, type, order), raw, `${type} ${order} ${raw}`);
      }
    }
  }
});

t.test("word layout matches decode.ts's fixtures", async (t) => {
  t.same(encodeRaw(12.5, "float32"), [0x4148, 0x0000]);
  t.same(encodeRaw(12.5, "float32", "CDAB"), [0x0000, 0x4148]);
  t.same(encodeRaw(12.5, "float32", "BADC"), [0x4841, 0x0000]);
  t.same(encodeRaw(12.5, "float32", "DCBA"), [0x0000, 0x4841]);
  t.same(encodeRaw(65538, "uint32", "BADC"), [0x0100, 0x0200]);
  t.same(encodeRaw(0x1234, "uint16", "DCBA"), [0x3412], "16-bit: byte swap only");
  t.same(encodeRaw(0x1234, "uint16", "CDAB"), [0x1234], "16-bit: no words to swap");
  t.same(encodeRaw(-2, "int16"), [0xfffe]);
  t.same(encodeRaw(-2, "int64"), [0xffff, 0xffff, 0xffff, 0xfffe]);
  t.same(encodeRaw(2 ** 32 + 2, "uint64", "CDAB"), [0x0002, 0, 0x0001, 0]);
  t.same(encodeRaw(12.5, "float64"), [0x4029, 0, 0, 0]);
});

t.test("values outside the type's range are refused", async (t) => {
  const cases: [number, NumericType][] = [
    [32768, "int16"],
    [-32769, "int16"],
    [-1, "uint16"],
    [65536, "enum16"],
    [2 ** 31, "int32"],
    [2 ** 32, "uint32"],
    [-1, "acc32"],
    [2 ** 63, "int64"],
    [-1, "uint64"],
    [2 ** 64, "acc64"],
    [1.5, "int32"],
    [3.5e38, "float32"],
    [Number.NaN, "float64"],
    [Number.POSITIVE_INFINITY, "float64"],
  ];
  for (const [raw, type] of cases) {
    t.throws(() => encodeRaw(raw, type), { code: "EDGE_ERR_WRITE_REFUSED", reason: "out-of-range" }, `${raw} ${type}`);
  }
  try {
    encodeRaw(1e39, "float32");
    t.fail("1e39 fits no float32");
  } catch (err) {
    t.ok(err instanceof WriteRefusedError && !err.retryable, "a WriteRefusedError, not retryable");
  }
});

t.test("values in the point's unit round-trip through decodePoint with scale factor and factor", async (t) => {
  const sfAt = 20;
  const cases: { point: PointEncoding; sf?: number; value: number; raw: number; step: number }[] = [
    { point: { address: 10, type: "uint16", scaleRegister: sfAt }, sf: -1, value: 230.1, raw: 2301, step: 0.1 },
    { point: { address: 10, type: "uint16", scaleRegister: sfAt }, sf: -2, value: 49.99, raw: 4999, step: 0.01 },
    { point: { address: 10, type: "int16", scaleRegister: sfAt }, sf: 2, value: -1200, raw: -12, step: 100 },
    { point: { address: 10, type: "int16", scaleRegister: sfAt }, sf: 0, value: -7, raw: -7, step: 1 },
    { point: { address: 10, type: "int32", factor: 0.001, order: "CDAB" }, value: -12.345, raw: -12345, step: 0.001 },
    { point: { address: 10, type: "uint32", factor: 10, order: "DCBA" }, value: 650_000, raw: 65_000, step: 10 },
    {
      point: { address: 10, type: "int64", scaleRegister: sfAt, order: "BADC" },
      sf: -3,
      value: -9_007_199_254.74,
      raw: -9_007_199_254_740,
      step: 0.001,
    },
    { point: { address: 10, type: "float32", order: "CDAB" }, value: 12.5, raw: 12.5, step: 0 },
    { point: { address: 10, type: "float32", factor: 0.5 }, value: 0.1, raw: Math.fround(0.2), step: 0 },
    {
      point: { address: 10, type: "float64", order: "DCBA", scaleRegister: sfAt },
      sf: -1,
      value: 0.3,
      raw: 3,
      step: 0,
    },
  ];
  for (const { point, sf, value, raw, step } of cases) {
    const label = `${point.type} ${point.order ?? "ABCD"} ${value}`;
    const encoded = encodePoint(point, value, sf);
    t.equal(encoded.raw, raw, `${label}: raw`);
    t.ok(Math.abs(encoded.step - step) < 1e-12, `${label}: step ${encoded.step}`);
    // Lay the words and the scale factor out as a read from address 10 would return them.
    const words = new Array<number>(sfAt - 10 + 1).fill(0);
    words.splice(0, encoded.words.length, ...encoded.words);
    words[sfAt - 10] = (sf ?? 0) & 0xffff;
    const decoded = decodePoint(point, words, 10);
    t.equal(decoded.quality, Quality.QUALITY_GOOD, `${label}: good`);
    t.equal(decoded.value, encoded.value, `${label}: decodes to the value written`);
    const tolerance = step > 0 ? step / 2 : Math.abs(value) * 2 ** -23;
    t.ok(Math.abs((decoded.value ?? Number.NaN) - value) <= tolerance, `${label}: close to the value asked for`);
  }
});

t.test("rounding to the register's resolution", async (t) => {
  const pct: PointEncoding = { address: 5, type: "uint16", scaleRegister: 23 };
  t.equal(encodePoint(pct, 50.04, -1).raw, 500);
  t.equal(encodePoint(pct, 50.05, -1).raw, 501, "half away from zero");
  t.equal(encodePoint(pct, 0.3, -1).value, 0.3, "the rounded value in the unit, as decode computes it");
  const signed: PointEncoding = { address: 0, type: "int16" };
  t.equal(encodePoint(signed, -2.5).raw, -3, "half away from zero, negative");
  t.equal(encodePoint(signed, 2.5).raw, 3);
  t.ok(Object.is(encodePoint(signed, -0.2).raw, 0), "no negative zero");
  t.same(encodePoint(signed, -0.2).words, [0]);
  t.throws(
    () => encodePoint(pct, 6553.6, -1),
    { code: "EDGE_ERR_WRITE_REFUSED", reason: "out-of-range" },
    "65536 raw does not fit uint16",
  );
  t.throws(() => encodePoint(pct, Number.NaN, -1), { code: "EDGE_ERR_WRITE_REFUSED", reason: "not-finite" });
  t.throws(() => encodePoint(pct, 50), RangeError, "a scaled point needs its scale factor");
  t.equal(unitValue(2301, -1, undefined), 230.1);
  t.equal(unitValue(-12, 2, 0.5), -600);
});

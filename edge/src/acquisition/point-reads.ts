import { type Profile, type ProfilePoint, pointSpan } from "../profile/profile-schema.js";
import { type Decoded, decodePoint, NUMERIC_TYPES, type PointEncoding, type Sentinels } from "./decode.js";
import type { Span } from "./request-plan.js";

/** The decoding instructions of a profile point. */
export function encodingOf(point: ProfilePoint, profile: Pick<Profile, "order">): PointEncoding {
  return {
    address: point.address,
    type: point.type,
    order: point.order ?? profile.order,
    factor: point.scale?.factor,
    scaleRegister: point.scale?.register,
  };
}

/**
 * The spans to read for a point: its value and scale factor in one span, so they come from the same
 * request. Only when they are too far apart for any single read (a repeating SunSpec group far from
 * the scale factors in its model's fixed part) are they read as two spans of the same cycle.
 */
export function spansOf(point: ProfilePoint, maxRegisters: number): Span<ProfilePoint>[] {
  const fn = point.function ?? "holding";
  const span = pointSpan(point);
  if (span.count <= maxRegisters || point.scale?.register === undefined) return [{ key: point, fn, ...span }];
  return [
    { key: point, fn, address: point.address, count: NUMERIC_TYPES[point.type] },
    { key: point, fn, address: point.scale.register, count: 1 },
  ];
}

/** Decodes a point from the registers read in this cycle (address → word). */
export function decodeFromCycle(
  encoding: PointEncoding,
  registers: ReadonlyMap<number, number>,
  sentinels: Sentinels,
): Decoded {
  const sf = encoding.scaleRegister;
  const start = Math.min(encoding.address, sf ?? encoding.address);
  const end = Math.max(encoding.address + NUMERIC_TYPES[encoding.type], (sf ?? start) + 1);
  const words: number[] = [];
  for (let a = start; a < end; a++) words.push(registers.get(a) ?? 0);
  return decodePoint(encoding, words, start, sentinels);
}

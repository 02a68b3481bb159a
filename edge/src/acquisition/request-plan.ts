/**
 * Request planning: which Modbus reads fetch a device's points in the fewest requests.
 *
 * Each point is a *span* of registers that must come in one read (the value and, when near
 * enough, its scale factor). Spans are coalesced left to right; a gap between two spans is
 * bridged only when reading the gap costs less than a new request (`maxGap` registers: about 31
 * over TCP, 7 over RTU at 9600 baud, where a request costs about as much as that many registers),
 * a read never exceeds `maxRegisters` (125 or the device's lower limit), and a read never crosses
 * a *cut*: an address learned at run time from an exception 02 answer.
 */

/** Modbus function used to read a span. */
export type ReadFunction = "holding" | "input";

/** Registers that must be read together. `key` identifies the span to its owner (e.g. a point). */
export interface Span<K = string> {
  key: K;
  fn: ReadFunction;
  address: number;
  count: number;
}

/** One planned request. */
export interface PlannedRead<K = string> {
  fn: ReadFunction;
  address: number;
  count: number;
  spans: Span<K>[];
}

/** Limits of one device on its connection. */
export interface PlanLimits {
  /** Registers per read (Modbus allows 125 for function 03/04). */
  maxRegisters: number;
  /** Largest gap of unneeded registers worth reading to save a request. */
  maxGap: number;
}

/** Gap below which bridging pays, per transport (a request costs about this many registers). */
export const MAX_GAP = { tcp: 31, rtu: 7 } as const;

/**
 * Plans the reads for `spans`. `cuts` holds addresses no read may cross (a read may end at a cut
 * or start at it, but not contain both the register before it and the one at it).
 */
export function planReads<K>(
  spans: readonly Span<K>[],
  limits: PlanLimits,
  cuts: ReadonlySet<number> = new Set(),
): PlannedRead<K>[] {
  const reads: PlannedRead<K>[] = [];
  const sorted = [...spans].sort((a, b) => (a.fn === b.fn ? a.address - b.address : a.fn < b.fn ? -1 : 1));
  let current: PlannedRead<K> | undefined;
  for (const span of sorted) {
    if (span.count > limits.maxRegisters) {
      throw new RangeError(`span ${String(span.key)} of ${span.count} registers exceeds ${limits.maxRegisters}`);
    }
    if (current && canExtend(current, span, limits, cuts)) {
      current.count = Math.max(current.address + current.count, span.address + span.count) - current.address;
      current.spans.push(span);
      continue;
    }
    current = { fn: span.fn, address: span.address, count: span.count, spans: [span] };
    reads.push(current);
  }
  return reads;
}

function canExtend<K>(read: PlannedRead<K>, span: Span<K>, limits: PlanLimits, cuts: ReadonlySet<number>): boolean {
  if (read.fn !== span.fn) return false;
  const end = read.address + read.count;
  const newEnd = Math.max(end, span.address + span.count);
  if (newEnd - read.address > limits.maxRegisters) return false;
  if (span.address - end > limits.maxGap) return false;
  for (const cut of cuts) if (cut > read.address && cut < newEnd) return false;
  return true;
}

/**
 * What a failed read with exception 02 teaches. The unneeded registers it bridged are the likely
 * culprits: cut at the widest gap (a later failure of a part cuts the next gap, so the cuts
 * converge on the real hole). Without gaps the failing address is one of the spans: cut them all
 * apart, so each is read alone and a missing one shows itself.
 */
export function cutsFromIllegalAddress<K>(read: PlannedRead<K>): number[] {
  const spans = [...read.spans].sort((a, b) => a.address - b.address);
  let widest: { gap: number; at: number } | undefined;
  let end = read.address;
  for (const span of spans) {
    const gap = span.address - end;
    if (gap > 0 && (!widest || gap > widest.gap)) widest = { gap, at: span.address };
    end = Math.max(end, span.address + span.count);
  }
  return widest ? [widest.at] : spans.slice(1).map((s) => s.address);
}

import type { SeqRange } from "./gen/steinmetz/sync/v1/sync.js";

/**
 * Sets of seqs as ascending, disjoint, non-adjacent inclusive ranges. Edge and hub both reason
 * about "what is covered" this way: the hub's committed ranges plus reported gaps, the edge's
 * buffer minus what the hub already has.
 */

/** The runs of an ascending list of seqs: [1,2,3,7,8] → [1..3], [7..8]. */
export function runsOf(seqs: ArrayLike<number>): SeqRange[] {
  const runs: SeqRange[] = [];
  let run: SeqRange | undefined;
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i] as number;
    if (run && seq === run.last + 1) run.last = seq;
    else if (run && seq <= run.last) throw new RangeError(`seqs not ascending at ${seq}`);
    else {
      run = { first: seq, last: seq };
      runs.push(run);
    }
  }
  return runs;
}

/** The union of two range sets, normalised (adjacent ranges joined). */
export function unionRanges(a: readonly SeqRange[], b: readonly SeqRange[]): SeqRange[] {
  const all = [...a, ...b].sort((x, y) => x.first - y.first);
  const out: SeqRange[] = [];
  for (const r of all) {
    const last = out[out.length - 1];
    if (last && r.first <= last.last + 1) last.last = Math.max(last.last, r.last);
    else out.push({ first: r.first, last: r.last });
  }
  return out;
}

/** The seqs in `a` that are not in `b`. */
export function subtractRanges(a: readonly SeqRange[], b: readonly SeqRange[]): SeqRange[] {
  const out: SeqRange[] = [];
  const cut = unionRanges(b, []);
  for (const r of unionRanges(a, [])) {
    let first = r.first;
    for (const c of cut) {
      if (c.last < first) continue;
      if (c.first > r.last) break;
      if (c.first > first) out.push({ first, last: c.first - 1 });
      first = Math.max(first, c.last + 1);
      if (first > r.last) break;
    }
    if (first <= r.last) out.push({ first, last: r.last });
  }
  return out;
}

/** Whether `seq` lies in one of the normalised `ranges` (binary search). */
export function rangesContain(ranges: readonly SeqRange[], seq: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid] as SeqRange;
    if (seq < r.first) hi = mid - 1;
    else if (seq > r.last) lo = mid + 1;
    else return true;
  }
  return false;
}

/** The highest S such that 1..S are all covered; 0 when seq 1 is not. */
export function contiguousHigh(ranges: readonly SeqRange[]): number {
  const first = ranges[0];
  return first && first.first <= 1 ? first.last : 0;
}

/** Number of seqs in the ranges. */
export function countRanges(ranges: readonly SeqRange[]): number {
  return ranges.reduce((n, r) => n + r.last - r.first + 1, 0);
}

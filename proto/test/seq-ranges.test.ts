/** Range-set algebra checked against plain sets of seqs on random inputs. */
import t from "tap";
import { contiguousHigh, countRanges, rangesContain, runsOf, subtractRanges, unionRanges } from "../src/seq-ranges.js";

/** A small deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const randomSet = (next: () => number, max: number): Set<number> => {
  const set = new Set<number>();
  for (let i = 1; i <= max; i++) if (next() < 0.5) set.add(i);
  return set;
};
const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
const expand = (ranges: { first: number; last: number }[]) =>
  ranges.flatMap((r) => Array.from({ length: r.last - r.first + 1 }, (_, i) => r.first + i));

t.test("runs, union, subtract, contain and count agree with sets", async (t) => {
  const next = rng(42);
  for (let round = 0; round < 200; round++) {
    const a = randomSet(next, 40);
    const b = randomSet(next, 40);
    const ra = runsOf(sorted(a));
    const rb = runsOf(sorted(b));
    t.same(expand(ra), sorted(a));
    t.same(expand(unionRanges(ra, rb)), sorted(new Set([...a, ...b])));
    t.same(
      expand(subtractRanges(ra, rb)),
      sorted(a).filter((x) => !b.has(x)),
    );
    for (let x = 0; x <= 41; x++) if (rangesContain(ra, x) !== a.has(x)) t.fail(`contain ${x}`);
    t.equal(countRanges(ra), a.size);
    let high = 0;
    while (a.has(high + 1)) high++;
    t.equal(contiguousHigh(ra), high);
  }
});

t.test("union joins adjacent and overlapping ranges", async (t) => {
  t.same(
    unionRanges(
      [
        { first: 1, last: 3 },
        { first: 10, last: 12 },
      ],
      [
        { first: 4, last: 5 },
        { first: 11, last: 20 },
      ],
    ),
    [
      { first: 1, last: 5 },
      { first: 10, last: 20 },
    ],
  );
});

t.test("runsOf refuses seqs that are not ascending", async (t) => {
  t.throws(() => runsOf([1, 2, 2]), RangeError);
  t.throws(() => runsOf([5, 3]), RangeError);
});

import t from "tap";
import { cutsFromIllegalAddress, MAX_GAP, planReads, type Span } from "../src/acquisition/request-plan.js";

const span = (address: number, count = 1, fn: Span["fn"] = "holding"): Span => ({
  key: `${fn}:${address}`,
  fn,
  address,
  count,
});
const tcp = { maxRegisters: 125, maxGap: MAX_GAP.tcp };
const shape = (reads: ReturnType<typeof planReads>) => reads.map((r) => `${r.fn}:${r.address}+${r.count}`);

t.test("gaps are bridged only when cheaper than a new request", async (t) => {
  t.same(shape(planReads([span(0), span(32)], tcp)), ["holding:0+33"], "a gap of 31 is bridged over TCP");
  t.same(shape(planReads([span(0), span(33)], tcp)), ["holding:0+1", "holding:33+1"], "a gap of 32 is not");
  const rtu = { maxRegisters: 125, maxGap: MAX_GAP.rtu };
  t.same(
    shape(planReads([span(0), span(9)], rtu)),
    ["holding:0+1", "holding:9+1"],
    "a gap of 8 is not bridged over RTU",
  );
  t.same(shape(planReads([span(0), span(8)], rtu)), ["holding:0+9"], "a gap of 7 is");
});

t.test("reads stay within the register limit and never split a span", async (t) => {
  const spans = Array.from({ length: 20 }, (_, i) => span(i * 10, 2));
  const reads = planReads(spans, tcp);
  t.same(shape(reads), ["holding:0+122", "holding:130+62"]);
  t.ok(reads.every((r) => r.count <= 125));
  t.same(shape(planReads(spans, { maxRegisters: 50, maxGap: 31 })), [
    "holding:0+42",
    "holding:50+42",
    "holding:100+42",
    "holding:150+42",
  ]);
  t.same(shape(planReads([span(0, 4), span(2, 4)], tcp)), ["holding:0+6"], "overlapping spans share a read");
  t.throws(() => planReads([span(0, 126)], tcp), RangeError);
});

t.test("holding and input registers are separate reads; input order does not matter", async (t) => {
  t.same(shape(planReads([span(5, 1, "input"), span(9), span(0), span(6, 1, "input")], tcp)), [
    "holding:0+10",
    "input:5+2",
  ]);
});

t.test("cuts are never crossed", async (t) => {
  t.same(shape(planReads([span(0), span(5), span(10)], tcp, new Set([5]))), ["holding:0+1", "holding:5+6"]);
  t.same(shape(planReads([span(0, 3), span(3)], tcp, new Set([3]))), ["holding:0+3", "holding:3+1"]);
});

t.test("exception 02 cuts at the widest bridged gap, or between all spans when there is none", async (t) => {
  const [read] = planReads([span(0), span(2), span(20), span(22)], tcp);
  t.same(cutsFromIllegalAddress(read as NonNullable<typeof read>), [20]);
  const [dense] = planReads([span(0, 2), span(2, 2), span(4)], tcp);
  t.same(cutsFromIllegalAddress(dense as NonNullable<typeof dense>), [2, 4]);
});

import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type BatchColumns, GapReason, Quality, readingsOf } from "@steinmetz/proto";
import pino from "pino";
import t from "tap";
import { type NewReading, ReadingBuffer } from "../src/buffer/reading-buffer.js";

const readings = (n: number, ts = 1000): NewReading[] =>
  Array.from({ length: n }, (_, i) => ({
    deviceId: `dev-${i % 2}`,
    point: i % 3 === 0 ? "energy_exported" : "active_power",
    ts: ts + i,
    value: i % 5 === 0 ? null : i * 1.25,
    quality: i % 5 === 0 ? Quality.QUALITY_NOT_IMPLEMENTED : Quality.QUALITY_GOOD,
    clockSynced: i % 2 === 0,
  }));

const tempFile = () => join(mkdtempSync(join(tmpdir(), "buffer-")), "buffer.sqlite");

t.test("seqs are consecutive, readings come back as committed", async (t) => {
  const buffer = ReadingBuffer.open(tempFile());
  t.teardown(() => buffer.close());
  t.match(buffer.edgeId, /^edge-[0-9a-f]{12}$/);
  let appended = 0;
  buffer.on("appended", () => appended++);
  const input = readings(7);
  t.same(buffer.append(input), { firstSeq: 1, lastSeq: 7 });
  t.same(buffer.append(readings(3)), { firstSeq: 8, lastSeq: 10 });
  t.equal(appended, 2);
  const back = buffer.readAfter(0, 7);
  t.same(
    back.map(({ seq, ...r }) => r),
    input,
  );
  t.same(
    buffer.readAfter(5, 100).map((r) => r.seq),
    [6, 7, 8, 9, 10],
  );
  t.match(buffer.stats(), { depth: 10, oldestTs: 1000, nextSeq: 11, pendingGaps: 0, recovered: null });
});

t.test("identity and seq survive reopening, also after every row was acknowledged", async (t) => {
  const file = tempFile();
  const first = ReadingBuffer.open(file);
  first.append(readings(5));
  t.equal(first.delete(1, 5), 5);
  const edgeId = first.edgeId;
  first.close();
  const second = ReadingBuffer.open(file);
  t.teardown(() => second.close());
  t.equal(second.edgeId, edgeId, "same edge identity");
  t.same(second.append(readings(1)), { firstSeq: 6, lastSeq: 6 }, "seq continues, never reused");
});

t.test("the hub's high-water mark drops acknowledged rows and lifts the seq", async (t) => {
  const buffer = ReadingBuffer.open(tempFile());
  t.teardown(() => buffer.close());
  buffer.append(readings(10));
  t.equal(buffer.deleteThrough(4), 4);
  t.equal(buffer.stats().depth, 6);
  // A hub that knows more than this buffer (the file was replaced): never hand out its seqs again.
  t.equal(buffer.deleteThrough(500), 6);
  t.same(buffer.append(readings(1)), { firstSeq: 501, lastSeq: 501 });
});

t.test("a failed commit hands out no seq and loses nothing committed before", async (t) => {
  const buffer = ReadingBuffer.open(tempFile());
  t.teardown(() => buffer.close());
  buffer.append(readings(2));
  const bad = [
    { ...readings(1)[0], deviceId: "new-device" },
    { ...readings(1)[0], quality: "x" },
  ] as NewReading[];
  t.throws(() => buffer.append(bad), { code: "EDGE_ERR_BUFFER" });
  t.same(buffer.append(readings(1)), { firstSeq: 3, lastSeq: 3 });
  t.same(
    buffer.readAfter(0, 10).map((r) => r.deviceId),
    ["dev-0", "dev-1", "dev-0"],
  );
});

t.test("readings submitted within the commit window share one transaction", async (t) => {
  const buffer = ReadingBuffer.open(tempFile());
  t.teardown(() => buffer.close());
  const { CommitBatcher } = await import("../src/buffer/commit-batcher.js");
  const pino = (await import("pino")).default;
  const batcher = new CommitBatcher(buffer, pino({ level: "silent" }), 50, 10);
  let commits = 0;
  buffer.on("appended", () => commits++);
  batcher.submit(readings(3));
  batcher.submit(readings(4));
  t.equal(buffer.stats().depth, 0, "nothing committed inside the window");
  await new Promise((resolve) => setTimeout(resolve, 120));
  t.equal(commits, 1);
  t.equal(buffer.stats().depth, 7);
  batcher.submit(readings(12)); // more than maxReadings: committed at once
  t.equal(buffer.stats().depth, 19);
  batcher.submit(readings(1));
  batcher.flush();
  t.match(buffer.stats(), { depth: 20, oldestTs: 1000, nextSeq: 21 });
});

const state = (file: string) =>
  JSON.parse(readFileSync(join(dirname(file), "edge-state.json"), "utf8")) as { edgeId: string; seqCeiling: number };

/** A pino logger whose lines land in `lines`. */
const capture = () => {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
};

t.test("readColumnsAfter gives the same readings as batch columns, each series once", async (t) => {
  const buffer = ReadingBuffer.open(tempFile());
  t.teardown(() => buffer.close());
  buffer.append(readings(30));
  buffer.delete(10, 12);
  const cols = buffer.readColumnsAfter(3, 20, 28);
  t.ok(cols);
  t.same(readingsOf(cols as BatchColumns), buffer.readAfter(3, 20, 28));
  t.equal(cols?.series.length, 4, "two devices x two points");
  t.equal(buffer.readColumnsAfter(30, 10), null, "null when nothing is there");
});

t.test("readAfter with beforeSeq reads one lane's range", async (t) => {
  const buffer = ReadingBuffer.open(tempFile());
  t.teardown(() => buffer.close());
  buffer.append(readings(20));
  t.same(
    buffer.readAfter(5, 100, 9).map((r) => r.seq),
    [6, 7, 8],
  );
  t.same(
    buffer.readAfter(5, 2, 9).map((r) => r.seq),
    [6, 7],
  );
  t.same(buffer.readAfter(8, 100, 9), [], "empty when the range is");
  t.same(
    buffer.readAfter(17, 100).map((r) => r.seq),
    [18, 19, 20],
    "no upper bound by default",
  );
});

t.test("deleteCovered drops readings inside any range, keeps depth right and lifts the seq", async (t) => {
  const file = tempFile();
  const buffer = ReadingBuffer.open(file, { seqBlock: 100 });
  t.teardown(() => buffer.close());
  buffer.append(readings(30));
  const removed = buffer.deleteCovered([
    { first: 1, last: 5 },
    { first: 10, last: 12 },
    { first: 29, last: 29 },
    { first: 40, last: 50 }, // nothing buffered there
  ]);
  t.equal(removed, 9);
  t.equal(buffer.stats().depth, 21);
  t.same(
    buffer.readAfter(0, 100).map((r) => r.seq),
    [6, 7, 8, 9, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 30],
  );
  t.same(buffer.append(readings(1)), { firstSeq: 51, lastSeq: 51 }, "never below the highest covered seq");
  t.equal(buffer.deleteCovered([{ first: 1, last: 10_000 }]), 22);
  t.equal(buffer.stats().depth, 0);
  t.ok(state(file).seqCeiling > 10_000, "the ceiling was raised before the lifted seq was used");
  t.same(buffer.append(readings(1)), { firstSeq: 10_001, lastSeq: 10_001 });
});

t.test("seqs are reserved in blocks in edge-state.json, written atomically", async (t) => {
  const file = tempFile();
  const buffer = ReadingBuffer.open(file, { seqBlock: 10 });
  t.same(state(file), { edgeId: buffer.edgeId, seqCeiling: 1 }, "nothing handed out yet");
  buffer.append(readings(3));
  t.equal(state(file).seqCeiling, 14, "seqs 1..3 plus a block of 10");
  buffer.append(readings(10));
  t.equal(state(file).seqCeiling, 14, "13 < 14: no write");
  buffer.append(readings(1));
  t.equal(state(file).seqCeiling, 25);
  buffer.close();
  t.same(
    readdirSync(dirname(file)).filter((f) => f.includes("edge-state")),
    ["edge-state.json"],
    "no temporary file left",
  );
});

t.test("seq never repeats after the buffer file is deleted, and the loss is a gap", async (t) => {
  const file = tempFile();
  const first = ReadingBuffer.open(file);
  first.append(readings(5));
  const edgeId = first.edgeId;
  first.close();
  const ceiling = state(file).seqCeiling;
  t.equal(ceiling, 100_006);
  rmSync(file);
  const { log, lines } = capture();
  const second = ReadingBuffer.open(file, { log });
  t.teardown(() => second.close());
  t.equal(second.edgeId, edgeId, "identity kept in the state file");
  t.match(second.stats(), { depth: 0, nextSeq: ceiling, recovered: { movedTo: null, reason: "buffer file missing" } });
  t.same(second.pendingGaps(), [
    {
      id: 1,
      firstSeq: 1,
      lastSeq: ceiling - 1,
      count: 0,
      reason: GapReason.GAP_REASON_BUFFER_CORRUPT,
      fromTs: 0,
      toTs: 0,
    },
  ]);
  t.match(lines, [{ level: 50, code: "EDGE_ERR_BUFFER_CORRUPT" }]);
  t.same(second.append(readings(1)), { firstSeq: ceiling, lastSeq: ceiling });
});

t.test("a buffer from before the state file brings its identity and seq into a new one", async (t) => {
  const file = tempFile();
  const first = ReadingBuffer.open(file);
  first.append(readings(7));
  const edgeId = first.edgeId;
  first.close();
  rmSync(join(dirname(file), "edge-state.json"));
  const second = ReadingBuffer.open(file);
  t.teardown(() => second.close());
  t.equal(second.edgeId, edgeId);
  t.same(state(file), { edgeId, seqCeiling: 100_008 }, "rebuilt from the buffer's meta table");
  t.equal(second.stats().recovered, null);
  t.same(second.pendingGaps(), []);
  t.same(second.append(readings(1)), { firstSeq: 8, lastSeq: 8 });
});

t.test("a garbage buffer file is moved aside, a fresh one continues the seqs and reports the gap", async (t) => {
  const file = tempFile();
  const first = ReadingBuffer.open(file);
  first.append(readings(5));
  const edgeId = first.edgeId;
  first.close();
  const garbage = Buffer.alloc(64 * 1024, 0x5a);
  const fd = openSync(file, "w");
  writeSync(fd, garbage);
  closeSync(fd);
  const { log, lines } = capture();
  const at = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
  const buffer = ReadingBuffer.open(file, { log, now: () => at });
  t.teardown(() => buffer.close());
  const movedTo = `${file}.corrupt-2026-01-02T03-04-05-006Z`;
  t.match(buffer.stats(), {
    depth: 0,
    nextSeq: 100_006,
    recovered: { movedTo, at, reason: /SQLITE_NOTADB/ },
    pendingGaps: 1,
  });
  t.same(readFileSync(movedTo), garbage, "the corrupt file is kept for inspection");
  t.equal(buffer.edgeId, edgeId);
  t.match(buffer.pendingGaps(), [
    { firstSeq: 1, lastSeq: 100_005, count: 0, reason: GapReason.GAP_REASON_BUFFER_CORRUPT },
  ]);
  t.match(lines, [{ level: 50, code: "EDGE_ERR_BUFFER_CORRUPT", movedTo }]);
  t.same(buffer.append(readings(2)), { firstSeq: 100_006, lastSeq: 100_007 });
});

t.test("damaged pages inside a real buffer are found by quick_check; meta is salvaged", async (t) => {
  const file = tempFile();
  const first = ReadingBuffer.open(file);
  for (let i = 0; i < 20; i++) first.append(readings(1000, i * 1000));
  const edgeId = first.edgeId;
  first.close();
  rmSync(join(dirname(file), "edge-state.json")); // the worst case: the state file is gone too
  const pages = statSync(file).size / 4096;
  t.ok(pages > 100, `${pages} pages`);
  const fd = openSync(file, "r+");
  writeSync(fd, Buffer.alloc(3 * 4096, 0xa5), 0, 3 * 4096, Math.floor(pages / 2) * 4096); // 3 pages mid-file
  closeSync(fd);
  const { log, lines } = capture();
  const buffer = ReadingBuffer.open(file, { log });
  t.teardown(() => buffer.close());
  t.match(buffer.stats().recovered, { movedTo: /\.corrupt-/, reason: /SQLITE_CORRUPT/ });
  t.ok(existsSync(buffer.stats().recovered?.movedTo as string));
  t.equal(buffer.edgeId, edgeId, "identity read from the damaged file's meta table");
  t.equal(buffer.stats().nextSeq, 101_001, "seq continues at the salvaged reservation ceiling");
  t.match(buffer.pendingGaps(), [{ firstSeq: 1, lastSeq: 101_000, reason: GapReason.GAP_REASON_BUFFER_CORRUPT }]);
  t.equal(lines.length, 1);
  buffer.append(readings(1));
  buffer.close();
  const again = ReadingBuffer.open(file);
  t.equal(again.stats().recovered, null, "the fresh buffer is healthy");
  t.equal(again.edgeId, edgeId);
  t.equal(again.stats().nextSeq, 101_002);
  t.equal(again.pendingGaps().length, 1, "the gap waits until the hub has it");
  again.close();
});

t.test("gap records: pending until reported, events for each new record", async (t) => {
  const file = tempFile();
  const first = ReadingBuffer.open(file, { seqBlock: 10 });
  first.append(readings(2));
  first.close();
  rmSync(file);
  const buffer = ReadingBuffer.open(file);
  t.teardown(() => buffer.close());
  const [gap] = buffer.pendingGaps();
  t.match(gap, { firstSeq: 1, lastSeq: 12 });
  buffer.gapsReported([gap?.id as number, 999]);
  t.same(buffer.pendingGaps(), []);
  t.equal(buffer.stats().pendingGaps, 0);
});

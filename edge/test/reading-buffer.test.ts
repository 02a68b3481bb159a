import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Quality } from "@steinmetz/proto";
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
  t.same(buffer.stats(), { depth: 10, oldestTs: 1000, nextSeq: 11 });
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
  t.same(buffer.stats(), { depth: 20, oldestTs: 1000, nextSeq: 21 });
});

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GapReason, Quality } from "@steinmetz/proto";
import Database from "better-sqlite3";
import pino from "pino";
import t from "tap";
import { type GapRecord, type NewReading, ReadingBuffer } from "../src/buffer/reading-buffer.js";
import { parseByteSize } from "../src/config/byte-size.js";
import { checkSite } from "../src/config/load-site.js";
import { createEdgeMetrics } from "../src/metrics.js";

/** `n` readings with ts = `ts`, `ts + 1`, ... */
const readings = (n: number, ts: number, clockSynced = true): NewReading[] =>
  Array.from({ length: n }, (_, i) => ({
    deviceId: "inverter-1",
    point: i % 2 === 0 ? "active_power" : "energy_exported",
    ts: ts + i,
    value: i * 10,
    quality: Quality.QUALITY_GOOD,
    clockSynced,
  }));

const tempFile = () => join(mkdtempSync(join(tmpdir(), "buffer-limits-")), "buffer.sqlite");
const seqs = (buffer: ReadingBuffer) => buffer.readAfter(0, 1_000_000).map((r) => r.seq);
const capture = () => {
  const lines: { level: number; msg: string }[] = [];
  return { lines, log: pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) }) };
};
const FULL = GapReason.GAP_REASON_BUFFER_FULL;

t.test("drop-oldest evicts exactly the oldest readings down to 95 % and records each gap", async (t) => {
  const file = tempFile();
  const clock = { now: () => 10_000 }; // the TTL must not see 1970's readings as 56 years old
  const buffer = ReadingBuffer.open(file, { maxRows: 100, minFreeBytes: 0, ...clock });
  const events: GapRecord[] = [];
  buffer.on("gap", (gap) => events.push(gap));
  // Reading with seq s has ts 1000 + s - 1.
  const append = (k: number) => buffer.append(readings(15, 1000 + k * 15));
  for (let k = 0; k < 6; k++) append(k);
  t.equal(buffer.stats().depth, 90);
  t.same(events, []);
  append(6); // 105 > 100: down to 95, the 10 oldest go
  t.same(events, [{ id: 1, firstSeq: 1, lastSeq: 10, count: 10, reason: FULL, fromTs: 1000, toTs: 1009 }]);
  t.equal(buffer.delete(11, 15), 5, "the hub acknowledged 11..15");
  append(7); // 90 + 15: the 10 oldest left are 16..25
  t.same(events[1], { id: 2, firstSeq: 16, lastSeq: 25, count: 10, reason: FULL, fromTs: 1015, toTs: 1024 });
  append(8); // 95 + 15: 26..40, contiguous with the last record: merged under a new id
  t.same(events[2], { id: 3, firstSeq: 16, lastSeq: 40, count: 25, reason: FULL, fromTs: 1015, toTs: 1039 });
  t.same(buffer.pendingGaps(), [events[0], events[2]]);
  t.equal(seqs(buffer)[0], 41);
  const stats = buffer.stats();
  t.match(stats, { depth: 95, nextSeq: 136, oldestTs: 1040, pendingGaps: 2 });
  t.same(stats.evicted, { buffer_full: 35, ttl: 0, disk_low: 0, rejected: 0 });
  t.equal(stats.depth + stats.evicted.buffer_full + 5, 135, "depth + evicted + deleted = appended");
  buffer.close();

  const reopened = ReadingBuffer.open(file, { maxRows: 100, minFreeBytes: 0, ...clock });
  t.teardown(() => reopened.close());
  t.match(reopened.stats(), { depth: 95, evicted: { buffer_full: 35 }, pendingGaps: 2 }, "counts survive a restart");
  reopened.gapsReported([1, 3]);
  reopened.append(readings(10, 5000)); // 105 again
  t.match(reopened.pendingGaps(), [{ firstSeq: 41, lastSeq: 50, count: 10 }], "a new record after the report");
  t.match(
    reopened.recentGaps(50),
    [
      { firstSeq: 41, lastSeq: 50, reported: false },
      { id: 3, firstSeq: 16, lastSeq: 40, reported: true },
      { id: 1, firstSeq: 1, lastSeq: 10, reported: true },
    ],
    "the status page lists reported gaps too, newest first",
  );
  t.equal(reopened.recentGaps(1).length, 1);
});

t.test("limits change while running; switching rollups on or off needs a restart", async (t) => {
  const buffer = ReadingBuffer.open(tempFile(), { maxRows: 100, minFreeBytes: 0, now: () => 10_000 });
  t.teardown(() => buffer.close());
  buffer.append(readings(90, 1000));
  const limits = buffer.stats().limits;
  t.equal(buffer.updateLimits({ ...limits, maxRows: 50 }), true);
  buffer.append(readings(1, 2000));
  t.ok(buffer.stats().depth <= 50, "the new budget holds from the next commit");
  t.equal(buffer.updateLimits({ ...limits, maxRows: 60, rollupDays: 0 }), false);
  t.match(buffer.stats().limits, { maxRows: 60, rollupDays: limits.rollupDays }, "the rest applied");
});

t.test("a generated edge id gives way to the first certificate's, a certified one does not", async (t) => {
  const file = tempFile();
  const buffer = ReadingBuffer.open(file);
  t.match(buffer.edgeId, /^edge-[0-9a-f]{12}$/);
  t.equal(buffer.identityCertified, false);
  buffer.append(readings(3, 1000));
  buffer.adoptEdgeId("site-7");
  t.equal(buffer.edgeId, "site-7");
  t.equal(buffer.identityCertified, true);
  t.throws(() => buffer.adoptEdgeId("site-8"), { code: "EDGE_ERR_TLS" });
  buffer.close();
  const reopened = ReadingBuffer.open(file);
  t.teardown(() => reopened.close());
  t.equal(reopened.edgeId, "site-7", "kept across a restart");
  t.equal(reopened.identityCertified, true);
  t.equal(reopened.stats().nextSeq, 4, "seqs continue");
  t.throws(() => ReadingBuffer.open(file, { edgeId: "site-8" }), { code: "EDGE_ERR_TLS" });
});

t.test("drop-oldest keeps the bytes in use under maxBytes", async (t) => {
  const buffer = ReadingBuffer.open(tempFile(), { maxBytes: 256 * 1024, minFreeBytes: 0, now: () => 10_000 });
  t.teardown(() => buffer.close());
  let appended = 0;
  for (let k = 0; k < 150; k++) {
    buffer.append(readings(200, k * 200));
    appended += 200;
    t.ok(buffer.stats().bytes <= 256 * 1024 + 32 * 1024, `append ${k}: ${buffer.stats().bytes} bytes`);
  }
  const stats = buffer.stats();
  t.ok(stats.evicted.buffer_full > 0);
  t.equal(stats.depth + stats.evicted.buffer_full, appended);
  const gaps = buffer.pendingGaps();
  t.ok(gaps.every((g) => g.reason === FULL));
  t.equal(gaps.at(-1)?.lastSeq as number, (seqs(buffer)[0] as number) - 1, "the oldest remaining follows the last gap");
  t.equal(
    gaps.reduce((n, g) => n + g.count, 0),
    stats.evicted.buffer_full,
  );
});

t.test("reject-new keeps the backlog and records the rejected seqs as one growing gap", async (t) => {
  const { log, lines } = capture();
  const buffer = ReadingBuffer.open(tempFile(), {
    maxRows: 20,
    minFreeBytes: 0,
    policy: "reject-new",
    log,
    now: () => 1e4,
  });
  t.teardown(() => buffer.close());
  let appendedEvents = 0;
  buffer.on("appended", () => appendedEvents++);
  t.same(buffer.append(readings(8, 0)), { firstSeq: 1, lastSeq: 8 });
  t.same(buffer.append(readings(8, 8)), { firstSeq: 9, lastSeq: 16 });
  t.same(buffer.append(readings(8, 16)), { firstSeq: 17, lastSeq: 24 }, "seqs are used");
  t.equal(appendedEvents, 2, "nothing stored, no appended event");
  const [first] = buffer.pendingGaps();
  t.match(first, { firstSeq: 17, lastSeq: 24, count: 8, reason: GapReason.GAP_REASON_REJECTED, fromTs: 16, toTs: 23 });
  buffer.append(readings(8, 24));
  const [grown] = buffer.pendingGaps();
  t.match(grown, { firstSeq: 17, lastSeq: 32, count: 16, fromTs: 16, toTs: 31 });
  t.not(grown?.id, first?.id, "a grown record has a new id");
  buffer.gapsReported([first?.id as number]); // a report of the old record
  t.same(buffer.pendingGaps(), [grown], "does not acknowledge the seqs it did not carry");
  t.same(
    seqs(buffer),
    Array.from({ length: 16 }, (_, i) => i + 1),
    "the old readings are kept",
  );
  t.match(buffer.stats(), { depth: 16, evicted: { rejected: 16, buffer_full: 0 } });
  t.equal(buffer.delete(1, 16), 16);
  t.same(buffer.append(readings(8, 32)), { firstSeq: 33, lastSeq: 40 });
  t.same(seqs(buffer), [33, 34, 35, 36, 37, 38, 39, 40]);
  const s = buffer.stats();
  t.equal(s.depth + s.evicted.rejected + 16, 40, "depth + rejected + deleted = appended");
  t.same(
    lines.map((l) => l.msg),
    ["buffer full: new readings are rejected (policy reject-new)", "buffer accepts new readings again"],
    "logged once per transition",
  );
});

t.test("TTL evicts readings older than ttlMs (synchronised clock only), at most once a minute", async (t) => {
  const T0 = 1_800_000_000_000;
  let now = T0;
  const buffer = ReadingBuffer.open(tempFile(), { ttlMs: 3_600_000, minFreeBytes: 0, now: () => now });
  t.teardown(() => buffer.close());
  buffer.append(readings(10, T0 - 10)); // 1..10
  buffer.append(readings(5, T0 - 5 * 3_600_000, false)); // 11..15: ts unreliable, clock not synchronised
  now = T0 + 1_800_000;
  buffer.append(readings(10, T0 + 1_800_000)); // 16..25
  t.same(buffer.pendingGaps(), []);
  now = T0 + 3_630_000; // cutoff T0 + 30 s: 1..10 expired
  buffer.append(readings(5, now)); // 26..30
  t.same(buffer.pendingGaps(), [
    { id: 1, firstSeq: 1, lastSeq: 10, count: 10, reason: GapReason.GAP_REASON_TTL, fromTs: T0 - 10, toTs: T0 - 1 },
  ]);
  now = T0 + 3_690_000 - 1; // 59.999 s after the last check: no check
  buffer.append(readings(1, now));
  t.equal(buffer.pendingGaps().length, 1);
  now = T0 + 7_200_000; // cutoff T0 + 1 h: 16..25 expired, 26.. not
  buffer.append(readings(1, now));
  t.match(buffer.pendingGaps()[1], { firstSeq: 16, lastSeq: 25, count: 10, fromTs: T0 + 1_800_000 });
  t.same(seqs(buffer), [11, 12, 13, 14, 15, 26, 27, 28, 29, 30, 31, 32], "unsynchronised readings stay");
  t.match(buffer.stats(), { oldestTs: T0 - 5 * 3_600_000, evicted: { ttl: 20 } });
});

t.test("the disk guard stops the file from growing by evicting the oldest", async (t) => {
  const file = tempFile();
  let now = 1_800_000_000_000;
  let free = 1024 ** 3;
  const buffer = ReadingBuffer.open(file, {
    minFreeBytes: 100 * 1024 ** 2,
    now: () => now,
    statfs: () => ({ bavail: free / 4096, bsize: 4096 }),
  });
  t.teardown(() => buffer.close());
  const pages = () => {
    const db = new Database(file, { readonly: true });
    const n = db.pragma("page_count", { simple: true }) as number;
    db.close();
    return n;
  };
  let appended = 0;
  const append = () => {
    buffer.append(readings(100, appended));
    appended += 100;
  };
  for (let i = 0; i < 20; i++) append();
  t.same(buffer.pendingGaps(), []);
  free = 50 * 1024 ** 2;
  now += 5000;
  append();
  const [gap] = buffer.pendingGaps();
  t.match(gap, { firstSeq: 1, reason: GapReason.GAP_REASON_DISK_LOW });
  t.equal(gap?.count, gap?.lastSeq, "the oldest, without a hole");
  t.ok((gap?.count as number) >= 100, `evicted ${gap?.count}`);
  const before = pages();
  for (let i = 0; i < 30; i++) append();
  t.ok(pages() <= before + 2, `file stays at ${before} pages (now ${pages()})`);
  const s = buffer.stats();
  t.equal(s.depth + s.evicted.disk_low, appended);
  t.equal(seqs(buffer)[0], (buffer.pendingGaps().at(-1)?.lastSeq as number) + 1);
  free = 1024 ** 3;
  now += 5000;
  const evicted = s.evicted.disk_low;
  for (let i = 0; i < 10; i++) append();
  t.equal(buffer.stats().evicted.disk_low, evicted, "no more evictions once there is space");
});

t.test("reject-new under the disk guard rejects new readings", async (t) => {
  const buffer = ReadingBuffer.open(tempFile(), {
    policy: "reject-new",
    minFreeBytes: 1024 ** 2,
    statfs: () => ({ bavail: 1, bsize: 4096 }),
  });
  t.teardown(() => buffer.close());
  buffer.append(readings(50, 0));
  t.match(buffer.stats(), { depth: 0, evicted: { rejected: 50 } });
});

t.test("rollups: 1-minute and 15-minute buckets match a hand computation, across a flush and a reopen", async (t) => {
  const file = tempFile();
  const base = 1_700_000_100_000; // a 15-minute boundary
  let now = base;
  const open = () => ReadingBuffer.open(file, { now: () => now, minFreeBytes: 0 });
  const at = (s: number, value: number | null, point = "active_power"): NewReading => ({
    deviceId: "inverter-1",
    point,
    ts: base + s * 1000,
    value,
    quality: value === null ? Quality.QUALITY_NOT_IMPLEMENTED : Quality.QUALITY_GOOD,
    clockSynced: true,
  });
  const q = (buffer: ReadingBuffer, period: "1m" | "15m") =>
    buffer.rollups({ deviceId: "inverter-1", point: "active_power", period, from: base, to: base + 3_600_000 });
  let buffer = open();
  now = base + 10_000;
  buffer.append([at(0, 10), at(30, 20), at(0, 99, "soc")]);
  t.same(q(buffer, "1m"), [{ t: base, count: 2, avg: 15, min: 10, max: 20, last: 20 }], "in memory, not yet flushed");
  now = base + 70_000;
  buffer.append([at(59, 30), at(60, 5), at(61, null), at(119, 7)]); // minute 0 closed and flushed
  buffer.append([at(45, 40)]); // late for minute 0: merged into the stored row; ts 45 s is not its last
  buffer.append([at(16 * 60, 100)]);
  buffer.deleteThrough(1000); // acknowledged readings leave the buffer, not the rollups
  const minutes = [
    { t: base, count: 4, avg: 25, min: 10, max: 40, last: 30 },
    { t: base + 60_000, count: 2, avg: 6, min: 5, max: 7, last: 7 },
    { t: base + 960_000, count: 1, avg: 100, min: 100, max: 100, last: 100 },
  ];
  const quarters = [
    { t: base, count: 6, avg: 112 / 6, min: 5, max: 40, last: 7 },
    { t: base + 900_000, count: 1, avg: 100, min: 100, max: 100, last: 100 },
  ];
  t.same(q(buffer, "1m"), minutes);
  t.same(q(buffer, "15m"), quarters);
  t.same(
    buffer.rollups({
      deviceId: "inverter-1",
      point: "active_power",
      period: "1m",
      from: base + 60_000,
      to: base + 120_000,
    }),
    [minutes[1]],
    "from inclusive, to exclusive",
  );
  t.same(buffer.rollups({ deviceId: "inverter-1", point: "soc", period: "15m", from: base, to: base + 900_000 }), [
    { t: base, count: 1, avg: 99, min: 99, max: 99, last: 99 },
  ]);
  t.same(buffer.rollups({ deviceId: "nobody", point: "soc", period: "1m", from: 0, to: base * 2 }), []);
  buffer.close();
  buffer = open();
  t.same(q(buffer, "1m"), minutes, "stored at close");
  t.ok(buffer.stats().rollupBytes > 0, "their size is measured (it does not count against maxBytes)");
  t.same(q(buffer, "15m"), quarters);
  now = base + 36 * 86_400_000; // past rollupDays (35): pruned with the next flush
  buffer.append([at(36 * 86_400, 1)]);
  now += 5000;
  buffer.append([at(36 * 86_400 + 5, 3)]);
  t.same(q(buffer, "1m"), []);
  t.same(
    buffer.rollups({ deviceId: "inverter-1", point: "active_power", period: "1m", from: base, to: now + 60_000 }),
    [{ t: base + 36 * 86_400_000, count: 2, avg: 2, min: 1, max: 3, last: 3 }],
  );
  buffer.close();
});

t.test("the buffer section of the site file: defaults, sizes, path-named errors", async (t) => {
  const site = {
    site: { name: "test" },
    connections: [{ id: "lan", type: "tcp", host: "127.0.0.1", port: 502 }],
    devices: [{ id: "inverter-1", connection: "lan", profile: "inverter/sunspec-inverter-tcp" }],
  };
  t.same(checkSite("site.yaml", site).buffer, {
    maxRows: 10_000_000,
    maxBytes: 2 * 1024 ** 3,
    ttlMs: 30 * 86_400_000,
    minFreeBytes: 100 * 1024 ** 2,
    policy: "drop-oldest",
    rollupDays: 35,
  });
  t.match(
    checkSite("site.yaml", { ...site, buffer: { maxBytes: "500MB", minFreeBytes: 0, policy: "reject-new" } }).buffer,
    { maxBytes: 500_000_000, minFreeBytes: 0, policy: "reject-new", maxRows: 10_000_000 },
  );
  const problems = (buffer: unknown) => {
    try {
      checkSite("site.yaml", { ...site, buffer });
      return "";
    } catch (err) {
      t.equal((err as { code: string }).code, "EDGE_ERR_CONFIG_INVALID");
      return (err as Error).message;
    }
  };
  t.match(problems({ policy: "keep-all" }), 'site.yaml: /buffer/policy: must be one of "drop-oldest", "reject-new"');
  t.match(problems({ maxBytes: "lots" }), "site.yaml: /buffer/maxBytes: must be a number of bytes");
  t.match(problems({ maxBytes: 0 }), "site.yaml: /buffer/maxBytes: must be more than 0");
  t.match(problems({ minFreeBytes: "5 parsecs" }), "site.yaml: /buffer/minFreeBytes:");
  t.match(
    problems({ maxRows: 0, ttlMs: 1000, rollupDays: -1 }),
    /\/buffer\/maxRows.*\n.*\/buffer\/ttlMs.*\n.*\/buffer\/rollupDays/,
  );
  t.match(problems({ maxrows: 5 }), '/buffer: unknown property "maxrows"');
});

t.test("byte sizes", async (t) => {
  t.equal(parseByteSize(1234), 1234);
  t.equal(parseByteSize("2GiB"), 2 * 1024 ** 3);
  t.equal(parseByteSize("500MB"), 500_000_000);
  t.equal(parseByteSize("1.5 kb"), 1500);
  t.equal(parseByteSize("100 MiB"), 100 * 1024 ** 2);
  t.equal(parseByteSize("42"), 42);
  t.equal(parseByteSize("-1MB"), null);
  t.equal(parseByteSize("1 XB"), null);
  t.equal(parseByteSize(1.5), null);
});

t.test("metrics read the buffer's stats when scraped", async (t) => {
  const buffer = ReadingBuffer.open(tempFile(), { maxRows: 10, minFreeBytes: 0, now: () => 10_000 });
  t.teardown(() => buffer.close());
  buffer.append(readings(12, 0));
  const metrics = createEdgeMetrics();
  metrics.observeBuffer(() => buffer.stats());
  const text = await metrics.registry.metrics();
  t.match(text, /^edge_buffer_depth 9$/m);
  t.match(text, /^edge_buffer_evicted_readings_total\{reason="buffer_full"\} 3$/m);
  t.match(text, /^edge_buffer_evicted_readings_total\{reason="rejected"\} 0$/m);
  t.match(text, /^edge_buffer_pending_gaps 1$/m);
  t.match(text, /^edge_buffer_bytes [1-9][0-9]*$/m);
});

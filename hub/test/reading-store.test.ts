/**
 * The telemetry store on a real embedded PostgreSQL: exactly-once across day partitions and
 * out-of-order lanes, gap reports, partition maintenance and retention, clock skew, and the
 * migration of version-1 data.
 */
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import {
  EdgeSyncServiceClient,
  encodeReadingBatch,
  Gap,
  GapReason,
  Quality,
  type Reading,
  type UploadResponse,
} from "@steinmetz/proto";
import pino from "pino";
import t from "tap";
import { migrate, readMigrations } from "../src/db/migrate.js";
import { openPool } from "../src/db/pool.js";
import { startHub } from "../src/hub.js";
import { ReadingStore } from "../src/ingest/repository.js";
import { MAX_BATCH_READINGS } from "../src/ingest/sync-service.js";
import { adminHeaders } from "./fixtures/auth-headers.js";
import { startTestPostgres } from "./fixtures/postgres.js";

const log = pino({ level: process.env.LOG_LEVEL ?? "silent" });
const dataDir = mkdtempSync(join(tmpdir(), "hub-store-"));
chmodSync(dataDir, 0o755);
const db = await startTestPostgres(join(dataDir, "db"), log);
t.teardown(() => db.stop());
const hub = await startHub({
  databaseUrl: db.url,
  dataDir,
  httpPort: 0,
  grpcPort: 0,
  insecureDev: true,
  log,
  store: { clockSkewThresholdMs: 60_000 },
});
t.teardown(() => hub.close());
const auth = await adminHeaders(hub.pool);
const client = new EdgeSyncServiceClient(`127.0.0.1:${hub.grpcPort}`, credentials.createInsecure());
t.teardown(() => client.close());

const DAY = 86_400_000;
const today = Math.floor(Date.now() / DAY) * DAY;

/** Readings with seqs `seqs`, one per second from `start`, alternating two points. */
const readings = (seqs: number[], start = today + 3_600_000): Reading[] =>
  seqs.map((seq) => ({
    seq,
    deviceId: "inv",
    point: seq % 2 ? "active_power" : "energy_exported",
    ts: start + seq * 1000,
    value: seq * 1.5,
    quality: Quality.QUALITY_GOOD,
    clockSynced: true,
  }));
const range = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);

async function storedSeqs(edgeId: string): Promise<number[]> {
  const { rows } = await hub.pool.query<{ seq: string }>(
    "SELECT seq FROM raw.readings JOIN raw.series USING (series_id) WHERE edge_id = $1 ORDER BY seq",
    [edgeId],
  );
  return rows.map((r) => Number(r.seq));
}

/** GET /api/v1/edges/:edgeId/sync. */
const sync = async (edgeId: string) =>
  (await (await fetch(`${hub.httpUrl}/api/v1/edges/${edgeId}/sync`, { headers: auth })).json()) as { gaps: object[] };

t.test("out-of-order lanes and resends store every seq exactly once", async (t) => {
  const store = hub.store;
  // live lane first (seqs 501..600), then the backfill lane from the bottom, with overlaps
  // as after lost acks, and two concurrent writers of the same edge.
  await store.storeBatch("lanes", readings(range(501, 600)));
  await Promise.all([
    store.storeBatch("lanes", readings(range(1, 250))),
    store.storeBatch("lanes", readings(range(200, 520))),
    store.storeBatch("lanes", readings(range(590, 650))),
  ]);
  const again = await store.storeBatch("lanes", readings(range(240, 260)));
  t.same(again, { inserted: 0, duplicates: 21, committedSeq: 650 });
  t.same(await storedSeqs("lanes"), range(1, 650));
  t.match(await sync("lanes"), { committedSeq: 650, committed: [{ first: 1, last: 650 }], pending: [] });
});

t.test("hello tells the edge every covered range; pending holes are visible", async (t) => {
  await hub.store.storeBatch("holes", readings([...range(1, 10), ...range(21, 30)]));
  await hub.store.storeBatch("holes", readings(range(41, 50)));
  const hello = await hub.store.hello("holes", "test", 0, true);
  t.same(hello.covered, [
    { first: 1, last: 10 },
    { first: 21, last: 30 },
    { first: 41, last: 50 },
  ]);
  t.equal(hello.committedSeq, 10);
  t.match(await sync("holes"), {
    pending: [
      { first: 11, last: 20 },
      { first: 31, last: 40 },
    ],
  });
});

t.test("reported gaps close the holes, are kept as records, and subtract what was stored", async (t) => {
  const report = (gaps: Partial<Gap>[]) =>
    new Promise<number[]>((resolve, reject) =>
      client.reportGaps({ edgeId: "holes", gaps: gaps.map((g) => ({ ...Gap.create(), ...g })) }, (err, res) =>
        err ? reject(err) : resolve(res.gapIds),
      ),
    );
  const ids = await report([
    {
      gapId: 7,
      firstSeq: 11,
      lastSeq: 20,
      count: 10,
      reason: GapReason.GAP_REASON_BUFFER_FULL,
      fromTsMs: today,
      toTsMs: today + 9000,
    },
    { gapId: 8, firstSeq: 1, lastSeq: 40, count: 0, reason: GapReason.GAP_REASON_BUFFER_CORRUPT },
  ]);
  t.same(ids, [7, 8]);
  t.same(await report([{ gapId: 7, firstSeq: 11, lastSeq: 20, count: 10, reason: 1 }]), [7], "idempotent");
  const state = await sync("holes");
  t.match(state, {
    committedSeq: 50,
    pending: [],
    missingInGaps: [
      { first: 11, last: 20 },
      { first: 31, last: 40 },
    ],
  });
  t.equal(state.gaps.length, 2);
  t.match(state.gaps[0], { firstSeq: 1, lastSeq: 40, count: 0, reason: "buffer-corrupt", fromTs: null });
  t.match(state.gaps[1], { firstSeq: 11, lastSeq: 20, count: 10, reason: "buffer-full" });
  const hello = await hub.store.hello("holes", "test", 0, true);
  t.same(hello.covered, [{ first: 1, last: 50 }]);
  const bad = (await report([{ gapId: 1, firstSeq: 9, lastSeq: 3, count: 1, reason: 1 }]).catch(
    (e) => e,
  )) as ServiceError;
  t.equal(bad.code, status.INVALID_ARGUMENT);
  t.match(bad.details, "HUB_ERR_GAP_INVALID");
  const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
  t.match(metrics, 'hub_sync_gap_readings_total{reason="buffer-full"} 20');
});

t.test("readings land in day partitions; far-off clocks in the default partition", async (t) => {
  const yesterday = today - DAY;
  await hub.store.storeBatch("days", [
    ...readings(range(1, 3), yesterday),
    ...readings(range(4, 6), today),
    ...readings(range(7, 8), Date.UTC(1970, 0, 2)),
  ]);
  const { rows } = await hub.pool.query<{ part: string; n: number }>(
    `SELECT r.tableoid::regclass::text AS part, count(*)::int AS n
     FROM raw.readings r JOIN raw.series USING (series_id) WHERE edge_id = 'days' GROUP BY 1 ORDER BY 1`,
  );
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll("-", "");
  t.same(
    rows,
    [
      { part: `raw.readings_${day(yesterday)}`, n: 3 },
      { part: `raw.readings_${day(today)}`, n: 3 },
      { part: "raw.readings_default", n: 2 },
    ].sort((a, b) => (a.part < b.part ? -1 : 1)),
  );
  // Creating the partition of a day later moves that day's rows out of the default partition.
  await hub.pool.query("SELECT raw.ensure_readings_partition('1970-01-02')");
  const moved = await hub.pool.query<{ part: string }>(
    `SELECT DISTINCT r.tableoid::regclass::text AS part
     FROM raw.readings r JOIN raw.series USING (series_id) WHERE edge_id = 'days' AND r.ts < '2000-01-01'`,
  );
  t.same(moved.rows, [{ part: "raw.readings_19700102" }]);
  t.same(await storedSeqs("days"), range(1, 8));
});

t.test("partitions are created ahead; retention detaches or drops old days", async (t) => {
  const names = async () =>
    (
      await hub.pool.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'raw.readings'::regclass ORDER BY 1`,
      )
    ).rows.map((r) => r.name);
  const day = (ms: number) => `readings_${new Date(ms).toISOString().slice(0, 10).replaceAll("-", "")}`;
  const parts = await names();
  for (const d of [today, today + DAY, today + 2 * DAY]) t.ok(parts.includes(day(d)), `${day(d)} exists ahead`);
  // Retention is the database owner's work: the hub's own role may not detach or drop.
  await t.rejects(
    new ReadingStore(hub.pool).applyRetention(30, "detach"),
    { code: "42501" },
    "refused to the hub's role",
  );
  const owner = openPool({ connectionString: db.url, max: 1 }, log);
  t.teardown(() => owner.end());
  const store = new ReadingStore(owner);
  const detached = await store.applyRetention(30, "detach");
  t.same(detached, ["readings_19700102"]);
  t.notOk((await names()).includes("readings_19700102"), "no longer a partition");
  const kept = await hub.pool.query("SELECT count(*)::int AS n FROM raw.readings_19700102");
  t.same(kept.rows, [{ n: 2 }], "a detached partition keeps its rows for archiving");
  const dropped = await store.applyRetention(0, "drop", today + 2 * DAY);
  t.ok(dropped.includes(day(today - DAY)) && dropped.includes(day(today)), "days before the limit dropped");
  t.equal((await hub.pool.query("SELECT to_regclass($1) AS r", [`raw.${day(today)}`])).rows[0].r, null);
});

t.test("hub records clock offsets and flags skewed edges", async (t) => {
  const hello = (edgeId: string, edgeTimeMs: number) =>
    new Promise<void>((resolve, reject) =>
      client.hello(
        { edgeId, agentVersion: "t", edgeTimeMs, clockSynced: false, nextSeq: 1, configVersion: 0 },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  await hello("clock-ok", Date.now());
  await hello("clock-off", Date.now() - 3_600_000);
  const edges = (await (await fetch(`${hub.httpUrl}/api/v1/edges`, { headers: auth })).json()) as Record<
    string,
    unknown
  >[];
  t.match(
    edges.find((e) => e.edgeId === "clock-ok"),
    { clockSkewed: false, clockSynced: false },
  );
  const off = edges.find((e) => e.edgeId === "clock-off") as { clockSkewed: boolean; clockOffsetMs: number };
  t.equal(off.clockSkewed, true);
  t.ok(off.clockOffsetMs >= 3_600_000 && off.clockOffsetMs < 3_660_000);
  t.match(await (await fetch(`${hub.httpUrl}/metrics`)).text(), "hub_edges_clock_skewed 1");
});

t.test("an oversized batch is refused without affecting another edge's stream", async (t) => {
  const upload = (edgeId: string, seqs: number[]) =>
    new Promise<UploadResponse[]>((resolve, reject) => {
      const metadata = new Metadata();
      metadata.set("edge-id", edgeId);
      const call = client.upload(metadata);
      const acks: UploadResponse[] = [];
      call.on("data", (ack: UploadResponse) => {
        acks.push(ack);
        call.end();
      });
      call.on("error", reject);
      call.on("end", () => resolve(acks));
      call.write({ batch: encodeReadingBatch(1, readings(seqs)) });
    });
  const [big, small] = await Promise.allSettled([
    upload("big", range(1, MAX_BATCH_READINGS + 1)),
    upload("small", range(1, 100)),
  ]);
  t.equal(big.status, "rejected");
  t.match((big as PromiseRejectedResult).reason, { code: status.INVALID_ARGUMENT, details: /HUB_ERR_BATCH_INVALID/ });
  t.match(small, { status: "fulfilled", value: [{ firstSeq: 1, lastSeq: 100, inserted: 100 }] });
  t.same(await storedSeqs("big"), []);
});

t.test("migration 2 carries version-1 readings over", async (t) => {
  const pool = openPool({ connectionString: db.url.replace(/\/[^/]*$/, "/postgres") }, log);
  t.teardown(() => pool.end());
  await pool.query("CREATE DATABASE migrate_v1");
  const v1 = openPool({ connectionString: db.url.replace(/\/[^/]*$/, "/migrate_v1") }, log);
  t.teardown(() => v1.end());
  const all = readMigrations();
  await migrate(v1, log, { migrations: all, to: 1 });
  await v1.query("INSERT INTO raw.edges (edge_id, committed_seq) VALUES ('old', 3)");
  await v1.query(
    `INSERT INTO raw.readings (edge_id, seq, device_id, point, ts, value, quality, clock_synced)
     VALUES ('old', 1, 'inv', 'active_power', '2026-01-01T00:00:00Z', 1, 1, true),
            ('old', 2, 'inv', 'active_power', '2026-01-02T00:00:00Z', 2, 1, true),
            ('old', 3, 'meter', 'active_power', '2026-01-02T00:00:01Z', 3, 1, false)`,
  );
  await migrate(v1, log, { migrations: all });
  const { rows } = await v1.query(
    `SELECT seq::int, device_id, r.tableoid::regclass::text AS part FROM raw.readings r JOIN raw.series USING (series_id)
     ORDER BY seq`,
  );
  t.same(rows, [
    { seq: 1, device_id: "inv", part: "raw.readings_20260101" },
    { seq: 2, device_id: "inv", part: "raw.readings_20260102" },
    { seq: 3, device_id: "meter", part: "raw.readings_20260102" },
  ]);
  const store = new ReadingStore(v1);
  t.same((await store.hello("old", "t", 0, true)).covered, [{ first: 1, last: 3 }]);
  t.same(await store.storeBatch("old", readings([3, 4])), { inserted: 1, duplicates: 1, committedSeq: 4 });
});

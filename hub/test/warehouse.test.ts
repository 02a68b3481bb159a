/**
 * The warehouse's 15-minute facts on a real PostgreSQL: energy from counters exactly as the rules
 * say (resets, interpolation at boundaries, gaps, duplicates, no extrapolation), checked against
 * an independent model of the rules; readings that commit late are picked up by the next run;
 * re-running and backfilling write nothing; jobs are claimed so two processes never run one at
 * once; a failing job keeps its window and backs off.
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pino from "pino";
import t, { type Test } from "tap";
import { migrate } from "../src/db/migrate.js";
import { openPool } from "../src/db/pool.js";
import { WAREHOUSE_JOBS, type WarehouseJob } from "../src/warehouse/jobs.js";
import { naturePoints } from "../src/warehouse/points.js";
import { backfillWarehouse, runWarehouse, warehouseStatus } from "../src/warehouse/runner.js";
import { startTestPostgres } from "./fixtures/postgres.js";

const log = pino({ level: process.env.LOG_LEVEL ?? "silent" });
const dataDir = mkdtempSync(join(tmpdir(), "hub-warehouse-"));
chmodSync(dataDir, 0o755);
const db = await startTestPostgres(join(dataDir, "db"), log);
t.teardown(() => db.stop());
const owner = openPool({ connectionString: db.url, max: 4 }, log);
t.teardown(() => owner.end());
await migrate(owner, log);
// the loader's own connections (a pass runs two jobs at once), so their statistics can be flushed
// before they are read
const loader = openPool({ connectionString: db.url, max: 2 }, log);
t.teardown(() => loader.end());

const T0 = Date.parse("2026-11-02T10:00:00Z");
const MIN = 60_000;
const Q = 15 * MIN;
await owner.query("INSERT INTO raw.edges (edge_id) VALUES ('e1')");
const seriesId = async (device: string, point: string): Promise<number> =>
  (
    await owner.query("INSERT INTO raw.series (edge_id, device_id, point) VALUES ('e1', $1, $2) RETURNING series_id", [
      device,
      point,
    ])
  ).rows[0].series_id;
let seq = 0;
/** Stores readings in one transaction (as one ingest batch would). */
async function store(series: number, samples: Array<{ ts: number; v: number | null; quality?: number; seq?: number }>) {
  await owner.query(
    `INSERT INTO raw.readings (series_id, seq, ts, value, quality, clock_synced)
     SELECT $1, x.seq, to_timestamp(x.ts / 1000.0), x.v, x.quality, true
     FROM jsonb_to_recordset($2::jsonb) AS x(seq bigint, ts bigint, v double precision, quality smallint)`,
    [series, JSON.stringify(samples.map((s) => ({ seq: s.seq ?? ++seq, ts: s.ts, v: s.v, quality: s.quality ?? 1 })))],
  );
}

type Quarter = { energy: number; estimated: boolean; resets: number };

/** The rules, written once more without SQL: what each quarter must hold. */
function model(raw: Array<{ ts: number; v: number }>): Map<number, Quarter> {
  const s = [...raw].sort((a, b) => a.ts - b.ts);
  const c: number[] = [s[0]?.v ?? 0];
  const reset: boolean[] = [false];
  for (let i = 1; i < s.length; i++) {
    const [prev, cur] = [s[i - 1] as { v: number }, s[i] as { v: number }];
    reset.push(cur.v < prev.v);
    c.push((c[i - 1] as number) + (cur.v >= prev.v ? cur.v - prev.v : cur.v));
  }
  const gap = (i: number) =>
    i >= 1 && i < s.length ? (s[i] as { ts: number }).ts - (s[i - 1] as { ts: number }).ts : undefined;
  const usual = (i: number) => {
    const around = [gap(i - 1), gap(i - 2), gap(i - 3), gap(i + 1), gap(i + 2), gap(i + 3)]
      .filter((g): g is number => g !== undefined)
      .sort((a, b) => a - b);
    if (!around.length) return undefined;
    const mid = (around.length - 1) / 2;
    return ((around[Math.floor(mid)] as number) + (around[Math.ceil(mid)] as number)) / 2;
  };
  const at = (b: number): { value: number; estimated: boolean } => {
    const i = s.findIndex((x) => x.ts >= b);
    const n = s[i] as { ts: number };
    if (n.ts === b) return { value: c[i] as number, estimated: false };
    const p = s[i - 1] as { ts: number };
    const u = usual(i);
    return {
      value: (c[i - 1] as number) + (((c[i] as number) - (c[i - 1] as number)) * (b - p.ts)) / (n.ts - p.ts),
      estimated: u !== undefined && n.ts - p.ts > 2 * u,
    };
  };
  const first = (s[0] as { ts: number }).ts;
  const last = (s.at(-1) as { ts: number }).ts;
  const out = new Map<number, Quarter>();
  for (let q = Math.floor(first / Q) * Q; q + Q <= last; q += Q) {
    if (q + Q <= first) continue;
    const start = q < first ? { value: c[0] as number, estimated: false } : at(q);
    const end = at(q + Q);
    const resets = s.filter((x, i) => reset[i] && x.ts >= q && x.ts < q + Q).length;
    out.set(q, { energy: end.value - start.value, estimated: start.estimated || end.estimated, resets });
  }
  return out;
}

async function facts(series: number): Promise<Map<number, Quarter>> {
  const { rows } = await owner.query(
    "SELECT interval_start, energy_wh, estimated, resets FROM curated.fact_energy_15min WHERE series_id = $1 ORDER BY 1",
    [series],
  );
  return new Map(
    rows.map((r) => [r.interval_start.getTime(), { energy: r.energy_wh, estimated: r.estimated, resets: r.resets }]),
  );
}

function sameQuarters(t: Test, got: Map<number, Quarter>, want: Map<number, Quarter>, what: string) {
  t.same(
    [...got.keys()].map((k) => new Date(k).toISOString()),
    [...want.keys()].map((k) => new Date(k).toISOString()),
    `${what}: the quarters`,
  );
  for (const [q, w] of want) {
    const g = got.get(q);
    const label = `${what}: ${new Date(q).toISOString()}`;
    t.ok(g && Math.abs(g.energy - w.energy) < 1e-6, `${label} energy ${g?.energy} = ${w.energy}`);
    t.same(g && { estimated: g.estimated, resets: g.resets }, { estimated: w.estimated, resets: w.resets }, label);
  }
}

/** Inserts, updates and deletes of the curated tables so far (flushed from the loader's backend). */
async function curatedWrites(): Promise<number> {
  const clients = await Promise.all([loader.connect(), loader.connect()]);
  for (const c of clients) {
    await c.query("SELECT pg_stat_force_next_flush()");
    c.release();
  }
  const { rows } = await owner.query(
    "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::int AS n FROM pg_stat_user_tables WHERE schemaname = 'curated'",
  );
  return rows[0].n;
}

const run = () => runWarehouse(loader, { log });

t.test("the natures' points: counters, power, gauges, one unit each", async (t) => {
  const points = new Map(naturePoints().map((p) => [p.point, p]));
  t.match(points.get("energy_exported"), { unit: "Wh", kind: "counter" });
  t.match(points.get("energy_charged"), { unit: "Wh", kind: "counter" });
  t.match(points.get("energy_capacity"), { unit: "Wh", kind: "gauge" }, "a level, not a counter");
  t.match(points.get("active_power"), { unit: "W", kind: "power" });
  t.match(points.get("soc"), { unit: "%", kind: "gauge" });
});

t.test("energy per quarter: a reset, a gap, a duplicate, late readings, exactly as the rules say", async (t) => {
  const counter = await seriesId("inv1", "energy_exported");
  // every minute from 10:00 to 11:30; the counter resets at 10:20 (to 5 Wh), nothing 10:41–10:49,
  // and 10:55–11:05 arrives days later
  const all: Array<{ ts: number; v: number }> = [];
  let v = 1_000;
  for (let m = 0; m <= 90; m++) {
    if (m > 40 && m < 50) continue;
    v = m === 20 ? 5 : v + 10 + ((m * m) % 7);
    all.push({ ts: T0 + m * MIN, v });
  }
  const late = all.filter((s) => s.ts >= T0 + 55 * MIN && s.ts <= T0 + 65 * MIN);
  const first = all.filter((s) => !late.includes(s));
  await store(counter, first);
  // a duplicate of 10:30 with a higher seq and another value loses; one with bad quality is not used
  await store(counter, [{ ts: T0 + 30 * MIN, v: 999_999, seq: 10_000 }]);
  await store(counter, [{ ts: T0 + 31 * MIN + 30_000, v: 1, quality: 4 }]);

  const firstRun = await run();
  t.match(firstRun, [
    { job: "fact_energy_15min", status: "succeeded" },
    { job: "fact_power_15min", status: "succeeded" },
  ]);
  const before = model(first);
  sameQuarters(t, await facts(counter), before, "before the late readings");
  t.match(before.get(T0 + 15 * MIN), { resets: 1 }, "the reset counts in the quarter of the sample showing it");
  t.match(before.get(T0 + 45 * MIN), { estimated: true }, "the boundary at 10:45 lies in the 9-minute gap");
  t.match(before.get(T0 + 45 * MIN + Q), { estimated: true }, "… and so does 11:00, in the late readings' gap");

  await store(counter, late);
  const after = model(all);
  const differing = [...after].filter(([q, w]) => JSON.stringify(before.get(q)) !== JSON.stringify(w)).length;
  t.match(
    await run(),
    [{ status: "succeeded", rowsWritten: differing }, { status: "succeeded" }],
    `only the ${differing} quarters that changed`,
  );
  sameQuarters(t, await facts(counter), after, "after the late readings");
  t.notOk(after.get(T0 + 60 * MIN)?.estimated, "11:00 is no longer estimated");
  const total = [...(await facts(counter)).values()].reduce((sum, q) => sum + q.energy, 0);
  const corrected = all.reduce((sum, s, i) => {
    const p = all[i - 1];
    return p ? sum + (s.v >= p.v ? s.v - p.v : s.v) : sum;
  }, 0);
  t.ok(Math.abs(total - corrected) < 1e-6, `the quarters add up to the corrected span (${total} = ${corrected})`);
  t.equal((await facts(counter)).has(T0 + 90 * MIN), false, "the quarter from 11:30 has no sample at its end yet");

  const writes = await curatedWrites();
  t.match(await run(), [
    { status: "skipped", reason: "up to date" },
    { status: "skipped", reason: "up to date" },
  ]);
  // the samples read either way (by each series' index or in one pass over the partitions) give
  // the same rows, bit for bit
  for (const plan of ["seek", "scan"] as const) {
    const backfill = await backfillWarehouse(
      loader,
      { from: new Date(T0 - Q), to: new Date(T0 + 2 * 60 * MIN) },
      { log, plan },
    );
    t.match(backfill, [
      { status: "succeeded", rowsWritten: 0 },
      { status: "succeeded", rowsWritten: 0 },
    ]);
  }
  t.equal(await curatedWrites(), writes, "re-running and a backfill over the loaded range write nothing");
});

t.test("the first quarter starts at the first sample; no rows before it", async (t) => {
  const counter = await seriesId("meter", "energy_imported");
  await store(counter, [
    { ts: T0 + 7 * MIN, v: 100 },
    { ts: T0 + 15 * MIN, v: 180 },
    { ts: T0 + 30 * MIN, v: 330 },
  ]);
  await run();
  sameQuarters(
    t,
    await facts(counter),
    new Map([
      [T0, { energy: 80, estimated: false, resets: 0 }],
      [T0 + Q, { energy: 150, estimated: false, resets: 0 }],
    ]),
    "three samples",
  );
});

t.test("power per quarter: avg, min, max and samples of the usable readings", async (t) => {
  const power = await seriesId("inv1", "active_power");
  await store(power, [
    { ts: T0, v: 1000 },
    { ts: T0 + 5 * MIN, v: 2000 },
    { ts: T0 + 10 * MIN, v: 3000, quality: 3 },
    { ts: T0 + 14 * MIN, v: 3000 },
    { ts: T0 + 15 * MIN, v: 500 },
  ]);
  await run();
  const { rows } = await owner.query(
    "SELECT interval_start, avg_w, min_w, max_w, samples FROM curated.fact_power_15min WHERE series_id = $1 ORDER BY 1",
    [power],
  );
  t.same(
    rows.map((r) => [r.interval_start.toISOString(), r.avg_w, r.min_w, r.max_w, r.samples]),
    [
      ["2026-11-02T10:00:00.000Z", 2000, 1000, 3000, 3],
      ["2026-11-02T10:15:00.000Z", 500, 500, 500, 1],
    ],
  );
});

t.test("two loaders at once: each job runs in one of them, the other skips it as busy", async (t) => {
  const counter = await seriesId("inv2", "energy_exported");
  await store(
    counter,
    Array.from({ length: 61 }, (_, m) => ({ ts: T0 + m * MIN, v: 10 * m })),
  );
  const other = openPool({ connectionString: db.url, max: 1 }, log);
  t.teardown(() => other.end());
  // the first holds the energy job's row while the second tries it
  const hold = await other.connect();
  await hold.query("BEGIN; SELECT 1 FROM ops.warehouse_jobs WHERE job = 'fact_energy_15min' FOR UPDATE");
  const busy = await run();
  t.match(busy[0], { job: "fact_energy_15min", status: "skipped", reason: "busy" });
  await hold.query("ROLLBACK");
  hold.release();
  const [a, b] = await Promise.all([run(), runWarehouse(other, { log })]);
  const ran = [...a, ...b].filter((r) => r.job === "fact_energy_15min" && r.status === "succeeded");
  t.equal(ran.length, 1, "one of them loaded the window");
  t.equal((await facts(counter)).size, 4);
});

t.test("a failing job keeps its window, records the error and backs off", async (t) => {
  const broken: WarehouseJob = {
    ...(WAREHOUSE_JOBS[0] as WarehouseJob),
    name: "broken_job",
    sql: () => "SELECT $1::int[], $2::text[], $3::text[], 1 / 0",
  };
  const counter = await seriesId("inv3", "energy_exported");
  await store(counter, [{ ts: T0, v: 1 }]);
  const [result] = await runWarehouse(loader, { log, jobs: [broken] });
  t.match(result, { job: "broken_job", status: "failed", error: /division by zero/ });
  t.match(await runWarehouse(loader, { log, jobs: [broken] }), [{ status: "skipped", reason: "backoff" }]);
  const status = (await warehouseStatus(owner)).find((s) => s.job === "broken_job");
  t.match(status, { watermark: "0", failures: 1, last_status: "failed", last_error: { message: /division by zero/ } });
  t.ok(status.next_attempt_at.getTime() > Date.now() + 20_000, "tried again in about 30 s");
});

t.test("npm run hub -- warehouse run|backfill|status", async (t) => {
  const cli = (...args: string[]) =>
    promisify(execFile)(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "../src/main.ts"), "warehouse", ...args],
      {
        env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: "warn" },
        timeout: 60_000,
      },
    );
  const counter = await seriesId("inv4", "energy_exported");
  await store(counter, [
    { ts: T0, v: 0 },
    { ts: T0 + Q, v: 250 },
  ]);
  const ran = JSON.parse((await cli("run")).stdout);
  t.match(
    ran.find((r: { job: string }) => r.job === "fact_energy_15min"),
    { status: "succeeded", rowsWritten: 1 },
  );
  const status = JSON.parse((await cli("status")).stdout);
  t.ok(status.some((s: { job: string; failures: number }) => s.job === "fact_energy_15min" && s.failures === 0));
  const backfill = JSON.parse((await cli("backfill", "--from", "2026-11-02", "--to", "2026-11-03")).stdout);
  t.ok(
    backfill.every((r: { status: string; rowsWritten: number }) => r.status === "succeeded" && r.rowsWritten === 0),
    "nothing differs",
  );
  const bad = await cli("backfill", "--from", "gestern").catch((err) => err);
  t.equal(bad.code, 2, "bad arguments exit 2");
  t.match(bad.stderr, /--from needs a date/);
});

/**
 * `npm run bench -- warehouse`: the warehouse's loader on BENCH_SERIES × BENCH_SAMPLES raw
 * readings (default 1,000 × 10,000 = 10 million, one sample every 8.64 s: one day), on embedded
 * PostgreSQL (the hub's settings) in a temporary directory, next to baselines measured in the
 * same run:
 * - First load: `runWarehouse` (every job, as the hub runs it: two jobs at once on two
 *   connections) against one hand-written `INSERT INTO <a copy of curated.fact_power_15min with
 *   its keys> SELECT series_id, date_bin(15 min), avg, min, max, count … FROM raw.readings JOIN
 *   raw.series … GROUP BY 1, 2`: the same power aggregation the `fact_power_15min` job does, over
 *   the same usable readings (it skips only the job's de-duplication of several readings at one
 *   instant; the data has none). The baseline runs twice, before and after the loader, into a
 *   freshly truncated table; the ratios are taken against the faster of the two. A third run of it
 *   de-duplicates as the rules say (`DISTINCT ON … ORDER BY seq` of the power series' readings):
 *   the power job's work, hand-written.
 * - The power job alone: the job list filtered to `fact_power_15min`, run before the full load;
 *   then its output is truncated and its watermark set back to 0 (a fresh watermark: the full run
 *   does the same work as a first load, on the same database and cache). With each job's time
 *   from the full run this shows where the time goes (energy, power, serving).
 * - Incremental: one more hour for every series (≈ 417 samples each) in one transaction, then the
 *   next `runWarehouse`.
 * - Freshness, measured: the loader runs on a one-minute schedule (a pass at most at a time, with
 *   the hub's quality and lineage hooks, as hub.ts schedules it) for BENCH_FRESHNESS_MINUTES
 *   (default 5) while a writer stores a small batch every 2.5–7.5 s (5 s on average, at random):
 *   one site's next sample of each of its series, on the next quarter-hour boundary after its
 *   last one, with the counters risen.
 *   For each batch a poller (every 200 ms, two primary-key lookups) records the time from the
 *   batch's commit until (a) the curated power fact has the batch's quarter and (b)
 *   `serving.site_daily` shows the site's production of that day changed.
 * Half the series are energy counters (`energy_exported`: the day's solar yield, a reset in every
 * 25th, a gap of 60 samples in every 10th), half power (`active_power`, 0.1 % of the samples of
 * bad quality, a gap of 100 samples in every 10th), over BENCH_EDGES (default 50) edges, each one
 * site of one customer in the ERP with its devices linked (a meter and inverters), so the serving
 * views join something. Readings are loaded edge by edge, in time order within an edge, one
 * transaction per edge (as an edge's backlog would arrive); loading is not measured. Without
 * `BENCH_SERIES`/`BENCH_SAMPLES` it takes several minutes (most of it loading).
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import pino from "pino";
import { startEmbeddedPostgres } from "../hub/src/db/embedded-postgres.js";
import { migrate } from "../hub/src/db/migrate.js";
import { openPool } from "../hub/src/db/pool.js";
import { WAREHOUSE_JOBS } from "../hub/src/warehouse/jobs.js";
import { lineageHook } from "../hub/src/warehouse/lineage.js";
import { syncPoints } from "../hub/src/warehouse/points.js";
import { qualityHook } from "../hub/src/warehouse/quality.js";
import { type JobRun, runWarehouse } from "../hub/src/warehouse/runner.js";

const SERIES = Number(process.env.BENCH_SERIES ?? 1000);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 10_000);
const EDGES = Math.max(1, Math.min(Number(process.env.BENCH_EDGES ?? 50), Math.floor(SERIES / 2)));
const FRESHNESS_MINUTES = Number(process.env.BENCH_FRESHNESS_MINUTES ?? 5);
const SPACING_S = 8.64;
const DAY0 = "2026-06-01T00:00:00Z";
/** One more hour: 3,600 s / 8.64 s. */
const HOUR_SAMPLES = Math.ceil(3600 / SPACING_S);
const SCHEDULE_MS = 60_000;
const WRITE_EVERY_MS = 5_000;
const POLL_MS = 200;

/** What one job did in a pass: its time and rows written. */
export interface JobFigure {
  job: string;
  status: string;
  ms: number;
  rowsWritten: number;
}

/** What the warehouse benchmark measured (times in ms). */
export interface WarehouseBenchResult {
  series: number;
  samples: number;
  edges: number;
  readings: number;
  loadSeconds: number;
  /** The hand-written INSERT … SELECT … GROUP BY, before and after the loader. */
  baselineMs: [number, number];
  baselineRows: number;
  /**
   * The same aggregation with the de-duplication the rules ask for (`DISTINCT ON (series_id, ts)
   * … ORDER BY seq` of the power series' readings first): what the power job does, hand-written.
   */
  dedupBaselineMs: number;
  /** The `fact_power_15min` job alone, first load. */
  powerAlone: JobFigure;
  /** `runWarehouse`, every job, first load: wall time and each job. */
  firstLoadMs: number;
  firstLoad: JobFigure[];
  /** Rows of the power fact that differ from the baseline's (should be 0). */
  powerMismatches: number;
  incremental: { readings: number; ms: number; rowsWritten: number; jobs: JobFigure[] };
  freshness: {
    minutes: number;
    batches: number;
    readingsPerBatch: number;
    /** Seconds from a batch's commit to its quarter in curated.fact_power_15min. */
    curated: Percentiles;
    /** Seconds from a batch's commit to serving.site_daily showing it. */
    serving: Percentiles;
    passes: number;
    passMs: Percentiles;
  };
}

export interface Percentiles {
  n: number;
  /** Batches not seen within the wait after the writer stopped. */
  missing: number;
  p50: number;
  p95: number;
  max: number;
}

const log = pino({ level: "silent" });
const progress = (text: string) => process.stderr.write(`bench warehouse: ${text}\n`);

function percentiles(values: number[], missing = 0): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? NaN;
  return { n: values.length, missing, p50: at(0.5), p95: at(0.95), max: sorted.at(-1) ?? NaN };
}

const figures = (runs: JobRun[]): JobFigure[] =>
  runs.map((r) => ({ job: r.job, status: r.reason ?? r.status, ms: r.ms ?? 0, rowsWritten: r.rowsWritten ?? 0 }));

function assertSucceeded(runs: JobRun[], what: string): void {
  const failed = runs.filter((r) => r.status === "failed");
  if (failed.length) throw new Error(`${what}: ${failed.map((r) => `${r.job}: ${r.error}`).join("; ")}`);
}

/** Edges, series, and the ERP's customers, sites and devices linked to them; returns the series per edge. */
export async function setUp(owner: pg.Pool): Promise<void> {
  const perEdge = Math.ceil(SERIES / EDGES);
  await owner.query(
    `INSERT INTO raw.edges (edge_id) SELECT 'bench-' || lpad(e::text, 3, '0') FROM generate_series(1, $1) e`,
    [EDGES],
  );
  // series k (0-based) of an edge: device k / 2, energy_exported for even k, active_power for odd;
  // device 0 is the site's meter when the edge has more than one device
  await owner.query(
    `INSERT INTO raw.series (edge_id, device_id, point)
     SELECT 'bench-' || lpad((1 + n % $2)::text, 3, '0'),
       CASE WHEN k / 2 = 0 AND $3 > 2 THEN 'meter1' ELSE 'inv' || (k / 2) END,
       CASE WHEN k % 2 = 0 THEN 'energy_exported' ELSE 'active_power' END
     FROM generate_series(0, $1 - 1) n, LATERAL (SELECT n / $2 AS k) x
     ORDER BY n % $2, k`,
    [SERIES, EDGES, perEdge],
  );
  await owner.query(
    `INSERT INTO erp.customers (name, kind, city)
     SELECT 'Bench Kunde ' || e, CASE WHEN e % 3 = 0 THEN 'private' ELSE 'business' END, 'Kassel'
     FROM generate_series(1, $1) e`,
    [EDGES],
  );
  await owner.query(
    `INSERT INTO erp.sites (customer_id, name, city, kwp, commissioning_date)
     SELECT c.id, 'Anlage ' || substring(c.name FROM '[0-9]+$'), 'Kassel', 5 + (substring(c.name FROM '[0-9]+$')::int % 20),
       DATE '2024-04-01'
     FROM erp.customers c WHERE c.name LIKE 'Bench Kunde %'`,
  );
  await owner.query(
    `INSERT INTO erp.devices (site_id, kind, manufacturer, serial_number, edge_id, device_id)
     SELECT st.id, CASE WHEN d.device_id LIKE 'meter%' THEN 'meter' ELSE 'inverter' END, 'Bench',
       'BENCH-' || d.edge_id || '-' || d.device_id, d.edge_id, d.device_id
     FROM (SELECT DISTINCT edge_id, device_id FROM raw.series) d
     JOIN erp.sites st ON st.name = 'Anlage ' || ltrim(substring(d.edge_id FROM '[0-9]+$'), '0')`,
  );
}

/**
 * Inserts samples `from ≤ i < to` of the given edges' series (every series when `edge` is null),
 * in time order; each series' value by its point: counters the day's integral of a sine from 03:00
 * to 19:00 UTC (whole Wh, a reset to 0 at sample 5,000 in every 25th), power the sine with ±10 %
 * noise; gaps and bad quality as the header says.
 */
async function insertSamples(db: pg.Pool | pg.PoolClient, edge: string | null, from: number, to: number) {
  const { rowCount } = await db.query(
    `WITH s AS (
       SELECT r.series_id, r.point, row_number() OVER (PARTITION BY r.edge_id ORDER BY r.series_id) AS j,
         count(*) OVER (PARTITION BY r.edge_id) AS per_edge,
         -- the device's rated power: the site's kWp over its inverters (a meter sees 40 % of it)
         (5 + ltrim(substring(r.edge_id FROM '[0-9]+$'), '0')::int % 20) * 1000.0 / greatest(1, e.inverters)
           * CASE WHEN r.device_id LIKE 'meter%' THEN 0.4 ELSE 1 END AS p
       FROM raw.series r
       JOIN (SELECT edge_id, count(DISTINCT device_id) FILTER (WHERE device_id LIKE 'inv%') AS inverters
             FROM raw.series GROUP BY edge_id) e ON e.edge_id = r.edge_id
       WHERE r.edge_id LIKE 'bench-%' AND ($1::text IS NULL OR r.edge_id = $1)
     ),
     t AS (
       SELECT i, TIMESTAMPTZ '${DAY0}' + make_interval(secs => i * ${SPACING_S}) AS ts,
         floor(i * ${SPACING_S} / 86400) AS days, mod((i * ${SPACING_S})::numeric, 86400)::float8 / 3600 AS h
       FROM generate_series($2::int, $3::int - 1) i
     )
     INSERT INTO raw.readings (series_id, seq, ts, value, quality, clock_synced)
     SELECT s.series_id, t.i * s.per_edge + s.j, t.ts,
       CASE WHEN s.point = 'active_power'
         THEN round((s.p * greatest(0, sin(pi() * (t.h - 3) / 16)) * (0.9 + 0.2 * random()))::numeric, 1)::float8
         ELSE round(s.p * (t.days * 32 / pi() + 16 / pi() * (1 - cos(pi() * (least(greatest(t.h, 3), 19) - 3) / 16)))
           - CASE WHEN s.series_id % 25 = 0 AND t.i >= 5000
               THEN s.p * 16 / pi() * (1 - cos(pi() * (least(greatest(5000 * ${SPACING_S} / 3600, 3), 19) - 3) / 16))
               ELSE 0 END
           + CASE WHEN s.series_id % 25 = 0 AND t.i >= 5000 THEN 0 ELSE 1000000 + s.series_id * 1000 END)
       END,
       CASE WHEN s.point = 'active_power' AND random() < 0.001 THEN 3 ELSE 1 END, true
     FROM t CROSS JOIN s
     WHERE NOT (s.point = 'energy_exported' AND s.series_id % 10 = 3 AND t.i >= 3000 AND t.i < 3060)
       AND NOT (s.point = 'active_power' AND s.series_id % 10 = 4 AND t.i >= 6000 AND t.i < 6100)
     ORDER BY t.i, s.j`,
    [edge, from, to],
  );
  return rowCount ?? 0;
}

/** Creates the day partitions from DAY0 to `seconds` after it. */
async function ensurePartitions(owner: pg.Pool, seconds: number) {
  await owner.query(
    `SELECT raw.ensure_readings_partition(d::date)
     FROM generate_series(TIMESTAMPTZ '${DAY0}', TIMESTAMPTZ '${DAY0}' + make_interval(secs => $1), interval '1 day') d`,
    [seconds],
  );
}

export async function load(owner: pg.Pool): Promise<number> {
  await ensurePartitions(owner, SAMPLES * SPACING_S);
  const edges = (await owner.query("SELECT edge_id FROM raw.edges WHERE edge_id LIKE 'bench-%' ORDER BY 1")).rows.map(
    (r) => r.edge_id as string,
  );
  let next = 0;
  let readings = 0;
  // two connections: the machine has two cores (and others use them)
  await Promise.all(
    [0, 1].map(async () => {
      while (next < edges.length) {
        const edge = edges[next++] as string;
        const stored = await insertSamples(owner, edge, 0, SAMPLES);
        readings += stored;
      }
    }),
  );
  return readings;
}

/** The baseline's table: shaped like curated.fact_power_15min, with its primary key and index. */
const BASELINE_TABLE = "curated.bench_power_15min";

/**
 * The hand-written power aggregation into a truncated baseline table; ms and rows. `dedup`: of the
 * power series' readings, one per series and instant first (the lowest seq), as the rules say.
 */
async function baseline(owner: pg.Pool, dedup = false): Promise<{ ms: number; rows: number }> {
  await owner.query(`TRUNCATE ${BASELINE_TABLE}`);
  const power =
    "JOIN raw.series s ON s.series_id = r.series_id JOIN staging.points p ON p.point = s.point AND p.kind = 'power'";
  const readings = dedup
    ? `(SELECT DISTINCT ON (r.series_id, r.ts) r.* FROM raw.readings r ${power} ORDER BY r.series_id, r.ts, r.seq) r
       JOIN raw.series s ON s.series_id = r.series_id`
    : `raw.readings r ${power}`;
  const started = performance.now();
  const { rowCount } = await owner.query(
    `INSERT INTO ${BASELINE_TABLE} (series_id, edge_id, device_id, point, interval_start, avg_w, min_w, max_w, samples)
     SELECT s.series_id, s.edge_id, s.device_id, s.point, date_bin('15 minutes', r.ts, TIMESTAMPTZ '2000-01-01'),
       avg(r.value), min(r.value), max(r.value), count(*)
     FROM ${readings}
     WHERE r.quality = 1 AND r.value IS NOT NULL
     GROUP BY s.series_id, 5`,
  );
  return { ms: performance.now() - started, rows: rowCount ?? 0 };
}

async function timed(pool: pg.Pool, jobs = WAREHOUSE_JOBS): Promise<{ ms: number; runs: JobRun[] }> {
  const started = performance.now();
  const runs = await runWarehouse(pool, { log, jobs });
  return { ms: performance.now() - started, runs };
}

interface Batch {
  committedAt: number;
  siteId: string;
  day: string;
  before: string | null;
  powerSeries: number;
  quarter: string;
  curatedS?: number;
  servingS?: number;
}

/** The loader on a one-minute schedule while a writer stores a batch every 5 s on average; see the header. */
async function freshness(owner: pg.Pool, url: string): Promise<WarehouseBenchResult["freshness"]> {
  const loader = openPool({ connectionString: url, max: 2 }, log);
  const writer = openPool({ connectionString: url, max: 1 }, log);
  const hooks = { lineage: lineageHook({ databaseUrl: url }), afterLoad: qualityHook({ log }) };
  // per site: its edge, the next boundary to write and its counters' last values
  const { rows: sites } = await owner.query(
    `SELECT st.id AS site_id, s.edge_id,
       date_bin('15 minutes', max(last.ts), TIMESTAMPTZ '2000-01-01') + interval '30 minutes' AS next,
       min(s.series_id) FILTER (WHERE s.point = 'active_power' AND s.device_id LIKE 'inv%') AS power_series,
       jsonb_agg(jsonb_build_object('id', s.series_id, 'point', s.point, 'v', last.value)) AS series
     FROM raw.series s
     JOIN erp.devices d ON d.edge_id = s.edge_id AND d.device_id = s.device_id
     JOIN erp.sites st ON st.id = d.site_id
     CROSS JOIN LATERAL (SELECT r.ts, r.value FROM raw.readings r WHERE r.series_id = s.series_id
       ORDER BY r.ts DESC LIMIT 1) last
     GROUP BY st.id, s.edge_id ORDER BY s.edge_id`,
  );
  const state = sites.map((s) => ({
    siteId: s.site_id as string,
    next: new Date(s.next as Date),
    powerSeries: s.power_series as number,
    series: s.series as Array<{ id: number; point: string; v: number }>,
    pending: false,
  }));
  const batchesAtMost = Math.ceil((FRESHNESS_MINUTES * 60_000) / (WRITE_EVERY_MS / 2)) + 1;
  const lastBoundary = Math.max(...state.map((s) => s.next.getTime())) + (batchesAtMost / state.length + 2) * 900_000;
  await ensurePartitions(owner, (lastBoundary - Date.parse(DAY0)) / 1000);

  const passMs: number[] = [];
  let loading: Promise<unknown> | undefined;
  const schedule = setInterval(() => {
    loading ??= (async () => {
      const started = performance.now();
      assertSucceeded(await runWarehouse(loader, { log, hooks }), "scheduled pass");
      passMs.push(performance.now() - started);
    })()
      .catch((err) => progress(`a scheduled pass failed: ${(err as Error).message}`))
      .finally(() => {
        loading = undefined;
      });
  }, SCHEDULE_MS);

  const batches: Batch[] = [];
  let seq = 1_000_000_000;
  const writeOne = async () => {
    const site = state.find((s) => !s.pending);
    if (!site) return;
    state.push(...state.splice(state.indexOf(site), 1)); // round robin
    const at = site.next;
    const { rows } = await writer.query(
      `SELECT ((($1::timestamptz - interval '15 minutes') AT TIME ZONE 'Europe/Berlin')::date)::text AS day,
         (SELECT production_kwh::text FROM serving.site_daily WHERE site_id = $2
            AND day = (($1::timestamptz - interval '15 minutes') AT TIME ZONE 'Europe/Berlin')::date) AS before`,
      [at, site.siteId],
    );
    for (const s of site.series) if (s.point === "energy_exported") s.v += 50;
    await writer.query(
      `INSERT INTO raw.readings (series_id, seq, ts, value, quality, clock_synced)
       SELECT x.id, $3 + x.n, $1, CASE WHEN x.point = 'active_power' THEN 1500 ELSE x.v END, 1, true
       FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (id int, point text, v float8)) WITH ORDINALITY AS x(id, point, v, n)`,
      [at, JSON.stringify(site.series), seq],
    );
    seq += site.series.length;
    batches.push({
      committedAt: performance.now(),
      siteId: site.siteId,
      day: rows[0].day,
      before: rows[0].before,
      powerSeries: site.powerSeries,
      quarter: at.toISOString(),
    });
    site.pending = true;
    site.next = new Date(at.getTime() + 900_000);
  };
  const poll = async () => {
    const open = batches.filter((b) => b.curatedS === undefined || b.servingS === undefined);
    if (!open.length) return;
    const { rows } = await owner.query(
      `SELECT b.n,
         EXISTS (SELECT FROM curated.fact_power_15min f WHERE f.series_id = b.series AND f.interval_start = b.quarter) AS curated,
         (SELECT d.production_kwh::text FROM serving.site_daily d WHERE d.site_id = b.site AND d.day = b.day)
           IS DISTINCT FROM b.before AS serving
       FROM unnest($1::int[], $2::int[], $3::timestamptz[], $4::uuid[], $5::date[], $6::text[])
         AS b(n, series, quarter, site, day, before)`,
      [
        open.map((b) => batches.indexOf(b)),
        open.map((b) => b.powerSeries),
        open.map((b) => b.quarter),
        open.map((b) => b.siteId),
        open.map((b) => b.day),
        open.map((b) => b.before),
      ],
    );
    const now = performance.now();
    for (const r of rows) {
      const b = batches[r.n] as Batch;
      if (r.curated && b.curatedS === undefined) b.curatedS = (now - b.committedAt) / 1000;
      if (r.serving && b.servingS === undefined) b.servingS = (now - b.committedAt) / 1000;
      if (b.curatedS !== undefined && b.servingS !== undefined) {
        const site = state.find((s) => s.siteId === b.siteId);
        if (site) site.pending = false;
      }
    }
  };

  const writeUntil = Date.now() + FRESHNESS_MINUTES * 60_000;
  // after the last batch: two more scheduled passes at most
  const waitUntil = writeUntil + 2 * SCHEDULE_MS + 30_000;
  let nextWrite = Date.now();
  try {
    while (Date.now() < waitUntil) {
      if (Date.now() < writeUntil && Date.now() >= nextWrite) {
        // 2.5–7.5 s apart (5 s on average): arrivals fall at every phase of the one-minute
        // schedule, as real ones do, instead of locking to it (5 s divides 60 s)
        nextWrite += WRITE_EVERY_MS * (0.5 + Math.random());
        await writeOne();
      }
      await poll();
      if (Date.now() >= writeUntil && batches.every((b) => b.curatedS !== undefined && b.servingS !== undefined)) break;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    clearInterval(schedule);
    await loading;
    await loader.end();
    await writer.end();
  }
  const seen = (key: "curatedS" | "servingS") => batches.flatMap((b) => (b[key] === undefined ? [] : [b[key]]));
  return {
    minutes: FRESHNESS_MINUTES,
    batches: batches.length,
    readingsPerBatch: state[0]?.series.length ?? 0,
    curated: percentiles(seen("curatedS"), batches.length - seen("curatedS").length),
    serving: percentiles(seen("servingS"), batches.length - seen("servingS").length),
    passes: passMs.length,
    passMs: percentiles(passMs),
  };
}

export async function benchWarehouse(): Promise<WarehouseBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "bench-warehouse-"));
  chmodSync(dir, 0o755);
  const db = await startEmbeddedPostgres(join(dir, "db"), log);
  const owner = openPool({ connectionString: db.url, max: 4 }, log);
  // the loader's own connections, as the hub has them
  const loader = openPool({ connectionString: db.url, max: 2 }, log);
  try {
    await migrate(owner, log);
    await syncPoints(owner);
    await owner.query(`CREATE TABLE ${BASELINE_TABLE} (LIKE curated.fact_power_15min INCLUDING ALL)`);
    await setUp(owner);
    progress(`loading ${SERIES} series × ${SAMPLES} samples over ${EDGES} edges (not measured)…`);
    const loadStarted = performance.now();
    const readings = await load(owner);
    await owner.query("VACUUM (ANALYZE) raw.readings");
    await owner.query("ANALYZE raw.series");
    // read once, so the first measured statement does not pay for the cold cache alone
    await owner.query("SELECT count(*) FROM raw.readings");
    const loadSeconds = (performance.now() - loadStarted) / 1000;
    progress(`${readings} readings loaded in ${loadSeconds.toFixed(0)} s; measuring the first load…`);

    const first = await baseline(owner);
    const powerJob = WAREHOUSE_JOBS.filter((j) => j.name === "fact_power_15min");
    const alone = await timed(loader, powerJob);
    assertSucceeded(alone.runs, "power job alone");
    const [powerAlone] = figures(alone.runs);
    // a fresh watermark for the full run
    await owner.query("TRUNCATE curated.fact_power_15min");
    await owner.query("UPDATE ops.warehouse_jobs SET watermark = 0, changed_at = NULL WHERE job = 'fact_power_15min'");
    await owner.query("VACUUM (ANALYZE) curated.fact_power_15min");
    const full = await timed(loader);
    assertSucceeded(full.runs, "first load");
    const dedup = await baseline(owner, true);
    const second = await baseline(owner);
    const { rows: mismatch } = await owner.query(
      `SELECT count(*)::int AS n FROM curated.fact_power_15min f
       FULL JOIN ${BASELINE_TABLE} b USING (series_id, interval_start)
       WHERE f.series_id IS NULL OR b.series_id IS NULL OR f.samples <> b.samples OR f.min_w <> b.min_w
         OR f.max_w <> b.max_w OR abs(f.avg_w - b.avg_w) > 1e-9 * greatest(1, abs(b.avg_w))`,
    );
    const { rows: served } = await owner.query("SELECT count(*)::int AS n FROM serving.site_daily");
    if (!served[0].n) throw new Error("serving.site_daily is empty after the first load");

    progress("measuring one more hour…");
    await ensurePartitions(owner, (SAMPLES + HOUR_SAMPLES) * SPACING_S);
    const client = await owner.connect();
    let hourReadings = 0;
    try {
      await client.query("BEGIN");
      hourReadings = await insertSamples(client, null, SAMPLES, SAMPLES + HOUR_SAMPLES);
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    const hour = await timed(loader);
    assertSucceeded(hour.runs, "incremental");
    const hourJobs = figures(hour.runs);

    let fresh: WarehouseBenchResult["freshness"] | undefined;
    if (FRESHNESS_MINUTES > 0) {
      progress(`measuring freshness for ${FRESHNESS_MINUTES} min on a one-minute schedule…`);
      fresh = await freshness(owner, db.url);
    }
    return {
      series: SERIES,
      samples: SAMPLES,
      edges: EDGES,
      readings,
      loadSeconds,
      baselineMs: [first.ms, second.ms],
      baselineRows: first.rows,
      dedupBaselineMs: dedup.ms,
      powerAlone: powerAlone as JobFigure,
      firstLoadMs: full.ms,
      firstLoad: figures(full.runs),
      powerMismatches: mismatch[0].n,
      incremental: {
        readings: hourReadings,
        ms: hour.ms,
        rowsWritten: hourJobs.reduce((n, j) => n + j.rowsWritten, 0),
        jobs: hourJobs,
      },
      freshness: fresh ?? {
        minutes: 0,
        batches: 0,
        readingsPerBatch: 0,
        curated: percentiles([]),
        serving: percentiles([]),
        passes: 0,
        passMs: percentiles([]),
      },
    };
  } finally {
    await loader.end();
    await owner.end();
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Store-and-forward benchmarks, all real processes on 127.0.0.1 with embedded PostgreSQL:
 *
 * 1. Backlog drain: the edge (the appliance bundle) starts with `backlog` readings in its buffer
 *    (a long outage of a large site) while polling a simulated inverter; measured: readings/s
 *    until the backlog is delivered, exactly once, next to a raw `pg` COPY (binary) of the same
 *    rows into the same table in the same run; the delay of live readings during the drain
 *    (acquisition to the hub's storing transaction); the edge's peak RSS.
 * 2. Fleet: 100 simulated edges stream to one hub process at once: the hub's peak RSS and the
 *    ack latency percentiles.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { ReadingBuffer } from "@steinmetz/edge";
import { copyBinary, ReadingStore, startEmbeddedPostgres } from "@steinmetz/hub";
import { columnsOf, Quality, type Reading } from "@steinmetz/proto";
import { findFreePort, startSunSpecInverterSim } from "@steinmetz/sim";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import pino from "pino";
import { stringify } from "yaml";
import { APPLIANCE_NODE_FLAGS, buildEdge } from "../edge/tools/build.js";

const REPO = join(import.meta.dirname, "..");
const log = pino({ level: "silent" });

/** A large site: 100 devices x 20 points, one reading per point every 10 s. */
function reading(i: number, endTs: number, total: number): Omit<Reading, "seq"> {
  const series = i % 2000;
  return {
    deviceId: `inv-${String(Math.floor(series / 20)).padStart(3, "0")}`,
    point: `p${series % 20}`,
    ts: endTs - Math.ceil((total - i) / 2000) * 10_000,
    value: (i % 9973) * 0.25,
    quality: Quality.QUALITY_GOOD,
    clockSynced: true,
  };
}

const rssMb = (pid: number) =>
  Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? 0) / 1024;

/** Samples a process's RSS every 200 ms until stopped; returns the peak in MB. */
function rssPeak(pid: number): () => number {
  let peak = 0;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch {}
  }, 200);
  return () => {
    clearInterval(timer);
    return peak;
  };
}

function spawnLogged(args: string[], env: Record<string, string>, readyText: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    if (readyText === "") resolve(child);
    let out = "";
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(readyText)) resolve(child);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}:\n${out.slice(-2000)}`)));
  });
}

const stop = async (child: ChildProcess) => {
  if (child.exitCode !== null) return;
  child.kill("SIGTERM");
  await new Promise((resolve) => child.once("exit", resolve));
};

/** COPY (binary) of `total` readings of edge `edgeId` in 20,000-row transactions; readings/s. */
async function rawCopy(pool: pg.Pool, store: ReadingStore, edgeId: string, total: number, endTs: number) {
  const first = Array.from({ length: 2000 }, (_, i) => ({ ...reading(i, endTs, total), seq: i + 1 }));
  await store.storeBatch(edgeId, first); // series ids and partitions, as the hub has them
  const ids = new Map(
    (
      await pool.query<{ series_id: number; device_id: string; point: string }>(
        "SELECT series_id, device_id, point FROM raw.series WHERE edge_id = $1",
        [edgeId],
      )
    ).rows.map((r) => [`${r.device_id}\u0000${r.point}`, r.series_id]),
  );
  // The COPY data is built before the clock starts: the baseline is PostgreSQL's COPY alone.
  const chunks: Buffer[] = [];
  for (let i = 2000; i < total; i += 20_000) {
    const rows = Array.from({ length: Math.min(20_000, total - i) }, (_, j) => ({
      ...reading(i + j, endTs, total),
      seq: i + j + 1,
    }));
    const cols = columnsOf(rows);
    chunks.push(
      copyBinary(
        cols,
        cols.series.map((k) => ids.get(`${k.deviceId}\u0000${k.point}`) as number),
      ),
    );
  }
  const started = performance.now();
  for (const chunk of chunks) {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await pipeline(
        Readable.from([chunk]),
        client.query(
          copyFrom(
            "COPY raw.readings (series_id, seq, ts, value, quality, clock_synced) FROM STDIN WITH (FORMAT binary)",
          ),
        ),
      );
      await client.query("COMMIT");
    } finally {
      client.release();
    }
  }
  return (total - 2000) / ((performance.now() - started) / 1000);
}

export interface SyncBenchResult {
  backlog: number;
  drainPerSecond: number;
  rawCopyPerSecond: number;
  exactlyOnce: boolean;
  liveDelay: { p50: number; p99: number; max: number; n: number };
  edgePeakRssMb: number;
  fleet: { edges: number; readings: number; perSecond: number; p50: number; p99: number; hubPeakRssMb: number };
}

/** Runs the store-and-forward benchmarks (`BENCH_SYNC_READINGS` sets the backlog, default 10 million). */
export async function benchSync(
  backlog = Number(process.env.BENCH_SYNC_READINGS ?? 10_000_000),
): Promise<SyncBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "bench-sync-"));
  const db = await startEmbeddedPostgres(join(dir, "pg"), log);
  const pool = new pg.Pool({ connectionString: db.url, max: 4 });
  const grpcPort = await findFreePort();
  const sim = await startSunSpecInverterSim({});
  const children: ChildProcess[] = [];
  try {
    const hubArgs = ["--import", "tsx", join(REPO, "hub/src/main.ts"), "--insecure-dev"];
    const hubEnv = { DATABASE_URL: db.url, HUB_DATA_DIR: join(dir, "hub"), HUB_GRPC_PORT: String(grpcPort) };
    let hub = await spawnLogged(hubArgs, { ...hubEnv, HUB_HTTP_PORT: "0" }, '"msg":"hub started"');
    children.push(hub);
    const store = new ReadingStore(pool);
    const endTs = Date.now();

    // The baseline: a raw COPY of the same rows, under another edge id, into the same table.
    const copyRows = Math.min(backlog, 2_000_000);
    const rawCopyPerSecond = await rawCopy(pool, store, "bench-raw-copy", copyRows, endTs);

    // The edge's backlog, written straight into its buffer file.
    const edgeDir = join(dir, "edge");
    mkdirSync(edgeDir);
    const buffer = ReadingBuffer.open(join(edgeDir, "buffer.sqlite"), {
      maxRows: backlog * 2,
      maxBytes: 64 * 2 ** 30,
      rollupDays: 0,
    });
    for (let i = 0; i < backlog; i += 10_000) {
      buffer.append(Array.from({ length: Math.min(10_000, backlog - i) }, (_, j) => reading(i + j, endTs, backlog)));
    }
    const edgeId = buffer.edgeId;
    buffer.close();

    const siteFile = join(dir, "site.yaml");
    writeFileSync(
      siteFile,
      stringify({
        site: { name: "Bench site" },
        connections: [{ id: "lan", type: "tcp", host: sim.host, port: sim.port }],
        devices: [{ id: "live", connection: "lan", profile: "inverter/sunspec-model103-tcp", pollIntervalMs: 1000 }],
        buffer: { maxRows: backlog * 2, maxBytes: 64 * 2 ** 30, rollupDays: 0 },
      }),
    );
    const edgeBundle = await buildEdge();
    const httpPort = await findFreePort();
    const started = performance.now();
    const startedAt = Date.now();
    const edge = await spawnLogged(
      [...APPLIANCE_NODE_FLAGS, edgeBundle, "--config", siteFile, "--insecure-dev"],
      {
        EDGE_DATA_DIR: edgeDir,
        HUB_URL: `127.0.0.1:${grpcPort}`,
        EDGE_HTTP_PORT: String(httpPort),
        LOG_LEVEL: "warn",
      },
      "",
    );
    children.push(edge);
    const edgeRss = rssPeak(edge.pid as number);
    const deadline = Date.now() + 1_800_000;
    let drainSeconds = Number.NaN;
    while (Date.now() < deadline) {
      await sleep(250);
      const { rows } = await pool.query<{ n: string }>(
        `SELECT coalesce(sum(upper(r) - lower(r)), 0) AS n
         FROM raw.edges, unnest(committed) AS r WHERE edge_id = $1`,
        [edgeId],
      );
      if (Number(rows[0]?.n ?? 0) >= backlog) {
        drainSeconds = (performance.now() - started) / 1000;
        break;
      }
    }
    await sleep(3000); // live readings of the last seconds arrive too
    const edgePeakRssMb = edgeRss();
    await stop(edge);

    const exact = await pool.query<{ rows: string; seqs: string; max: string }>(
      `SELECT count(*) AS rows, count(DISTINCT seq) AS seqs, max(seq) AS max
       FROM raw.readings JOIN raw.series USING (series_id) WHERE edge_id = $1`,
      [edgeId],
    );
    const e = exact.rows[0] as { rows: string; seqs: string; max: string };
    const delay = await pool.query<{ p50: number; p99: number; max: number; n: string }>(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY d) AS p99,
              max(d) AS max, count(*) AS n
       FROM (SELECT extract(epoch FROM r.received_at - r.ts)::float8 AS d
             FROM raw.readings r JOIN raw.series s USING (series_id)
             WHERE s.edge_id = $1 AND s.device_id = 'live' AND r.ts >= $2) live`,
      [edgeId, new Date(startedAt)],
    );
    const d = delay.rows[0] as { p50: number; p99: number; max: number; n: string };

    // The fleet: a fresh hub process, 100 edges at once.
    await stop(hub);
    hub = await spawnLogged(hubArgs, { ...hubEnv, HUB_HTTP_PORT: "0" }, '"msg":"hub started"');
    children.push(hub);
    const hubRss = rssPeak(hub.pid as number);
    const fleetRun = spawn(process.execPath, ["--import", "tsx", join(REPO, "scripts/bench-fleet.ts")], {
      env: { ...process.env, HUB_URL: `127.0.0.1:${grpcPort}`, EDGES: "100", PER_EDGE: "20000" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(fleetRun);
    let out = "";
    fleetRun.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
    });
    await new Promise((resolve) => fleetRun.once("exit", resolve));
    const fleet = JSON.parse(out.trim().split("\n").pop() ?? "{}");
    return {
      backlog,
      drainPerSecond: backlog / drainSeconds,
      rawCopyPerSecond,
      exactlyOnce: Number(e.rows) === Number(e.seqs) && Number(e.seqs) === Number(e.max),
      liveDelay: { p50: d.p50, p99: d.p99, max: d.max, n: Number(d.n) },
      edgePeakRssMb,
      fleet: { ...fleet, hubPeakRssMb: hubRss() },
    };
  } finally {
    await Promise.all(children.map(stop));
    await sim.close();
    await pool.end();
    await db.stop();
  }
}

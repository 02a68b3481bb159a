/**
 * End-to-end test harness: real embedded PostgreSQL, real hub, real simulator, real edge
 * (in-process or as its own OS process), all on 127.0.0.1 with ephemeral ports.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type EdgeAgent, type EdgeAgentOptions, loadSiteFile, startEdgeAgent } from "@steinmetz/edge";
import { AuthService, type EmbeddedDatabase, type Hub, startEmbeddedPostgres, startHub } from "@steinmetz/hub";
import { runsOf, type SeqRange } from "@steinmetz/proto";
import { findFreePort, type SunSpecInverterSim } from "@steinmetz/sim";
import pg from "pg";
import pino from "pino";
import { stringify } from "yaml";
import { openPool } from "../../hub/src/db/pool.js";

export const REPO = join(import.meta.dirname, "../..");
/** Quiet logs in tests; LOG_LEVEL=debug to see them. */
export const log = pino({ level: process.env.LOG_LEVEL ?? "silent" });

/** A fresh temporary directory the postgres user may enter when the tests run as root. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

/** Waits until `check` returns a truthy value (polling), or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Embedded PostgreSQL for one test file (`dir` and `port` to restart the same cluster). */
export async function startDatabase(dir = tempDir("hub-pg"), port?: number): Promise<EmbeddedDatabase> {
  return startEmbeddedPostgres(dir, log, { port });
}

/**
 * Request headers with an API token of a new admin in the hub database at `databaseUrl` (made
 * through the hub's auth service; the hub must have migrated the database). Valid for every hub
 * on that database.
 */
export async function adminHeaders(databaseUrl: string): Promise<{ authorization: string }> {
  const pool = openPool({ connectionString: databaseUrl, max: 1 }, log);
  try {
    const service = new AuthService(pool);
    const user = await service.createUser({
      email: `admin-${randomUUID()}@test.invalid`,
      roles: ["admin"],
      password: randomBytes(16).toString("hex"),
    });
    const { token } = await service.createApiToken(user.id, { name: "test" });
    return { authorization: `Bearer ${token}` };
  } finally {
    await pool.end();
  }
}

/**
 * A wall clock for the simulator (`startSunSpecInverterSim({ speed: 60, now: daytimeClock() })`)
 * whose day starts at 10:00 CET: at 60x the sun shines and the power moves for the next six
 * minutes of the test, whatever the time of the run.
 */
export function daytimeClock(): () => number {
  const day = 86_400_000;
  const offset = Math.floor(Date.now() / day) * day + 9 * 3_600_000 - Date.now();
  return () => Date.now() + offset;
}

/** A hub on an existing database; grpcPort 0 picks a free port. */
export function startTestHub(databaseUrl: string, grpcPort = 0): Promise<Hub> {
  return startHub({ databaseUrl, dataDir: tempDir("hub"), httpPort: 0, grpcPort, insecureDev: true, log });
}

/** Writes a site file for one simulated inverter polled every `pollIntervalMs` (plus `extra` sections). */
export function writeSite(
  dir: string,
  sim: SunSpecInverterSim,
  pollIntervalMs: number,
  extra: Record<string, unknown> = {},
): string {
  const file = join(dir, "site.yaml");
  writeFileSync(
    file,
    stringify({
      site: { name: "Test site" },
      connections: [{ id: "lan", type: "tcp", host: sim.host, port: sim.port, timeoutMs: 500 }],
      devices: [
        { id: "inverter-1", connection: "lan", profile: "inverter/sunspec-model103-tcp", pollIntervalMs, slowEvery: 1 },
      ],
      ...extra,
    }),
  );
  return file;
}

/** An in-process edge agent with a short reconnect backoff. */
export function startTestEdge(
  siteFile: string,
  dataDir: string,
  hubUrl: string,
  extra: Partial<EdgeAgentOptions> = {},
): Promise<EdgeAgent> {
  return startEdgeAgent({
    site: loadSiteFile(siteFile),
    dataDir,
    hubUrl,
    insecureDev: true,
    httpPort: 0,
    log,
    sync: { backoff: { initialDelayMs: 100, maxDelayMs: 1000 } },
    ...extra,
  });
}

/** An edge agent as its own OS process (`npm run edge`), resolved once it logged "edge ready". */
export async function spawnEdge(siteFile: string, dataDir: string, hubUrl: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(REPO, "edge/src/main.ts"), "--config", siteFile, "--insecure-dev"],
    {
      env: { ...process.env, EDGE_DATA_DIR: dataDir, HUB_URL: hubUrl, EDGE_HTTP_PORT: "0", LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  // The edge logs to stderr (stdout is kept for command output such as scan JSON).
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('"msg":"edge ready"')) {
        child.stderr?.off("data", onData);
        child.stderr?.resume();
        resolve();
      }
    };
    child.stderr?.on("data", onData);
    child.stdout?.resume();
    child.once("exit", (code) => reject(new Error(`edge exited with ${code} before it was ready:\n${out}`)));
  });
  return child;
}

/** A hub as its own OS process (`npm run hub`) on an existing database, resolved once started. */
export async function spawnHub(databaseUrl: string, grpcPort: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", join(REPO, "hub/src/main.ts"), "--insecure-dev"], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      HUB_DATA_DIR: tempDir("hub"),
      HUB_GRPC_PORT: String(grpcPort),
      HUB_HTTP_PORT: "0",
      LOG_LEVEL: "info",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('"msg":"hub started"')) {
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.resume();
    child.once("exit", (code) => reject(new Error(`hub exited with ${code} before it started:\n${out}`)));
  });
  return child;
}

/** Resolves when the child process has exited. */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** What the hub stored for one edge, summarised for exactly-once checks. */
export interface Stored {
  count: number;
  minSeq: number;
  maxSeq: number;
  /** Distinct seqs: equals count when no seq was stored twice. */
  distinctSeqs: number;
  /** Distinct (device, point, ts): equals count when no reading was stored twice under two seqs. */
  distinctReadings: number;
}

/** Summarises the hub's rows of `edgeId`. */
export async function stored(databaseUrl: string, edgeId: string): Promise<Stored> {
  const client = new pg.Client(databaseUrl);
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT count(*)::int AS count, coalesce(min(seq), 0)::int AS min, coalesce(max(seq), 0)::int AS max,
              count(DISTINCT seq)::int AS seqs, count(DISTINCT (series_id, ts))::int AS distinct
       FROM raw.readings JOIN raw.series USING (series_id) WHERE edge_id = $1`,
      [edgeId],
    );
    const r = rows[0];
    return { count: r.count, minSeq: r.min, maxSeq: r.max, distinctSeqs: r.seqs, distinctReadings: r.distinct };
  } finally {
    await client.end();
  }
}

/**
 * The seqs of `edgeId` the hub stored, as ranges, and how many rows that took (more rows than
 * seqs would be a duplicate).
 */
export async function storedRanges(databaseUrl: string, edgeId: string): Promise<{ ranges: SeqRange[]; rows: number }> {
  const client = new pg.Client(databaseUrl);
  await client.connect();
  try {
    const { rows } = await client.query<{ seq: string }>(
      "SELECT seq FROM raw.readings JOIN raw.series USING (series_id) WHERE edge_id = $1 ORDER BY seq",
      [edgeId],
    );
    const seqs = rows.map((r) => Number(r.seq));
    const distinct = seqs.filter((s, i) => i === 0 || s !== seqs[i - 1]);
    return { ranges: runsOf(distinct), rows: seqs.length };
  } finally {
    await client.end();
  }
}

/** The expected summary when the hub holds exactly seqs 1..n, each reading once. */
export const exactly = (n: number): Stored => ({
  count: n,
  minSeq: n > 0 ? 1 : 0,
  maxSeq: n,
  distinctSeqs: n,
  distinctReadings: n,
});

export { findFreePort };

/**
 * `npm run bench -- platform`: what idempotency + optimistic locking + the audit trail cost on the
 * representative write endpoint (PATCH /api/v1/customers/:id), under autocannon on 127.0.0.1.
 * Same database, same process: the real endpoint (Idempotency-Key claimed and its response
 * stored in the write's transaction, If-Match checked in the UPDATE, the audit trigger appending
 * to the hash chain) against the same endpoint with the three off (the HTTP app's bench-only
 * `benchBypass`: no key, no transaction, If-Match optional; the audit trigger disabled for those
 * runs). The two alternate for `ROUNDS` rounds, so that both see the machine in the same state;
 * the ratio is the median of the rounds' ratios. Then the real endpoint at a fixed 500 requests/s
 * for its p99. autocannon runs in a worker thread (bench-platform-load.ts). CPU per request is
 * the hub's event-loop thread and all PostgreSQL processes.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import pg from "pg";
import pino from "pino";
import { AuthService } from "../hub/src/auth/service.js";
import { startEmbeddedPostgres } from "../hub/src/db/embedded-postgres.js";
import { migrate } from "../hub/src/db/migrate.js";
import { buildHubHttp } from "../hub/src/http.js";
import { createHubMetrics } from "../hub/src/metrics.js";
import type { LoadRequest, LoadResult } from "./bench-platform-load.js";

/** One load run and the CPU it cost. */
export interface RunResult extends LoadResult {
  /** CPU of the hub's event-loop thread per request (ms). */
  hubCpuMs: number;
  /** CPU of all PostgreSQL processes per request (ms). */
  postgresCpuMs: number;
}

/** What the platform benchmark measured. */
export interface PlatformBenchResult {
  connections: number;
  durationS: number;
  rounds: { on: RunResult; off: RunResult }[];
  /** The round with the median ratio. */
  median: { on: RunResult; off: RunResult; ratio: number };
  fixedRate: RunResult & { rate: number };
  auditRecords: number;
  chainIntact: boolean;
  chainBroken?: string;
}

const CONNECTIONS = 16;
const ROUNDS = 3;
const DURATION_S = Number(process.env.BENCH_PLATFORM_SECONDS ?? 6);
const TICK_MS = 1000 / 100; // USER_HZ: /proc reports CPU time in 1/100 s

/** User + system CPU (ms) of /proc/<path>/stat; with `reaped`, also of its ended children. */
function cpuMs(path: string, reaped = false): number {
  try {
    const stat = readFileSync(`/proc/${path}/stat`, "utf8");
    const f = stat
      .slice(stat.lastIndexOf(")") + 2)
      .split(" ")
      .map(Number);
    return ((f[11] ?? 0) + (f[12] ?? 0) + (reaped ? (f[13] ?? 0) + (f[14] ?? 0) : 0)) * TICK_MS;
  } catch {
    return 0; // the process ended meanwhile (its time is then the postmaster's reaped time)
  }
}

/** CPU (ms) of the postmaster of `clusterDir` and its children (backends, writers, autovacuum), ended ones included. */
function postgresCpuMs(clusterDir: string): number {
  const postmaster = readFileSync(join(clusterDir, "postmaster.pid"), "utf8").split("\n")[0] as string;
  let total = cpuMs(postmaster, true);
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] === postmaster) total += cpuMs(pid);
    } catch {}
  }
  return total;
}

/** Runs one load in a worker thread (which loads TypeScript through tsx, as this process does). */
export function load(req: LoadRequest): Promise<LoadResult> {
  const module = new URL("./bench-platform-load.ts", import.meta.url).href;
  const bootstrap = `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(module)}); })`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(bootstrap, { eval: true, workerData: req });
    worker.once("message", (m: { result?: LoadResult; error?: string }) =>
      m.result ? resolve(m.result) : reject(new Error(m.error)),
    );
    worker.once("error", reject);
  });
}

export async function benchPlatform(): Promise<PlatformBenchResult> {
  const log = pino({ level: "silent" });
  const dir = mkdtempSync(join(tmpdir(), "bench-platform-"));
  chmodSync(dir, 0o755);
  const db = await startEmbeddedPostgres(join(dir, "db"), log);
  const pools: pg.Pool[] = [];
  const newPool = () => {
    const pool = new pg.Pool({ connectionString: db.url, max: 10 });
    // a connection still closing when PostgreSQL stops at the end reports an error: expected
    pool.on("error", () => undefined);
    pools.push(pool);
    return pool;
  };
  const admin = newPool();
  const apps: Awaited<ReturnType<typeof buildHubHttp>>[] = [];
  try {
    await migrate(admin, log);
    const auth = new AuthService(admin);
    const user = await auth.createUser({
      email: "bench@example.com",
      roles: ["office"],
      password: randomBytes(12).toString("hex"),
    });
    const { token } = await auth.createApiToken(user.id, { name: "bench" });
    const start = async (benchBypass: boolean) => {
      const app = await buildHubHttp({
        pool: newPool(),
        log,
        metrics: createHubMetrics(),
        version: "bench",
        pkiDir: join(dir, "pki"),
        benchBypass,
      });
      apps.push(app);
      await app.listen({ host: "127.0.0.1", port: 0 });
      const address = app.server.address();
      return `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    };
    const urls = { on: await start(false), off: await start(true) };

    let runs = 0;
    const run = async (mode: "on" | "off", options: { durationS: number; rate?: number }): Promise<RunResult> => {
      // The "off" runs write without the audit trigger.
      const trigger = mode === "off" ? "DISABLE" : "ENABLE";
      await admin.query(`ALTER TABLE erp.customers ${trigger} TRIGGER customers_audit`);
      const customers: LoadRequest["customers"] = [];
      for (let i = 0; i < CONNECTIONS * 2; i++) {
        const { rows } = await admin.query<{ id: string }>(
          "INSERT INTO erp.customers (name) VALUES ($1) RETURNING id",
          [`Bench ${mode} ${runs} ${i}`],
        );
        customers.push({ id: (rows[0] as { id: string }).id, version: 1 });
      }
      const hub0 = cpuMs(`self/task/${process.pid}`);
      const pg0 = postgresCpuMs(join(dir, "db", "pg"));
      const result = await load({
        url: urls[mode],
        token,
        mode,
        customers,
        connections: CONNECTIONS,
        keyPrefix: `bench-${++runs}`,
        ...options,
      });
      const per = (ms: number) => ms / Math.max(1, result.requests);
      return {
        ...result,
        hubCpuMs: per(cpuMs(`self/task/${process.pid}`) - hub0),
        postgresCpuMs: per(postgresCpuMs(join(dir, "db", "pg")) - pg0),
      };
    };

    // warm up both (JIT, pools, plans)
    await run("on", { durationS: 2 });
    await run("off", { durationS: 2 });
    const rounds: PlatformBenchResult["rounds"] = [];
    for (let i = 0; i < ROUNDS; i++) {
      rounds.push({ on: await run("on", { durationS: DURATION_S }), off: await run("off", { durationS: DURATION_S }) });
    }
    const ratio = (r: { on: RunResult; off: RunResult }) => r.on.requestsPerSecond / r.off.requestsPerSecond;
    const sorted = [...rounds].sort((a, b) => ratio(a) - ratio(b));
    const middle = sorted[Math.floor(sorted.length / 2)] as (typeof rounds)[number];
    const fixedRate = { ...(await run("on", { durationS: DURATION_S * 2, rate: 500 })), rate: 500 };

    const { verifyAuditChain } = await import("../hub/src/audit/service.js");
    const chain = await verifyAuditChain(admin);
    return {
      connections: CONNECTIONS,
      durationS: DURATION_S,
      rounds,
      median: { ...middle, ratio: ratio(middle) },
      fixedRate,
      auditRecords: chain.checked,
      chainIntact: chain.ok,
      chainBroken: chain.broken ? `record ${chain.broken.id}: ${chain.broken.reason}` : undefined,
    };
  } finally {
    for (const app of apps) await app.close();
    for (const pool of pools) await pool.end();
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

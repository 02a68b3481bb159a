/**
 * `npm run bench -- platform`: what idempotency + optimistic locking + the audit trail cost on the
 * representative write endpoint (PATCH /api/v1/customers/:id), under autocannon on 127.0.0.1.
 * Same run, same database, same process: the real endpoint (Idempotency-Key claimed and its
 * response stored in the write's transaction, If-Match checked in the UPDATE, the audit trigger
 * appending to the hash chain) against the same endpoint with the three off (the HTTP app's
 * bench-only `benchBypass`: no key, no transaction, If-Match optional; the audit trigger disabled
 * for that run). Then the real endpoint at a fixed 500 requests/s for its p99.
 * Every connection updates its own customer and sends back the version it last got.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import pg from "pg";
import pino from "pino";
import { AuthService } from "../hub/src/auth/service.js";
import { startEmbeddedPostgres } from "../hub/src/db/embedded-postgres.js";
import { migrate } from "../hub/src/db/migrate.js";
import { buildHubHttp } from "../hub/src/http.js";
import { createHubMetrics } from "../hub/src/metrics.js";

/** One autocannon run. */
export interface RunResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** What the platform benchmark measured. */
export interface PlatformBenchResult {
  connections: number;
  durationS: number;
  on: RunResult;
  off: RunResult;
  fixedRate: RunResult & { rate: number };
  auditRecords: number;
  chainIntact: boolean;
  chainBroken?: string;
}

const CONNECTIONS = 16;
const DURATION_S = Number(process.env.BENCH_PLATFORM_SECONDS ?? 10);

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
    const onUrl = await start(false);
    const offUrl = await start(true);

    let keySeq = 0;
    const run = async (url: string, mode: "on" | "off", options: { durationS: number; rate?: number }) => {
      // Two customers per connection at version 1; a request takes a free one and its response
      // (200: the new version) frees it again. autocannon resets `context` after every request
      // when there is one request template, so the state lives here.
      const free: { id: string; version: number }[] = [];
      for (let i = 0; i < CONNECTIONS * 2; i++) {
        const { rows } = await admin.query<{ id: string }>(
          "INSERT INTO erp.customers (name) VALUES ($1) RETURNING id",
          [`Bench ${mode} ${i}`],
        );
        free.push({ id: (rows[0] as { id: string }).id, version: 1 });
      }
      const result = await autocannon({
        url,
        connections: CONNECTIONS,
        duration: options.durationS,
        ...(options.rate ? { overallRate: options.rate } : {}),
        requests: [
          {
            method: "PATCH",
            setupRequest: (req: Record<string, unknown>) => {
              const customer = free.shift();
              if (!customer) throw new Error("no free customer: too many failed requests");
              const n = ++keySeq;
              const headers: Record<string, string> = {
                authorization: `Bearer ${token}`,
                "content-type": "application/json",
              };
              if (mode === "on") {
                headers["idempotency-key"] = `bench-${n}`;
                headers["if-match"] = `"${customer.version}"`;
              }
              return {
                ...req,
                path: `/api/v1/customers/${customer.id}`,
                headers,
                body: JSON.stringify({ city: `City ${n}`, notes: `change ${n}` }),
              };
            },
            onResponse: (status: number, body: string) => {
              if (status !== 200) return;
              const { id, version } = JSON.parse(body) as { id: string; version: number };
              free.push({ id, version });
            },
          },
        ],
      } as autocannon.Options);
      return {
        requestsPerSecond: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors + result.timeouts,
        non2xx: result.non2xx,
      };
    };

    // warm up both (JIT, pools, plans)
    await run(onUrl, "on", { durationS: 2 });
    await admin.query("ALTER TABLE erp.customers DISABLE TRIGGER customers_audit");
    await run(offUrl, "off", { durationS: 2 });
    await admin.query("ALTER TABLE erp.customers ENABLE TRIGGER customers_audit");

    const on = await run(onUrl, "on", { durationS: DURATION_S });
    await admin.query("ALTER TABLE erp.customers DISABLE TRIGGER customers_audit");
    const off = await run(offUrl, "off", { durationS: DURATION_S });
    await admin.query("ALTER TABLE erp.customers ENABLE TRIGGER customers_audit");
    const fixedRate = { ...(await run(onUrl, "on", { durationS: DURATION_S, rate: 500 })), rate: 500 };

    const { verifyAuditChain } = await import("../hub/src/audit/service.js");
    const chain = await verifyAuditChain(admin);
    return {
      connections: CONNECTIONS,
      durationS: DURATION_S,
      on,
      off,
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

/**
 * `npm run hub -- [--insecure-dev]`
 * Env: DATABASE_URL, as the database owner (unset: embedded PostgreSQL under HUB_DATA_DIR, default
 * .data/hub), HUB_APP_DATABASE_URL (the least-privilege role to run as; see db/runtime-role.ts),
 * HUB_HTTP_PORT (3000), HUB_GRPC_PORT (50051), HUB_HTTP_HOST / HUB_GRPC_HOST (127.0.0.1), LOG_LEVEL,
 * HUB_CLOCK_SKEW_MS (10000), HUB_READINGS_RETENTION_DAYS (unset: keep all) and
 * HUB_READINGS_RETENTION_ACTION (detach | drop), HUB_SILENCE_MINUTES (30: an edge or linked device
 * silent longer gets a service ticket), HUB_PUBLIC_URL (the hub's HTTP base URL as edges reach it,
 * carried by enrollment codes; default the listener's), HUB_SAGAS=off (no saga coordinator in this
 * process), HUB_SAGA_LEASE_MS (5000), HUB_SAGA_POLL_MS (200), HUB_SAGA_CONCURRENCY (16),
 * HUB_WAREHOUSE_INTERVAL_MS (60000: how often the warehouse loads what was committed; 0 = never),
 * HUB_WAREHOUSE_KEEP_DAYS (90: how long warehouse runs, quality results and lineage events are kept),
 * OPENLINEAGE_URL (the runs' OpenLineage events are POSTed to {url}/api/v1/lineage after each pass,
 * e.g. Marquez; unset: only kept in ops.lineage_events) and OPENLINEAGE_API_KEY (its Bearer token).
 * Without --insecure-dev the gRPC link is mutual TLS with the CA under HUB_DATA_DIR/pki.
 *
 * OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://127.0.0.1:4318) exports traces over OTLP/HTTP (off when unset).
 * HUB_MIGRATE=off skips applying migrations at start; HUB_COOKIE_SECURE=true marks the session
 * cookie Secure (set it when users reach the hub over https, e.g. behind a TLS proxy).
 *
 * `npm run hub -- pki init|issue|revoke|list ...` manages the edge link's CA (see pki/cli.ts).
 * `npm run hub -- migrate status|plan|up|down [--to V]` manages the schema (see db/migrate-cli.ts).
 * `npm run hub -- admin create --email E [--name N]` creates an admin, password on stdin (auth/cli.ts).
 * `npm run hub -- audit verify|export [--from --to] [--format jsonl|csv]` checks or exports the
 * audit trail (audit/cli.ts).
 * `npm run hub -- gobd export --from --to --out DIR` writes the tax auditor's data export (GoBD Z3)
 * of a period (erp/billing/gobd-cli.ts).
 * `npm run hub -- retention run|hold|erase ...` runs the retention job, places legal holds and
 * handles GDPR erasure requests (retention/cli.ts).
 * `npm run hub -- sagas list|show|retry|abort` inspects, retries or aborts sagas (sagas/cli.ts).
 * `npm run hub -- warehouse run|backfill --from --to|status` loads the warehouse now, loads a time
 * range again, or shows each job's watermark and last run (warehouse/cli.ts).
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";

const dataDir = resolve(process.env.HUB_DATA_DIR ?? ".data/hub");
const databaseUrl = process.env.DATABASE_URL || undefined;
// Each command loads only its own modules (a command starts in about a second, the server in several).
if (process.argv[2] === "pki") await (await import("./pki/cli.js")).runPkiCli(process.argv.slice(3), dataDir);
if (["migrate", "admin", "audit", "gobd", "retention", "sagas", "warehouse"].includes(process.argv[2] ?? "")) {
  // Command output is on stdout; the log (embedded PostgreSQL, migrations) goes to stderr.
  const cliLog = pino({ name: "hub", level: process.env.LOG_LEVEL ?? "warn" }, pino.destination(2));
  const args = [process.argv.slice(3), databaseUrl, dataDir, cliLog] as const;
  if (process.argv[2] === "migrate") await (await import("./db/migrate-cli.js")).runMigrateCli(...args);
  else if (process.argv[2] === "audit") await (await import("./audit/cli.js")).runAuditCli(...args);
  else if (process.argv[2] === "gobd") await (await import("./erp/billing/gobd-cli.js")).runGobdCli(...args);
  else if (process.argv[2] === "retention") await (await import("./retention/cli.js")).runRetentionCli(...args);
  else if (process.argv[2] === "sagas") await (await import("./sagas/cli.js")).runSagasCli(...args);
  else if (process.argv[2] === "warehouse") await (await import("./warehouse/cli.js")).runWarehouseCli(...args);
  else await (await import("./auth/cli.js")).runAdminCli(...args);
}
const { startHub } = await import("./hub.js");
const { startTracing } = await import("./platform/tracing.js");

const log = pino({ name: "hub", level: process.env.LOG_LEVEL ?? "info" });

let insecureDev = false;
try {
  insecureDev = parseArgs({ options: { "insecure-dev": { type: "boolean", default: false } } }).values["insecure-dev"];
} catch (err) {
  process.stderr.write(`hub: ${(err as Error).message}\nusage: npm run hub -- [--insecure-dev]\n`);
  process.exit(2);
}

// OpenTelemetry traces over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set; off otherwise.
const tracing = await startTracing();
if (tracing) log.info({ endpoint: process.env.OTEL_EXPORTER_OTLP_ENDPOINT }, "exporting traces over OTLP");

/** A positive number from the environment, or undefined when unset (exit 2 when malformed). */
function optionalNumber(name: string): number | undefined {
  const text = process.env[name];
  if (!text) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    process.stderr.write(`hub: ${name} must be a positive integer, not ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return value;
}

try {
  const hub = await startHub({
    databaseUrl,
    appDatabaseUrl: process.env.HUB_APP_DATABASE_URL || undefined,
    dataDir,
    migrate: process.env.HUB_MIGRATE !== "off",
    auth: { secureCookie: process.env.HUB_COOKIE_SECURE === "true" },
    httpHost: process.env.HUB_HTTP_HOST ?? "127.0.0.1",
    httpPort: Number(process.env.HUB_HTTP_PORT ?? 3000),
    grpcHost: process.env.HUB_GRPC_HOST ?? "127.0.0.1",
    grpcPort: Number(process.env.HUB_GRPC_PORT ?? 50051),
    insecureDev,
    store: { clockSkewThresholdMs: Number(process.env.HUB_CLOCK_SKEW_MS ?? 10_000) },
    monitoring: { silenceMs: Number(process.env.HUB_SILENCE_MINUTES ?? 30) * 60_000 },
    warehouse: {
      intervalMs: Number(process.env.HUB_WAREHOUSE_INTERVAL_MS ?? 60_000),
      keepDays: optionalNumber("HUB_WAREHOUSE_KEEP_DAYS"),
    },
    lineage: { url: process.env.OPENLINEAGE_URL || undefined, apiKey: process.env.OPENLINEAGE_API_KEY || undefined },
    sagas: {
      enabled: process.env.HUB_SAGAS !== "off",
      publicUrl: process.env.HUB_PUBLIC_URL || undefined,
      leaseMs: optionalNumber("HUB_SAGA_LEASE_MS"),
      pollMs: optionalNumber("HUB_SAGA_POLL_MS"),
      concurrency: optionalNumber("HUB_SAGA_CONCURRENCY"),
    },
    retention: process.env.HUB_READINGS_RETENTION_DAYS
      ? {
          days: Number(process.env.HUB_READINGS_RETENTION_DAYS),
          action: process.env.HUB_READINGS_RETENTION_ACTION === "drop" ? "drop" : "detach",
        }
      : undefined,
    log,
  });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    await hub.close();
    await tracing?.shutdown().catch((err) => log.warn({ err }, "trace export did not finish"));
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
} catch (err) {
  // An unsupported PostgreSQL is the operator's to fix: one line, nothing else (exit 2).
  if ((err as { code?: string }).code === "HUB_ERR_POSTGRES_VERSION") {
    process.stderr.write(`hub: ${(err as Error).message} (HUB_ERR_POSTGRES_VERSION)\n`);
    process.exit(2);
  }
  log.fatal({ err }, "hub failed to start");
  process.exit(1);
}

/**
 * `npm run hub -- [--insecure-dev]`
 * Env: DATABASE_URL (unset: embedded PostgreSQL under HUB_DATA_DIR, default .data/hub),
 * HUB_HTTP_PORT (3000), HUB_GRPC_PORT (50051), HUB_HTTP_HOST / HUB_GRPC_HOST (127.0.0.1), LOG_LEVEL,
 * HUB_CLOCK_SKEW_MS (10000), HUB_READINGS_RETENTION_DAYS (unset: keep all) and
 * HUB_READINGS_RETENTION_ACTION (detach | drop).
 * Without --insecure-dev the gRPC link is mutual TLS with the CA under HUB_DATA_DIR/pki.
 *
 * `npm run hub -- pki init|issue|revoke|list ...` manages the edge link's CA (see pki/cli.ts).
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { startHub } from "./hub.js";
import { runPkiCli } from "./pki/cli.js";

if (process.argv[2] === "pki") await runPkiCli(process.argv.slice(3), resolve(process.env.HUB_DATA_DIR ?? ".data/hub"));

const log = pino({ name: "hub", level: process.env.LOG_LEVEL ?? "info" });

let insecureDev = false;
try {
  insecureDev = parseArgs({ options: { "insecure-dev": { type: "boolean", default: false } } }).values["insecure-dev"];
} catch (err) {
  process.stderr.write(`hub: ${(err as Error).message}\nusage: npm run hub -- [--insecure-dev]\n`);
  process.exit(2);
}

try {
  const hub = await startHub({
    databaseUrl: process.env.DATABASE_URL || undefined,
    dataDir: resolve(process.env.HUB_DATA_DIR ?? ".data/hub"),
    httpHost: process.env.HUB_HTTP_HOST ?? "127.0.0.1",
    httpPort: Number(process.env.HUB_HTTP_PORT ?? 3000),
    grpcHost: process.env.HUB_GRPC_HOST ?? "127.0.0.1",
    grpcPort: Number(process.env.HUB_GRPC_PORT ?? 50051),
    insecureDev,
    store: { clockSkewThresholdMs: Number(process.env.HUB_CLOCK_SKEW_MS ?? 10_000) },
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
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
} catch (err) {
  log.fatal({ err }, "hub failed to start");
  process.exit(1);
}

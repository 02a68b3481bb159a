import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type pg from "pg";
import type { Logger } from "pino";
import { startEmbeddedPostgres } from "./embedded-postgres.js";
import { openPool } from "./pool.js";

/** The database a hub CLI command works on, and how to let go of it. */
export interface CliDatabase {
  pool: pg.Pool;
  close(): Promise<void>;
}

/**
 * The hub's database for a CLI command (`migrate`, `admin`): `databaseUrl` when given; otherwise
 * the embedded cluster under `dataDir` — the running one when a hub (or `npm start`) has it open,
 * found through its `postmaster.pid` and the generated password, or else started for the command
 * and stopped after it.
 */
export async function openCliDatabase(
  databaseUrl: string | undefined,
  dataDir: string,
  log: Logger,
): Promise<CliDatabase> {
  const url = databaseUrl || runningEmbeddedUrl(resolve(dataDir));
  if (url) {
    const pool = openPool({ connectionString: url, max: 2, connectionTimeoutMillis: 5000 }, log);
    return { pool, close: () => pool.end() };
  }
  const embedded = await startEmbeddedPostgres(dataDir, log);
  const pool = openPool({ connectionString: embedded.url, max: 2, connectionTimeoutMillis: 5000 }, log);
  return {
    pool,
    async close() {
      await pool.end();
      await embedded.stop();
    },
  };
}

/** The URL of the embedded cluster under `dataDir` when its postmaster is running. */
function runningEmbeddedUrl(dataDir: string): string | undefined {
  const pidFile = join(dataDir, "pg", "postmaster.pid");
  const passwordFile = join(dataDir, "pg-password");
  if (!existsSync(pidFile) || !existsSync(passwordFile)) return undefined;
  // postmaster.pid: pid, data directory, start time, port, socket directory, listen address, ...
  const [pid, , , port] = readFileSync(pidFile, "utf8").split("\n");
  try {
    process.kill(Number(pid), 0);
  } catch (err) {
    // EPERM: alive but another user's (PostgreSQL runs as `postgres` when the hub runs as root)
    if ((err as { code?: string }).code !== "EPERM") return undefined;
  }
  const password = readFileSync(passwordFile, "utf8").trim();
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${Number(port)}/steinmetz`;
}

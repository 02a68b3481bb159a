/**
 * `npm run hub -- migrate <command>`: the hub's schema migrations (`hub/migrations/NNNN_name.up.sql`
 * and `.down.sql`) on DATABASE_URL, or on the embedded cluster under HUB_DATA_DIR (the running
 * one, or started for the command).
 *
 *   migrate status [--json]            every migration: applied, pending, changed (refused) or
 *                                      missing (applied, no file); and whether a down file changed
 *   migrate plan [up|down] [--to V]    the SQL `up` or `down` would run; runs nothing
 *   migrate up [--to V]                applies pending migrations (up to V)
 *   migrate down [--to V]              rolls back the newest migration (or every one above V; 0: all)
 *
 * Exit codes: 0 done, 1 failed (e.g. HUB_ERR_MIGRATION_CHANGED), 2 bad arguments.
 */
import { parseArgs } from "node:util";
import type pg from "pg";
import type { Logger } from "pino";
import { openCliDatabase } from "./cli-database.js";
import {
  formatPlan,
  type Migration,
  migrate,
  migrationStatus,
  planMigrations,
  readMigrations,
  rollback,
} from "./migrate.js";

const USAGE = `usage: npm run hub -- migrate status [--json]
       npm run hub -- migrate plan [up|down] [--to V]
       npm run hub -- migrate up [--to V]
       npm run hub -- migrate down [--to V]
env: DATABASE_URL (unset: the embedded cluster under HUB_DATA_DIR, default .data/hub)`;

class UsageError extends Error {}

/** Where a CLI run writes. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

function parse(argv: string[]) {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { to: { type: "string" }, json: { type: "boolean", default: false } },
      allowPositionals: true,
      strict: true,
    });
    let to: number | undefined;
    if (values.to !== undefined) {
      to = Number(values.to);
      if (!/^\d+$/.test(values.to) || !Number.isSafeInteger(to))
        throw new UsageError(`--to ${values.to} is not a version`);
    }
    return { positionals, to, json: values.json === true };
  } catch (err) {
    throw err instanceof UsageError ? err : new UsageError((err as Error).message);
  }
}

/**
 * Runs `migrate <command> ...` against `pool` and returns the exit code (0 done, 1 failed,
 * 2 bad arguments); what it prints goes to `io`.
 */
export async function runMigrateCommand(
  argv: string[],
  pool: pg.Pool,
  log: Logger,
  io: CliOutput,
  migrations: Migration[] = readMigrations(),
): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const { positionals, to, json } = parse(rest);
    switch (command) {
      case "status": {
        if (positionals.length > 0) throw new UsageError(`unexpected ${positionals.join(" ")}`);
        const states = await migrationStatus(pool, migrations);
        if (json) io.out(`${JSON.stringify(states, null, 2)}\n`);
        else
          for (const s of states) {
            const id = `${String(s.version).padStart(4, "0")}_${s.name}`;
            const note = s.downChanged ? "  (down file changed since applied)" : "";
            io.out(`${id.padEnd(40)} ${s.state.padEnd(8)} ${s.appliedAt ?? ""}${note}\n`);
          }
        return 0;
      }
      case "plan": {
        const direction = positionals[0] ?? "up";
        if ((direction !== "up" && direction !== "down") || positionals.length > 1) {
          throw new UsageError(`plan takes up or down, not ${positionals.join(" ")}`);
        }
        io.out(formatPlan(await planMigrations(pool, direction, { to, migrations })));
        return 0;
      }
      case "up":
      case "down": {
        if (positionals.length > 0) throw new UsageError(`unexpected ${positionals.join(" ")}`);
        const done = await (command === "up" ? migrate : rollback)(pool, log, { to, migrations });
        io.out(`${JSON.stringify({ [command === "up" ? "applied" : "rolledBack"]: done })}\n`);
        return 0;
      }
      default:
        throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : "a command is required");
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`hub migrate: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    const code = (err as { code?: unknown }).code;
    io.err(`hub migrate ${command}: ${typeof code === "string" ? `${code}: ` : ""}${(err as Error).message}\n`);
    return 1;
  }
}

/** `npm run hub -- migrate ...`: opens the database, runs the command, exits with its code. */
export async function runMigrateCli(argv: string[], databaseUrl: string | undefined, dataDir: string, log: Logger) {
  let code = 1;
  try {
    const db = await openCliDatabase(databaseUrl, dataDir, log);
    try {
      code = await runMigrateCommand(argv, db.pool, log, {
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
      });
    } finally {
      await db.close();
    }
  } catch (err) {
    process.stderr.write(`hub migrate: ${(err as Error).message}\n`);
  }
  process.exit(code);
}

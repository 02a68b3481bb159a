import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import type { Logger } from "pino";
import { hubError } from "../errors.js";
import { applyCatalogGrants } from "../warehouse/catalog.js";
import { assertSupportedPostgres } from "./postgres-version.js";
import { inTransaction } from "./transaction.js";

/** The hub's migrations folder. */
export const MIGRATIONS_DIR = new URL("../../migrations", import.meta.url).pathname;

/** The advisory lock every migration run holds, so concurrent hubs apply each migration once. */
const LOCK = "SELECT pg_advisory_lock(hashtext('steinmetz.migrations'))";
const UNLOCK = "SELECT pg_advisory_unlock(hashtext('steinmetz.migrations'))";

/** One versioned migration: `NNNN_name.up.sql` and its `NNNN_name.down.sql`. */
export interface Migration {
  version: number;
  name: string;
  up: string;
  /** The down file's SQL; undefined when the migration has no down file (it cannot be rolled back). */
  down: string | undefined;
  /** SHA-256 (hex) of the up file: an applied migration whose up file changed is refused. */
  checksum: string;
  /** SHA-256 (hex) of the down file, recorded when applied: a changed down file is refused by `down`. */
  downChecksum: string | undefined;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Reads `NNNN_name.up.sql` files (and their `.down.sql`) in version order. */
export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .map((file) => /^(\d{4})_([a-z0-9_]+)\.up\.sql$/.exec(file))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => {
      const up = readFileSync(join(dir, m[0]), "utf8");
      const downFile = join(dir, `${m[1]}_${m[2]}.down.sql`);
      const down = existsSync(downFile) ? readFileSync(downFile, "utf8") : undefined;
      return {
        version: Number(m[1]),
        name: m[2] as string,
        up,
        down,
        checksum: sha256(up),
        downChecksum: down === undefined ? undefined : sha256(down),
      };
    })
    .sort((a, b) => a.version - b.version);
}

/** A row of `ops.schema_migrations`. */
interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
  down_checksum: string | null;
  applied_at: string;
}

/**
 * One migration's state: `applied`; `pending` (not applied); `changed` (applied, but its up file
 * changed since: refused); `missing` (applied, but no file for it any more, e.g. a database of a
 * newer hub). `downChanged` marks an applied migration whose down file changed since it was applied.
 */
export interface MigrationState {
  version: number;
  name: string;
  state: "applied" | "pending" | "changed" | "missing";
  appliedAt: string | null;
  downChanged: boolean;
}

/** The migration ledger, read without creating or changing anything (empty on a fresh database). */
async function appliedRows(client: pg.ClientBase): Promise<Map<number, AppliedRow>> {
  const exists = await client.query("SELECT to_regclass('ops.schema_migrations') IS NOT NULL AS e");
  if (!exists.rows[0].e) return new Map();
  // to_jsonb: databases migrated before down checksums were recorded lack that column.
  const { rows } = await client.query<{ m: AppliedRow }>(
    "SELECT to_jsonb(m) AS m FROM ops.schema_migrations m ORDER BY version",
  );
  return new Map(rows.map(({ m }) => [m.version, { ...m, down_checksum: m.down_checksum ?? null }]));
}

function states(migrations: Migration[], applied: Map<number, AppliedRow>): MigrationState[] {
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  const versions = [...new Set([...byVersion.keys(), ...applied.keys()])].sort((a, b) => a - b);
  return versions.map((version) => {
    const file = byVersion.get(version);
    const row = applied.get(version);
    const state = !row ? "pending" : !file ? "missing" : row.checksum !== file.checksum ? "changed" : "applied";
    return {
      version,
      name: file?.name ?? row?.name ?? "",
      state,
      appliedAt: row ? new Date(row.applied_at).toISOString() : null,
      downChanged: Boolean(row?.down_checksum && file && row.down_checksum !== file.downChecksum),
    };
  });
}

/** Every migration with its state (`npm run hub -- migrate status`). Changes nothing. */
export async function migrationStatus(pool: pg.Pool, migrations = readMigrations()): Promise<MigrationState[]> {
  const client = await pool.connect();
  try {
    return states(migrations, await appliedRows(client));
  } finally {
    client.release();
  }
}

/** What `up` or `down` would do: the migrations in the order they would run, with their SQL. */
export interface MigrationStep {
  direction: "up" | "down";
  version: number;
  name: string;
  sql: string;
}

/** Options of a migration run. */
export interface MigrateOptions {
  /** `up`: apply pending migrations up to and including this version; `down`: roll back every one above it. */
  to?: number;
  migrations?: Migration[];
}

function label(m: { version: number; name: string }): string {
  return `${String(m.version).padStart(4, "0")}_${m.name}`;
}

/**
 * The steps of a run, or the refusal: an applied migration whose up file changed, and for `down`
 * a migration without (or with a changed) down file or without a file at all.
 */
function steps(direction: "up" | "down", migrations: Migration[], applied: Map<number, AppliedRow>, to?: number) {
  for (const s of states(migrations, applied)) {
    if (s.state === "changed") {
      throw hubError("HUB_ERR_MIGRATION_CHANGED", `migration ${label(s)} was changed after it was applied`);
    }
  }
  if (direction === "up") {
    return migrations
      .filter((m) => !applied.has(m.version) && (to === undefined || m.version <= to))
      .map((m): MigrationStep & { migration: Migration } => ({ ...m, direction, sql: m.up, migration: m }));
  }
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  const appliedDesc = [...applied.keys()].sort((a, b) => b - a);
  const targets = to === undefined ? appliedDesc.slice(0, 1) : appliedDesc.filter((v) => v > to);
  return targets.map((version): MigrationStep & { migration: Migration } => {
    const m = byVersion.get(version);
    const row = applied.get(version) as AppliedRow;
    if (!m || m.down === undefined) {
      throw hubError("HUB_ERR_MIGRATION_MISSING", `migration ${label(m ?? row)} has no down file: cannot roll back`);
    }
    if (row.down_checksum && row.down_checksum !== m.downChecksum) {
      throw hubError(
        "HUB_ERR_MIGRATION_CHANGED",
        `the down file of migration ${label(m)} was changed after it was applied`,
      );
    }
    return { direction, version, name: m.name, sql: m.down, migration: m };
  });
}

/**
 * What `up` or `down` would run, without running anything (`npm run hub -- migrate plan`): reads
 * the ledger only, takes no lock and creates nothing.
 */
export async function planMigrations(
  pool: pg.Pool,
  direction: "up" | "down",
  options: MigrateOptions = {},
): Promise<MigrationStep[]> {
  const client = await pool.connect();
  try {
    const applied = await appliedRows(client);
    return steps(direction, options.migrations ?? readMigrations(), applied, options.to).map(
      ({ migration: _, ...step }) => step,
    );
  } finally {
    client.release();
  }
}

/** The plan as the SQL script it amounts to (each migration in its own transaction). */
export function formatPlan(plan: MigrationStep[]): string {
  if (plan.length === 0) return "-- nothing to do\n";
  return plan
    .map((s) => {
      const ledger =
        s.direction === "up"
          ? `INSERT INTO ops.schema_migrations (version, name, checksum, down_checksum) VALUES (${s.version}, '${s.name}', …);`
          : `DELETE FROM ops.schema_migrations WHERE version = ${s.version};`;
      return `-- ${s.direction} ${label(s)}\nBEGIN;\n${s.sql.trimEnd()}\n${ledger}\nCOMMIT;\n`;
    })
    .join("\n");
}

async function run(pool: pg.Pool, log: Logger, direction: "up" | "down", options: MigrateOptions): Promise<number[]> {
  await assertSupportedPostgres(pool);
  const client = await pool.connect();
  try {
    await client.query(LOCK);
    await client.query(`
      CREATE SCHEMA IF NOT EXISTS ops;
      CREATE TABLE IF NOT EXISTS ops.schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      );
      ALTER TABLE ops.schema_migrations ADD COLUMN IF NOT EXISTS down_checksum text`);
    const plan = steps(direction, options.migrations ?? readMigrations(), await appliedRows(client), options.to);
    const done: number[] = [];
    for (const step of plan) {
      await client.query("BEGIN");
      try {
        await client.query(step.sql);
        if (direction === "up") {
          await client.query(
            "INSERT INTO ops.schema_migrations (version, name, checksum, down_checksum) VALUES ($1, $2, $3, $4)",
            [step.version, step.name, step.migration.checksum, step.migration.downChecksum ?? null],
          );
        } else {
          await client.query("DELETE FROM ops.schema_migrations WHERE version = $1", [step.version]);
        }
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw err;
      }
      log.info(
        { version: step.version, name: step.name },
        direction === "up" ? "migration applied" : "migration rolled back",
      );
      done.push(step.version);
    }
    return done;
  } finally {
    await client.query(UNLOCK).catch(() => undefined);
    client.release();
  }
}

/**
 * Applies pending migrations (up to `options.to`), each in its own transaction, under an advisory
 * lock so that several hub instances starting together apply each one once. Refuses to run when an
 * applied migration's up file has changed since (HUB_ERR_MIGRATION_CHANGED), then applies the data
 * catalog's grants (`applyCatalogGrants`). Returns the versions applied.
 */
export async function migrate(pool: pg.Pool, log: Logger, options: MigrateOptions = {}): Promise<number[]> {
  const done = await run(pool, log, "up", options);
  // the catalog's classification decides the analyst and application layers' grants (SELECT, by
  // column): in one transaction (no moment without a grant) under the migrations' lock (hubs
  // starting together would otherwise change the same grants at once: "tuple concurrently updated")
  await inTransaction(
    pool,
    (client) => applyCatalogGrants(client),
    () => "BEGIN; SELECT pg_advisory_xact_lock(hashtext('steinmetz.migrations'))",
  );
  return done;
}

/**
 * Rolls back applied migrations with their down files, newest first, each in its own transaction
 * under the same lock: only the newest one, or every one above `options.to` (0: all). Refused when
 * a migration has no down file or its up or down file changed since it was applied. Returns the
 * versions rolled back.
 */
export function rollback(pool: pg.Pool, log: Logger, options: MigrateOptions = {}): Promise<number[]> {
  return run(pool, log, "down", options);
}

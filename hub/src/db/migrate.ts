import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import type { Logger } from "pino";
import { hubError } from "../errors.js";

/** The hub's migrations folder. */
export const MIGRATIONS_DIR = new URL("../../migrations", import.meta.url).pathname;

/** One versioned migration: `NNNN_name.up.sql` (and its `.down.sql`). */
export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** Reads `NNNN_name.up.sql` files in version order. */
export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .map((file) => /^(\d{4})_([a-z0-9_]+)\.up\.sql$/.exec(file))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => {
      const sql = readFileSync(join(dir, m[0]), "utf8");
      return {
        version: Number(m[1]),
        name: m[2] as string,
        sql,
        checksum: createHash("sha256").update(sql).digest("hex"),
      };
    })
    .sort((a, b) => a.version - b.version);
}

/**
 * Applies pending migrations, each in its own transaction, under an advisory lock so that
 * several hub instances starting together apply each one once. Refuses to run when an applied
 * migration's file has changed since (HUB_ERR_MIGRATION_CHANGED). Returns the versions applied.
 */
export async function migrate(pool: pg.Pool, log: Logger, migrations = readMigrations()): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtext('steinmetz.migrations'))");
    await client.query(`
      CREATE SCHEMA IF NOT EXISTS ops;
      CREATE TABLE IF NOT EXISTS ops.schema_migrations (
        version integer PRIMARY KEY,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const applied = new Map(
      (
        await client.query<{ version: number; checksum: string }>("SELECT version, checksum FROM ops.schema_migrations")
      ).rows.map((r) => [r.version, r.checksum]),
    );
    const done: number[] = [];
    for (const m of migrations) {
      const checksum = applied.get(m.version);
      if (checksum !== undefined) {
        if (checksum !== m.checksum) {
          throw hubError(
            "HUB_ERR_MIGRATION_CHANGED",
            `migration ${m.version}_${m.name} was changed after it was applied`,
          );
        }
        continue;
      }
      await client.query("BEGIN");
      try {
        await client.query(m.sql);
        await client.query("INSERT INTO ops.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [
          m.version,
          m.name,
          m.checksum,
        ]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw err;
      }
      log.info({ version: m.version, name: m.name }, "migration applied");
      done.push(m.version);
    }
    return done;
  } finally {
    await client.query("SELECT pg_advisory_unlock(hashtext('steinmetz.migrations'))").catch(() => undefined);
    client.release();
  }
}

/**
 * What the audit trigger costs PostgreSQL per audited UPDATE, on one connection without HTTP, on
 * PostgreSQL 18 and 15: autocommit UPDATEs of a customer with the trigger enabled against the same
 * UPDATEs with it disabled, alternating rounds, median round. On 18 it also measures 0008's
 * append (`RETURNING old.*`, which runs on 18 only) by rolling back to migration 9, so the append
 * that runs on every supported major is compared with the one it replaced, in the same run.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import pino from "pino";
import { startEmbeddedPostgres } from "../hub/src/db/embedded-postgres.js";
import { migrate, rollback } from "../hub/src/db/migrate.js";

const log = pino({ level: "silent" });
const UPDATES = Number(process.env.BENCH_AUDIT_UPDATES ?? 2000);
const ROUNDS = 5;

type Cost = { on: number; off: number; cost: number };

/**
 * Trigger cost per UPDATE in ms (median round of on minus off) for each variant; `use(variant)`
 * switches to it. Variants alternate within every round, in turn first, so that neither gets the
 * warmer cache or the longer table.
 */
async function triggerCosts<V extends string>(
  client: pg.Client,
  variants: V[],
  use: (variant: V) => Promise<void>,
): Promise<Record<V, Cost>> {
  const { rows } = await client.query<{ id: string }>("INSERT INTO erp.customers (name) VALUES ('Bench') RETURNING id");
  const id = rows[0]?.id;
  const perUpdate = async (trigger: "ENABLE" | "DISABLE") => {
    await client.query(`ALTER TABLE erp.customers ${trigger} TRIGGER customers_audit`);
    const started = performance.now();
    for (let i = 0; i < UPDATES; i++) {
      await client.query("UPDATE erp.customers SET notes = $2, version = version + 1 WHERE id = $1", [id, `n${i}`]);
    }
    return (performance.now() - started) / UPDATES;
  };
  await perUpdate("ENABLE"); // warm-up
  const rounds = new Map<V, Cost[]>(variants.map((v) => [v, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(r + i) % variants.length] as V;
      await use(variant);
      const off = await perUpdate("DISABLE");
      const on = await perUpdate("ENABLE");
      rounds.get(variant)?.push({ on, off, cost: on - off });
    }
  }
  const median = (costs: Cost[]) => costs.sort((a, b) => a.cost - b.cost)[Math.floor(costs.length / 2)] as Cost;
  return Object.fromEntries(variants.map((v) => [v, median(rounds.get(v) ?? [])])) as Record<V, Cost>;
}

/** The audit trigger's cost on PostgreSQL 18 (current and 0008's append) and 15 (current). */
export async function benchAudit(): Promise<{ pg18: Cost; pg18Before: Cost; pg15: Cost }> {
  const measure = async <V extends string>(pkg: string, variants: V[]) => {
    const dir = mkdtempSync(join(tmpdir(), "bench-audit-"));
    chmodSync(dir, 0o755);
    const db = await startEmbeddedPostgres(join(dir, "db"), log, { package: pkg });
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    const client = new pg.Client({ connectionString: db.url });
    try {
      await migrate(pool, log);
      await client.connect();
      // "current": every migration; "0008": rolled back to 9, where 0008's append is the latest
      return await triggerCosts(client, variants, async (v) => {
        if (v === "0008") await rollback(pool, log, { to: 9 });
        else await migrate(pool, log);
      });
    } finally {
      await client.end().catch(() => undefined);
      await pool.end();
      await db.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const pg18 = await measure("embedded-postgres", ["current", "0008"]);
  const pg15 = await measure("embedded-postgres-15", ["current"]);
  return { pg18: pg18.current, pg18Before: pg18["0008"], pg15: pg15.current };
}

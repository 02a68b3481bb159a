import pg from "pg";
import type { Logger } from "pino";

/**
 * A pg pool whose idle connections may fail without taking the process down: pg-pool emits
 * `error` when PostgreSQL ends an idle connection (a restart, a failover, `pg_terminate_backend`)
 * and an `error` event without a listener throws. Note that `pool.end()` resolves before the
 * connections it closes are gone, so a server stopped right after it can still end one of them.
 */
export function openPool(config: pg.PoolConfig, log: Logger): pg.Pool {
  const pool = new pg.Pool(config);
  // The error carries its pg client; log what helps, not the client's internals.
  pool.on("error", (err) =>
    log.warn({ code: (err as { code?: string }).code, reason: err.message }, "idle PostgreSQL connection failed"),
  );
  return pool;
}

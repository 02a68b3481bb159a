import type pg from "pg";

/**
 * Runs `work` in a transaction on a client of `pool` and commits; rolls back and rethrows when it
 * fails. `begin` gives the statement(s) that open it (default BEGIN), e.g. BEGIN with settings.
 */
export async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  begin: (client: pg.PoolClient) => string = () => "BEGIN",
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin(client));
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

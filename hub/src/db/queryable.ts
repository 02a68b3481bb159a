import type pg from "pg";

/**
 * Anything that runs a parameterised statement: the pool, a client, or a request's unit of work.
 * Repositories take this, so one function serves reads on the pool and writes in a transaction.
 */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

import type pg from "pg";
import { inTransaction } from "../db/transaction.js";

/**
 * Who writes, and why: what the audit trigger (migration 0006) records with every change. Set
 * per transaction with `set_config(..., true)`, so it ends with the transaction.
 */
export interface AuditContext {
  /** Principal id (`Principal.id`); a write without one is recorded as `db:<session user>`. */
  actorId: string;
  actorName?: string;
  requestId?: string;
  /** Why the change was made (GoBD), e.g. from the request's `Audit-Reason` header. */
  reason?: string;
  tags?: readonly string[];
}

const SETTINGS =
  "SELECT set_config('steinmetz.actor_id', $1, true), set_config('steinmetz.actor_name', $2, true), set_config('steinmetz.request_id', $3, true), set_config('steinmetz.reason', $4, true), set_config('steinmetz.tags', $5, true)";

/** Parameters of `SETTINGS` for `ctx`. */
const paramsOf = (ctx: AuditContext) => [
  ctx.actorId,
  ctx.actorName ?? "",
  ctx.requestId ?? "",
  ctx.reason ?? "",
  JSON.stringify(ctx.tags ?? []),
];

/** Sets the audit context for the rest of the open transaction on `client`. */
export async function setAuditContext(client: pg.ClientBase, ctx: AuditContext): Promise<void> {
  await client.query(SETTINGS, paramsOf(ctx));
}

/**
 * `BEGIN` and the audit context as one simple-protocol text (values escaped by the driver), to
 * send in one round trip, alone or together with other statements.
 */
export function beginWithAuditContextSql(client: pg.ClientBase, ctx: AuditContext): string {
  const values = paramsOf(ctx).map((v) => client.escapeLiteral(v));
  // one pass, so a value containing "$2" is never substituted again
  return `BEGIN; ${SETTINGS.replace(/\$(\d)/g, (_, n: string) => values[Number(n) - 1] as string)}`;
}

/** Runs `fn` in a transaction on a pooled client with the audit context set; commits or rolls back. */
export function inAuditedTransaction<T>(
  pool: pg.Pool,
  ctx: AuditContext,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  return inTransaction(pool, fn, (client) => beginWithAuditContextSql(client, ctx));
}

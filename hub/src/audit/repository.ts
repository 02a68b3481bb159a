import type { Queryable } from "../db/queryable.js";
import type { AuditRecord } from "./schemas.js";

/** Anything that runs a query. */
export type Db = Queryable;

/** A record with the columns rendered as text exactly as its hash covers them. */
export interface AuditRow {
  id: string;
  chain: number;
  at_text: string;
  schema_name: string;
  table_name: string;
  entity_id: string | null;
  op: string;
  actor_id: string;
  actor_name: string | null;
  request_id: string | null;
  reason: string | null;
  tags_text: string;
  before_text: string | null;
  after_text: string | null;
  prev_hash: string;
  hash: string;
}

const SELECT = `SELECT id, chain, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at_text,
  schema_name, table_name, entity_id, op, actor_id, actor_name, request_id, reason,
  tags::text AS tags_text, before::text AS before_text, after::text AS after_text, prev_hash, hash
  FROM audit.records`;

/** Filter of a page of records (chain order). */
export interface RecordFilter {
  from?: string;
  to?: string;
  /** `schema.table` */
  entity?: string;
  entityId?: string;
  afterId?: number;
  limit: number;
}

/** Records matching `filter`, by id (the chain's order). */
export async function findRecords(db: Db, filter: RecordFilter): Promise<AuditRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, ...values: unknown[]) => {
    let text = sql;
    for (const v of values) {
      params.push(v);
      text = text.replace("?", `$${params.length}`);
    }
    where.push(text);
  };
  if (filter.from) add("at >= ?::timestamptz", filter.from);
  if (filter.to) add("at < ?::timestamptz", filter.to);
  if (filter.entity) {
    const [schema, table] = filter.entity.split(".");
    add("schema_name = ? AND table_name = ?", schema, table);
  }
  if (filter.entityId) add("entity_id = ?", filter.entityId);
  if (filter.afterId !== undefined) add("id > ?", filter.afterId);
  params.push(filter.limit);
  const { rows } = await db.query<AuditRow>(
    `${SELECT} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id LIMIT $${params.length}`,
    params,
  );
  return rows;
}

/** The hash of chain `chain`'s last record before `id` (its anchor for a partial check), or null. */
export async function hashBefore(db: Db, chain: number, id: number): Promise<{ id: number; hash: string } | null> {
  const { rows } = await db.query<{ id: string; hash: string }>(
    "SELECT id, hash FROM audit.records WHERE chain = $1 AND id < $2 ORDER BY id DESC LIMIT 1",
    [chain, id],
  );
  return rows[0] ? { id: Number(rows[0].id), hash: rows[0].hash } : null;
}

/** The chain heads: each chain's last appended record id and hash. */
export async function chainHeads(db: Db): Promise<Map<number, { lastId: number; lastHash: string }>> {
  const { rows } = await db.query<{ chain: number; last_id: string; last_hash: string }>(
    "SELECT chain, last_id, last_hash FROM audit.chain_head ORDER BY chain",
  );
  return new Map(rows.map((r) => [r.chain, { lastId: Number(r.last_id), lastHash: r.last_hash }]));
}

/**
 * Appends an action record (REDRIVE, READ, ...) in the caller's transaction through the same
 * function the trigger uses, with the transaction's audit context. Returns its id.
 */
export async function appendRecord(
  db: Db,
  entry: { schema: string; table: string; entityId: string | null; op: string; before?: unknown; after?: unknown },
): Promise<number> {
  const { rows } = await db.query<{ id: string }>("SELECT audit.append($1, $2, $3, $4, $5, $6) AS id", [
    entry.schema,
    entry.table,
    entry.entityId,
    entry.op,
    entry.before === undefined ? null : JSON.stringify(entry.before),
    entry.after === undefined ? null : JSON.stringify(entry.after),
  ]);
  return Number(rows[0]?.id);
}

/** A row as the API shows it. */
export const toRecord = (r: AuditRow): AuditRecord => ({
  id: Number(r.id),
  chain: r.chain,
  at: r.at_text,
  schema: r.schema_name,
  table: r.table_name,
  entityId: r.entity_id,
  op: r.op,
  actorId: r.actor_id,
  actorName: r.actor_name,
  requestId: r.request_id,
  reason: r.reason,
  tags: JSON.parse(r.tags_text) as string[],
  before: r.before_text === null ? null : JSON.parse(r.before_text),
  after: r.after_text === null ? null : JSON.parse(r.after_text),
  prevHash: r.prev_hash,
  hash: r.hash,
});

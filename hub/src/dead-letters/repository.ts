import type { Queryable } from "../db/queryable.js";
import { versionCondition } from "../platform/locking.js";
import type { DeadLetter, DeadLetterSummary } from "./schemas.js";

/** Anything that runs a query. */
export type Db = Queryable;

interface Row {
  id: string;
  source: string;
  payload: unknown;
  payload_bytes: Buffer | null;
  error_code: string;
  error_message: string;
  attempts: number;
  first_failed_at: Date;
  last_failed_at: Date;
  status: DeadLetterSummary["status"];
  resolved_at: Date | null;
  resolved_by: string | null;
  version: number;
}

const SUMMARY =
  "id, source, error_code, error_message, attempts, first_failed_at, last_failed_at, status, resolved_at, resolved_by, version";

const toSummary = (r: Row): DeadLetterSummary => ({
  id: Number(r.id),
  source: r.source,
  errorCode: r.error_code,
  errorMessage: r.error_message,
  attempts: r.attempts,
  firstFailedAt: r.first_failed_at.toISOString(),
  lastFailedAt: r.last_failed_at.toISOString(),
  status: r.status,
  resolvedAt: r.resolved_at?.toISOString() ?? null,
  resolvedBy: r.resolved_by,
  version: r.version,
});

/** A dead letter with its payload, as read for inspection or redrive. */
export interface StoredDeadLetter extends DeadLetter {
  payloadBytes: Buffer | null;
}

const toFull = (r: Row): StoredDeadLetter => ({
  ...toSummary(r),
  payload: r.payload,
  payloadBase64: r.payload_bytes?.toString("base64") ?? null,
  payloadBytes: r.payload_bytes,
});

/**
 * Stores a refused payload; the same payload of the same source while still pending counts as
 * another attempt of that dead letter. Returns its id.
 */
export async function upsertDeadLetter(
  db: Db,
  letter: {
    source: string;
    payload: unknown;
    bytes: Buffer | null;
    fingerprint: string;
    code: string;
    message: string;
  },
): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO ops.dead_letters (source, payload, payload_bytes, fingerprint, error_code, error_message)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (source, fingerprint) WHERE status = 'pending' DO UPDATE
       SET attempts = ops.dead_letters.attempts + 1, last_failed_at = now(),
           error_code = excluded.error_code, error_message = excluded.error_message
     RETURNING id`,
    [
      letter.source,
      letter.payload === undefined ? null : JSON.stringify(letter.payload),
      letter.bytes,
      letter.fingerprint,
      letter.code,
      letter.message,
    ],
  );
  return Number(rows[0]?.id);
}

/** Dead letters, newest first. */
export async function listDeadLetters(
  db: Db,
  filter: { status?: string; source?: string; beforeId?: number; limit: number },
): Promise<DeadLetterSummary[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  for (const [sql, value] of [
    ["status = ?", filter.status],
    ["source = ?", filter.source],
    ["id < ?", filter.beforeId],
  ] as const) {
    if (value === undefined) continue;
    params.push(value);
    where.push(sql.replace("?", `$${params.length}`));
  }
  params.push(filter.limit);
  const { rows } = await db.query<Row>(
    `SELECT ${SUMMARY} FROM ops.dead_letters ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  return rows.map(toSummary);
}

/** One dead letter with its payload (locked for the transaction with `forUpdate`), or null. */
export async function findDeadLetter(db: Db, id: number, forUpdate = false): Promise<StoredDeadLetter | null> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM ops.dead_letters WHERE id = $1${forUpdate ? " FOR UPDATE" : ""}`,
    [id],
  );
  return rows[0] ? toFull(rows[0]) : null;
}

/** Resolves a pending dead letter at version `expected` (null: any) as redriven or discarded. */
export async function resolveDeadLetter(
  db: Db,
  id: number,
  expected: number | null,
  status: "redriven" | "discarded",
  by: string,
  countAttempt: boolean,
): Promise<DeadLetterSummary | null> {
  const { rows } = await db.query<Row>(
    `UPDATE ops.dead_letters
     SET status = $3, resolved_at = now(), resolved_by = $4, version = version + 1,
         attempts = attempts + $5
     WHERE id = $1 AND ${versionCondition(2)} AND status = 'pending' RETURNING ${SUMMARY}`,
    [id, expected, status, by, countAttempt ? 1 : 0],
  );
  return rows[0] ? toSummary(rows[0]) : null;
}

/** Records a failed redrive: one more attempt, the new error. */
export async function recordFailedRedrive(
  db: Db,
  id: number,
  error: { code: string; message: string },
): Promise<DeadLetterSummary> {
  const { rows } = await db.query<Row>(
    `UPDATE ops.dead_letters
     SET attempts = attempts + 1, last_failed_at = now(), error_code = $2, error_message = $3, version = version + 1
     WHERE id = $1 RETURNING ${SUMMARY}`,
    [id, error.code, error.message],
  );
  return toSummary(rows[0] as Row);
}

/** Dead letters per status. */
export async function countByStatus(db: Db): Promise<Record<string, number>> {
  const { rows } = await db.query<{ status: string; n: number }>(
    "SELECT status, count(*)::int AS n FROM ops.dead_letters GROUP BY status",
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

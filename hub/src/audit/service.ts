import { createHash } from "node:crypto";
import type pg from "pg";
import { type AuditContext, inAuditedTransaction } from "../platform/audit-context.js";
import { type AuditRow, appendRecord, chainHeads, type Db, findRecords, hashBefore, toRecord } from "./repository.js";
import type { AuditRecord, AuditVerifyResult } from "./schemas.js";

const GENESIS = "0".repeat(64);
const PAGE = 1000;

/** One field of the canonical content, as `audit.field()` in migration 0006 writes it. */
const field = (v: string | null) => (v === null ? "-;" : `${Buffer.byteLength(v, "utf8")}:${v};`);

/**
 * The SHA-256 a record must carry, recomputed here from its stored columns (independently of the
 * database's `audit.record_hash`).
 */
export function recordHash(r: AuditRow): string {
  const content = [
    r.id,
    String(r.chain),
    r.at_text,
    r.schema_name,
    r.table_name,
    r.entity_id,
    r.op,
    r.actor_id,
    r.actor_name,
    r.request_id,
    r.reason,
    r.tags_text,
    r.before_text,
    r.after_text,
    r.prev_hash,
  ]
    .map(field)
    .join("");
  return createHash("sha256").update(content, "utf8").digest("hex");
}

/**
 * Walks the hash chains in id order (within `from`..`to` when given) and reports the first
 * record whose link does not hold: its content no longer matches its hash (changed), or its
 * prev_hash is not the previous record's hash in its chain (a record before it was changed or
 * removed). A check up to the end also compares every chain head (records removed at the end).
 */
export async function verifyAuditChain(db: Db, range: { from?: string; to?: string } = {}): Promise<AuditVerifyResult> {
  let checked = 0;
  const prev = new Map<number, { id: number | null; hash: string }>();
  let afterId: number | undefined;
  let lastId: number | null = null;
  const broken = (id: number, reason: string): AuditVerifyResult => ({
    ok: false,
    checked,
    lastId,
    broken: { id, reason },
  });
  for (;;) {
    const rows = await findRecords(db, { from: range.from, to: range.to, afterId, limit: PAGE });
    for (const row of rows) {
      const id = Number(row.id);
      let before = prev.get(row.chain);
      if (!before) {
        before = (range.from ? await hashBefore(db, row.chain, id) : null) ?? { id: null, hash: GENESIS };
      }
      if (row.prev_hash !== before.hash) {
        return broken(
          id,
          before.id === null
            ? `prev_hash is not the start of chain ${row.chain}: records before it were removed or changed`
            : `prev_hash ${row.prev_hash.slice(0, 12)}… is not the hash of record ${before.id} (${before.hash.slice(0, 12)}…), the one before it in chain ${row.chain}: a record between them was removed, or record ${before.id} was changed and rehashed`,
        );
      }
      if (recordHash(row) !== row.hash) {
        return broken(id, "the record's content does not match its hash: it was changed after it was written");
      }
      prev.set(row.chain, { id, hash: row.hash });
      lastId = id;
      checked++;
    }
    if (rows.length < PAGE) break;
    afterId = lastId ?? undefined;
  }
  if (!range.to) {
    for (const [chain, head] of await chainHeads(db)) {
      const last = prev.get(chain);
      // With `from`, a chain without records in the range is not checked against its head.
      if (!last && (range.from || head.lastId === 0)) continue;
      if (head.lastId !== (last?.id ?? 0) || head.lastHash !== last?.hash) {
        return broken(
          head.lastId,
          `chain ${chain}'s head names record ${head.lastId}, but its last record found is ${last?.id ?? "none"}: records at its end were removed or changed`,
        );
      }
    }
  }
  return { ok: true, checked, lastId };
}

/** Records in `range` as pages, in chain order. */
export async function* recordsIn(db: Db, range: { from?: string; to?: string }): AsyncGenerator<AuditRecord> {
  let afterId: number | undefined;
  for (;;) {
    const rows = await findRecords(db, { ...range, afterId, limit: PAGE });
    for (const row of rows) yield toRecord(row);
    if (rows.length < PAGE) return;
    afterId = Number(rows[rows.length - 1]?.id);
  }
}

const CSV_COLUMNS = [
  "id",
  "chain",
  "at",
  "schema",
  "table",
  "entityId",
  "op",
  "actorId",
  "actorName",
  "requestId",
  "reason",
  "tags",
  "before",
  "after",
  "prevHash",
  "hash",
] as const;

const csvCell = (v: unknown): string => {
  if (v === null || v === undefined) return "";
  const text = typeof v === "string" ? v : typeof v === "number" ? String(v) : JSON.stringify(v);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

/** The export of `range` as JSON lines or CSV (RFC 4180, header row; JSON in tags/before/after), chunk by chunk. */
export async function* exportAudit(
  db: Db,
  range: { from?: string; to?: string },
  format: "jsonl" | "csv",
): AsyncGenerator<string> {
  if (format === "csv") yield `${CSV_COLUMNS.join(",")}\r\n`;
  for await (const r of recordsIn(db, range)) {
    yield format === "jsonl" ? `${JSON.stringify(r)}\n` : `${CSV_COLUMNS.map((c) => csvCell(r[c])).join(",")}\r\n`;
  }
}

/** A page of records, and the read itself appended to the trail (op READ) in the reader's name. */
export async function readAudit(
  pool: pg.Pool,
  reader: AuditContext,
  query: { from?: string; to?: string; entity?: string; entityId?: string; limit: number; cursor?: string },
): Promise<{ items: AuditRecord[]; nextCursor: string | null }> {
  const rows = await findRecords(pool, { ...query, afterId: query.cursor ? Number(query.cursor) : undefined });
  await recordAccess(pool, reader, "READ", query);
  const items = rows.map(toRecord);
  const last = items[items.length - 1];
  return { items, nextCursor: last && items.length === query.limit ? String(last.id) : null };
}

/** Appends that the trail was read or exported (op READ / EXPORT / VERIFY) with the filter used. */
export async function recordAccess(pool: pg.Pool, reader: AuditContext, op: string, filter: object): Promise<void> {
  await inAuditedTransaction(pool, reader, (tx) =>
    appendRecord(tx, { schema: "audit", table: "records", entityId: null, op, after: filter }),
  );
}

/**
 * Retention of business records, legal holds and GDPR erasure (migration 0019). The rules live in
 * PostgreSQL — classes and the mapping of tables to them are data (`ops.retention_classes`,
 * `ops.retention_tables`), the run is `ops.run_retention`, erasure `ops.request_erasure` — so
 * the freeze triggers can tell a retention run from anybody else; these functions call them,
 * type their results and turn refusals into hub errors.
 */
import type pg from "pg";
import type { Logger } from "pino";
import type { Queryable } from "../db/queryable.js";
import { inTransaction } from "../db/transaction.js";
import { hubError } from "../errors.js";

/** What one run did with one table. */
export interface TableReport {
  class: string;
  years: number;
  archived: number;
  deleted: number;
  /** A part is removed with its root (an invoice's lines with the invoice), never alone. */
  partOf?: string;
  /**
   * Why records stay: within their period, held, or referenced by a record that stays (roots);
   * the audit trail keeps every record in its hash chain (`hashChain` of them copied this run).
   */
  kept?: { period: number; held: number; referenced: number } | { hashChain: number; why: string };
  /** The first day on which a record kept for its period may go. */
  nextExpiry?: string | null;
  /** Ids whose period ended but that a hold keeps. */
  held?: string[];
  /** Ids whose period ended but that a record which stays still references, with the reference. */
  referenced?: { id: string; constraint: string; by: string }[];
}

/** The report of a run, as `ops.retention_runs.report` stores it. */
export interface RetentionReport {
  runId: number;
  /** The clock the run judged by. */
  asOf: string;
  requestedAsOf: string;
  /** The day (Europe/Berlin) of `asOf`: periods ending before it are over. */
  asOfDay: string;
  tables: Record<string, TableReport>;
  /** Erasures the run completed because their restriction had ended. */
  erasures: { customerId: string; status: ErasureStatus; restrictedUntil: string | null }[];
}

/** A legal hold: on one record of a retained table, or on everything of a customer. */
export interface LegalHold {
  id: string;
  table: string | null;
  recordId: string | null;
  customerId: string | null;
  reason: string;
  placedBy: string;
  placedAt: string;
  releasedAt: string | null;
  releasedBy: string | null;
  releaseReason: string | null;
}

/** `erased`: nothing personal is left; `restricted`: processing restricted (GDPR Art. 18) until a date or a hold's release. */
export type ErasureStatus = "erased" | "restricted";

/** What an erasure request did, or found done already (`changed: false`). */
export interface ErasureResult {
  customerId: string;
  customerNumber: string;
  status: ErasureStatus;
  asOfDay: string;
  /** The last day a retention period protects what was kept; null when erased or while held. */
  restrictedUntil: string | null;
  held: boolean;
  pseudonymised: { "erp.customers": string[]; "erp.sites": number; "archive.invoice_documents": number };
  deleted: { "erp.contacts": number };
  /** What stays and why (empty when erased). */
  kept: Record<string, unknown>;
  auditTrail: string;
  /** False when this request found nothing new to do (a repeated request). */
  changed: boolean;
}

/** A stored erasure request with its latest evaluation. */
export interface ErasureRequest {
  customerId: string;
  requestedAt: string;
  requestedBy: string;
  status: ErasureStatus;
  restrictedUntil: string | null;
  held: boolean;
  evaluatedAt: string;
  completedAt: string | null;
  report: ErasureResult;
}

/** A logged run. */
export interface RetentionRun {
  id: number;
  startedAt: string;
  finishedAt: string;
  asOf: string;
  asOfDay: string;
  runBy: string;
  report: RetentionReport;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function requireUuid(value: string, what: string): void {
  if (!UUID.test(value)) throw hubError("HUB_ERR_VALIDATION", `${what} must be a UUID (is ${JSON.stringify(value)})`);
}

function requireText(value: string, what: string, max: number): void {
  if (value.trim().length === 0 || value.length > max) {
    throw hubError("HUB_ERR_VALIDATION", `${what} must be 1 to ${max} characters`);
  }
}

/** PostgreSQL's refusals of the retention functions as hub errors. */
function refusalOf(err: unknown): unknown {
  const e = err as { code?: string; constraint?: string; message?: string };
  if (e.code === "P0002") return hubError("HUB_ERR_NOT_FOUND", e.message ?? "no such record", err);
  if (e.code === "23514" && e.constraint === "legal_holds_released") {
    return hubError("HUB_ERR_HOLD_RELEASED", e.message ?? "the hold was released", err);
  }
  if (e.code === "23514" && (e.constraint === "legal_holds_subject" || e.constraint === "legal_holds_table")) {
    return hubError("HUB_ERR_HOLD_SUBJECT", e.message ?? "a hold names a retained record or a customer", err);
  }
  return err;
}

async function call<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw refusalOf(err);
  }
}

/**
 * The archive job, as of the clock `now`: every record whose retention period ended (as of `now`,
 * calendar years of Europe/Berlin) and that no hold protects is copied to `archive` and deleted
 * (with its parts), unless a record that stays references it; expired audit records are copied
 * and stay; erasures whose restriction ended are completed. Returns the run's report, which
 * `ops.retention_runs` keeps. Only the database owner may run it with a clock of its choice; `db`
 * is the owner's pool or a client in its transaction.
 */
export async function runRetention(db: Queryable, options: { now: Date; log?: Logger }): Promise<RetentionReport> {
  const { rows } = await call(() =>
    db.query<{ report: RetentionReport }>("SELECT ops.run_retention($1) AS report", [options.now.toISOString()]),
  );
  const report = rows[0]?.report as RetentionReport;
  options.log?.info({ runId: report.runId, asOfDay: report.asOfDay, tables: runCounts(report) }, "retention run");
  return report;
}

/** What a scheduled call did: ran today's run, found it done, or found another hub running it. */
export type ScheduledRetention =
  | { status: "ran"; day: string; report: RetentionReport }
  | { status: "done"; day: string }
  | { status: "busy" };

/**
 * The daily run, for the hub to call as often as it likes (e.g. with its hourly maintenance):
 * claims the schedule's row with `FOR UPDATE SKIP LOCKED`, so of several hub processes exactly
 * one runs, and runs once per day (Europe/Berlin) of `now`, in the claim's transaction (a failed
 * run leaves the day unclaimed for the next call). `pool` must be the owner's.
 */
export async function runScheduledRetention(
  pool: pg.Pool,
  options: { now?: Date; log?: Logger } = {},
): Promise<ScheduledRetention> {
  const now = options.now ?? new Date();
  return inTransaction(pool, async (client) => {
    const claim = await client.query<{ last_day: string | null; today: string }>(
      `SELECT last_day::text AS last_day, ($1::timestamptz AT TIME ZONE 'Europe/Berlin')::date::text AS today
       FROM ops.retention_schedule WHERE job = 'retention' FOR UPDATE SKIP LOCKED`,
      [now.toISOString()],
    );
    const row = claim.rows[0];
    if (!row) {
      options.log?.debug("retention: another hub process is running today's run");
      return { status: "busy" };
    }
    if (row.last_day !== null && row.last_day >= row.today) return { status: "done", day: row.today };
    const report = await runRetention(client, { now, log: options.log });
    await client.query(
      "UPDATE ops.retention_schedule SET last_day = $1, last_run_id = $2, updated_at = now() WHERE job = 'retention'",
      [report.asOfDay, report.runId],
    );
    return { status: "ran", day: report.asOfDay, report };
  });
}

/** Archived and deleted rows per table of a report (tables the run touched). */
export function runCounts(report: RetentionReport): Record<string, { archived: number; deleted: number }> {
  const counts: Record<string, { archived: number; deleted: number }> = {};
  for (const [table, r] of Object.entries(report.tables)) {
    if (r.archived > 0 || r.deleted > 0) counts[table] = { archived: r.archived, deleted: r.deleted };
  }
  return counts;
}

/** The report as lines for people: per table what went, what stayed and why. */
export function describeRun(report: RetentionReport): string[] {
  const lines = [`retention run ${report.runId} as of ${report.asOfDay} (${report.asOf})`];
  for (const [table, r] of Object.entries(report.tables)) {
    const head = `${table} (${r.class}, ${r.years} years)`;
    if (r.partOf) {
      lines.push(`  ${head}: ${r.deleted} archived and deleted with ${r.partOf}`);
    } else if (r.kept && "hashChain" in r.kept) {
      lines.push(`  ${head}: ${r.archived} copied to the archive, none deleted (${r.kept.why})`);
    } else if (r.kept) {
      const next = r.nextExpiry ? `, the next on ${r.nextExpiry}` : "";
      lines.push(
        `  ${head}: ${r.deleted} archived and deleted; kept ${r.kept.period} within their period${next}, ${r.kept.held} held, ${r.kept.referenced} still referenced`,
      );
      for (const ref of r.referenced ?? [])
        lines.push(`    ${ref.id} stays: referenced by ${ref.by} (${ref.constraint})`);
      for (const id of r.held ?? []) lines.push(`    ${id} stays: legal hold`);
    }
  }
  for (const e of report.erasures) lines.push(`  erasure of customer ${e.customerId}: ${e.status}`);
  return lines;
}

/** The runs, newest first. */
export async function listRuns(db: Queryable, options: { limit: number }): Promise<RetentionRun[]> {
  const { rows } = await db.query(
    `SELECT id, started_at, finished_at, as_of, as_of_day::text AS as_of_day, run_by, report
     FROM ops.retention_runs WHERE status = 'done' ORDER BY started_at DESC, id DESC LIMIT $1`,
    [options.limit],
  );
  return rows.map(toRun);
}

/** One run. */
export async function getRun(db: Queryable, id: number): Promise<RetentionRun> {
  const { rows } = await db.query(
    `SELECT id, started_at, finished_at, as_of, as_of_day::text AS as_of_day, run_by, report
     FROM ops.retention_runs WHERE id = $1 AND status = 'done'`,
    [id],
  );
  if (!rows[0]) throw hubError("HUB_ERR_NOT_FOUND", `no retention run ${id}`);
  return toRun(rows[0]);
}

function toRun(r: Record<string, unknown>): RetentionRun {
  return {
    id: Number(r.id),
    startedAt: (r.started_at as Date).toISOString(),
    finishedAt: (r.finished_at as Date).toISOString(),
    asOf: (r.as_of as Date).toISOString(),
    asOfDay: r.as_of_day as string,
    runBy: r.run_by as string,
    report: r.report as RetentionReport,
  };
}

/** What a hold names: a record of a retained table (`erp.invoices`, …) by id, or a customer. */
export type HoldSubject = { table: string; recordId: string } | { customerId: string };

/**
 * Places a legal hold (e.g. a tax audit, a lawsuit, § 147 Abs. 3 S. 5 AO): the record, or
 * everything of the customer, is kept — not archived, deleted or pseudonymised — until released.
 * Holds name a root record (invoice, payment, quote, time booking, ticket): its parts are held with it.
 */
export async function placeHold(
  db: Queryable,
  input: HoldSubject & { reason: string; placedBy: string },
): Promise<LegalHold> {
  requireText(input.reason, "reason", 1000);
  requireText(input.placedBy, "placedBy", 200);
  if ("customerId" in input) requireUuid(input.customerId, "customerId");
  else requireUuid(input.recordId, "recordId");
  const table = "table" in input ? input.table : null;
  const recordId = "recordId" in input ? input.recordId : null;
  const customerId = "customerId" in input ? input.customerId : null;
  const { rows } = await call(() =>
    db.query("SELECT * FROM ops.place_legal_hold($1, $2, $3, $4, $5)", [
      table,
      recordId,
      customerId,
      input.reason,
      input.placedBy,
    ]),
  );
  return toHold(rows[0] as Record<string, unknown>);
}

/** Releases a hold (once: HUB_ERR_HOLD_RELEASED after that); the next run may remove what it kept. */
export async function releaseHold(
  db: Queryable,
  input: { holdId: string; releasedBy: string; reason?: string },
): Promise<LegalHold> {
  requireUuid(input.holdId, "holdId");
  requireText(input.releasedBy, "releasedBy", 200);
  if (input.reason !== undefined) requireText(input.reason, "reason", 1000);
  const { rows } = await call(() =>
    db.query("SELECT * FROM ops.release_legal_hold($1, $2, $3)", [
      input.holdId,
      input.releasedBy,
      input.reason ?? null,
    ]),
  );
  return toHold(rows[0] as Record<string, unknown>);
}

/** Holds, newest first: the active ones only unless `all`; of one customer (its own holds) when given. */
export async function listHolds(
  db: Queryable,
  options: { all?: boolean; customerId?: string; limit?: number } = {},
): Promise<LegalHold[]> {
  if (options.customerId !== undefined) requireUuid(options.customerId, "customerId");
  const { rows } = await db.query(
    `SELECT * FROM ops.legal_holds
     WHERE ($1 OR released_at IS NULL) AND ($2::uuid IS NULL OR customer_id = $2)
     ORDER BY placed_at DESC, id LIMIT $3`,
    [options.all === true, options.customerId ?? null, options.limit ?? 500],
  );
  return rows.map(toHold);
}

function toHold(r: Record<string, unknown>): LegalHold {
  const time = (v: unknown) => (v instanceof Date ? v.toISOString() : null);
  return {
    id: r.id as string,
    table: (r.table_name as string | null) ?? null,
    recordId: (r.record_id as string | null) ?? null,
    customerId: (r.customer_id as string | null) ?? null,
    reason: r.reason as string,
    placedBy: r.placed_by as string,
    placedAt: time(r.placed_at) as string,
    releasedAt: time(r.released_at),
    releasedBy: (r.released_by as string | null) ?? null,
    releaseReason: (r.release_reason as string | null) ?? null,
  };
}

/**
 * A GDPR erasure request (Art. 17) for a customer, as of `now` (for anybody but the database
 * owner no later than the database's clock): pseudonymises the person's data wherever no
 * retention period or hold forbids it, deletes the contacts, and where a period or hold does
 * forbid it keeps what the books need (name, billing address, VAT id) and records the restriction
 * of processing (Art. 18) with the date it lasts until; a later retention run completes the
 * erasure once that date has passed. A repeated request changes nothing (`changed: false`).
 */
export async function requestErasure(
  db: Queryable,
  input: { customerId: string; requestedBy: string; now?: Date },
): Promise<ErasureResult> {
  requireUuid(input.customerId, "customerId");
  requireText(input.requestedBy, "requestedBy", 200);
  const { rows } = await call(() =>
    db.query<{ result: ErasureResult }>("SELECT ops.request_erasure($1, $2, $3) AS result", [
      input.customerId,
      input.requestedBy,
      (input.now ?? new Date()).toISOString(),
    ]),
  );
  return rows[0]?.result as ErasureResult;
}

/** Erasure requests, newest first (`restricted` only: those whose processing is still restricted). */
export async function listErasures(
  db: Queryable,
  options: { status?: ErasureStatus; limit?: number } = {},
): Promise<ErasureRequest[]> {
  const { rows } = await db.query(
    `SELECT * FROM ops.erasure_requests WHERE $1::text IS NULL OR status = $1
     ORDER BY requested_at DESC, customer_id LIMIT $2`,
    [options.status ?? null, options.limit ?? 500],
  );
  return rows.map(toErasure);
}

/** The erasure request of a customer. */
export async function getErasure(db: Queryable, customerId: string): Promise<ErasureRequest> {
  requireUuid(customerId, "customerId");
  const { rows } = await db.query("SELECT * FROM ops.erasure_requests WHERE customer_id = $1", [customerId]);
  if (!rows[0]) throw hubError("HUB_ERR_NOT_FOUND", `no erasure request for customer ${customerId}`);
  return toErasure(rows[0]);
}

function toErasure(r: Record<string, unknown>): ErasureRequest {
  return {
    customerId: r.customer_id as string,
    requestedAt: (r.requested_at as Date).toISOString(),
    requestedBy: r.requested_by as string,
    status: r.status as ErasureStatus,
    restrictedUntil: r.restricted_until === null ? null : toDay(r.restricted_until),
    held: r.held as boolean,
    evaluatedAt: (r.evaluated_at as Date).toISOString(),
    completedAt: r.completed_at instanceof Date ? r.completed_at.toISOString() : null,
    report: r.report as ErasureResult,
  };
}

/** A `date` column as YYYY-MM-DD (pg parses dates into local-midnight Dates). */
function toDay(v: unknown): string {
  if (typeof v === "string") return v;
  const d = v as Date;
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

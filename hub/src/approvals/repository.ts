import type { Queryable } from "../db/queryable.js";
import { hubError } from "../errors.js";
import type { Role } from "../platform/principal.js";

/** How an operation is approved (a row of `ops.approval_policies`, migration 0018). */
export interface ApprovalPolicy {
  operation: string;
  description: string;
  /** `always`, or `amount_above`: when the operation's `amountCents` exceeds `thresholdCents`. */
  trigger: "always" | "amount_above";
  thresholdCents: number | null;
  currency: string | null;
  /** Whoever has one of these roles may decide (never the requester). */
  approverRoles: Role[];
  /** How long a request waits for its decision. */
  ttlSeconds: number;
}

/** Where a request is: pending, decided (approved, rejected), expired, or carried out (executed). */
export type ApprovalStatus = "pending" | "approved" | "rejected" | "expired" | "executed";

/** What an operation acts on: an entity (`invoices`) and its id. */
export interface ApprovalSubject {
  entity: string;
  id: string;
}

/** A request for a second person's approval, as the API shows it. */
export interface ApprovalRequest {
  id: string;
  operation: string;
  subject: ApprovalSubject;
  /** What to carry out, as the operation's executor reads it. */
  payload: Record<string, unknown>;
  /** What the approver decides on (e.g. the invoice's gross) and what triggered the policy. */
  facts: Record<string, unknown>;
  /** A pending request past its expiry reads as expired, whether or not it was marked so yet. */
  status: ApprovalStatus;
  approverRoles: Role[];
  /** The person who asked: a user id (also when acting by API token) or a system principal. */
  requestedBy: string;
  requestedByName: string | null;
  requestedAt: string;
  expiresAt: string;
  decidedBy: string | null;
  decidedByName: string | null;
  decidedAt: string | null;
  comment: string | null;
  executedAt: string | null;
  /** What carrying it out returned (e.g. the credit note made); null until executed. */
  result: unknown;
}

/** Who asks or decides: a person (user id) with a name for people to read. */
export interface Person {
  id: string;
  name: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The query-time expiry rule: a pending request past its expiry is expired, marked or not. */
const EFFECTIVE_STATUS = "CASE WHEN r.status = 'pending' AND r.expires_at <= now() THEN 'expired' ELSE r.status END";

/** The SELECT of requests with their policy's approver roles; `extra` adds leading columns. */
const select = (
  extra = "",
) => `SELECT ${extra}r.id, r.operation, r.subject_type, r.subject_id, r.payload, r.facts, ${EFFECTIVE_STATUS} AS status,
    p.approver_roles, r.requested_by, r.requested_by_name, r.requested_at, r.expires_at, r.decided_by,
    r.decided_by_name, r.decided_at, r.comment, r.executed_at, r.result
  FROM ops.approval_requests r JOIN ops.approval_policies p USING (operation)`;

const iso = (value: unknown) => (value instanceof Date ? value.toISOString() : null);

function toRequest(row: Record<string, unknown>): ApprovalRequest {
  return {
    id: row.id as string,
    operation: row.operation as string,
    subject: { entity: row.subject_type as string, id: row.subject_id as string },
    payload: row.payload as Record<string, unknown>,
    facts: row.facts as Record<string, unknown>,
    status: row.status as ApprovalStatus,
    approverRoles: row.approver_roles as Role[],
    requestedBy: row.requested_by as string,
    requestedByName: (row.requested_by_name as string | null) ?? null,
    requestedAt: iso(row.requested_at) as string,
    expiresAt: iso(row.expires_at) as string,
    decidedBy: (row.decided_by as string | null) ?? null,
    decidedByName: (row.decided_by_name as string | null) ?? null,
    decidedAt: iso(row.decided_at),
    comment: (row.comment as string | null) ?? null,
    executedAt: iso(row.executed_at),
    result: row.result ?? null,
  };
}

/** The policy of `operation`, or null when the operation needs no approval. */
export async function findPolicy(db: Queryable, operation: string): Promise<ApprovalPolicy | null> {
  const { rows } = await db.query(
    `SELECT operation, description, trigger_kind, threshold_cents, currency, approver_roles,
       extract(epoch FROM ttl)::integer AS ttl_seconds
     FROM ops.approval_policies WHERE operation = $1`,
    [operation],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    operation: r.operation,
    description: r.description,
    trigger: r.trigger_kind,
    thresholdCents: r.threshold_cents === null ? null : Number(r.threshold_cents),
    currency: r.currency,
    approverRoles: r.approver_roles,
    ttlSeconds: r.ttl_seconds,
  };
}

/**
 * The person behind a principal: an API token acts for its user (so nobody approves, by a token
 * of their own, what they asked for in a session); a user is themself; a system principal
 * (`system:…`) is its own id.
 */
export async function personOf(db: Queryable, principal: { id: string; kind: string; name: string }): Promise<Person> {
  const tokenId = /^token:(.+)$/.exec(principal.id)?.[1];
  if (principal.kind === "token" && tokenId && UUID.test(tokenId)) {
    const { rows } = await db.query(
      `SELECT t.user_id::text AS id, u.email FROM auth.api_tokens t JOIN auth.users u ON u.id = t.user_id
       WHERE t.id = $1`,
      [tokenId],
    );
    if (rows[0]) return { id: rows[0].id, name: rows[0].email };
  }
  return { id: principal.id, name: principal.name || null };
}

/** One request, or null. */
export async function findRequest(db: Queryable, id: string): Promise<ApprovalRequest | null> {
  const { rows } = await db.query(`${select()} WHERE r.id = $1`, [id]);
  return rows[0] ? toRequest(rows[0]) : null;
}

/** The request, locked until the end of the transaction (concurrent decisions wait for it), or null. */
export async function lockRequest(db: Queryable, id: string): Promise<ApprovalRequest | null> {
  const { rows } = await db.query(`${select()} WHERE r.id = $1 FOR UPDATE OF r`, [id]);
  return rows[0] ? toRequest(rows[0]) : null;
}

/** The pending request of `operation` on `subject` (expired or not), and whether its payload is `payload`. */
export async function findPending(
  db: Queryable,
  operation: string,
  subject: ApprovalSubject,
  payload: unknown,
): Promise<{ request: ApprovalRequest; samePayload: boolean } | null> {
  const { rows } = await db.query(
    `${select("r.payload = $4::jsonb AS same_payload, ")}
     WHERE r.operation = $1 AND r.subject_type = $2 AND r.subject_id = $3 AND r.status = 'pending'`,
    [operation, subject.entity, subject.id, JSON.stringify(payload)],
  );
  return rows[0] ? { request: toRequest(rows[0]), samePayload: rows[0].same_payload } : null;
}

/** Inserts a pending request; null when another one of the operation and subject is pending. */
export async function insertRequest(
  db: Queryable,
  input: {
    operation: string;
    subject: ApprovalSubject;
    payload: unknown;
    facts: unknown;
    requester: Person;
  },
): Promise<string | null> {
  const { rows } = await db.query(
    `INSERT INTO ops.approval_requests (operation, subject_type, subject_id, payload, facts, requested_by,
       requested_by_name)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (operation, subject_type, subject_id) WHERE status = 'pending' DO NOTHING RETURNING id`,
    [
      input.operation,
      input.subject.entity,
      input.subject.id,
      JSON.stringify(input.payload),
      JSON.stringify(input.facts),
      input.requester.id,
      input.requester.name,
    ],
  );
  return rows[0]?.id ?? null;
}

/** The typed error for the database's refusal of a decision; other errors unchanged. */
function refusalOf(err: unknown, id: string): unknown {
  const constraint = (err as { constraint?: string }).constraint;
  if (constraint === "approval_requests_not_self") {
    return hubError("HUB_ERR_APPROVAL_SELF", `approval request ${id} was asked for by the same person`, err);
  }
  if (constraint === "approval_requests_decided" || constraint === "approval_requests_expired") {
    return hubError("HUB_ERR_APPROVAL_CLOSED", (err as Error).message, err);
  }
  return err;
}

/** Records the decision of a pending request (the database refuses a second one, or one after expiry). */
export async function recordDecision(
  db: Queryable,
  id: string,
  status: "approved" | "rejected",
  decider: Person,
  comment: string | null,
): Promise<void> {
  try {
    await db.query(
      `UPDATE ops.approval_requests SET status = $2, decided_by = $3, decided_by_name = $4, decided_at = now(),
         comment = $5 WHERE id = $1`,
      [id, status, decider.id, decider.name, comment],
    );
  } catch (err) {
    throw refusalOf(err, id);
  }
}

/** Records that an approved request was carried out, with what that returned. */
export async function recordExecution(db: Queryable, id: string, result: unknown): Promise<void> {
  try {
    await db.query(
      "UPDATE ops.approval_requests SET status = 'executed', executed_at = now(), result = $2 WHERE id = $1",
      [id, JSON.stringify(result ?? null)],
    );
  } catch (err) {
    throw refusalOf(err, id);
  }
}

/** Marks pending requests past their expiry as expired (all, or those of one operation and subject); returns their ids. */
export async function markExpired(db: Queryable, only?: { operation: string; subject: ApprovalSubject }) {
  const { rows } = await db.query<{ id: string }>(
    `UPDATE ops.approval_requests SET status = 'expired', decided_at = now()
     WHERE status = 'pending' AND expires_at <= now()
       AND ($1::text IS NULL OR (operation = $1 AND subject_type = $2 AND subject_id = $3))
     RETURNING id`,
    [only?.operation ?? null, only?.subject.entity ?? null, only?.subject.id ?? null],
  );
  return rows.map((r) => r.id);
}

/** A list query: filters, page size, the cursor of the previous page; `decidableBy` keeps what that person may decide. */
export interface ApprovalListQuery {
  status?: ApprovalStatus;
  operation?: string;
  limit: number;
  cursor?: string;
  decidableBy?: { personId: string; roles: readonly Role[] };
}

/** A page of requests, newest first (keyset by requested_at and id). */
export async function listRequests(
  db: Queryable,
  query: ApprovalListQuery,
): Promise<{ items: ApprovalRequest[]; nextCursor: string | null }> {
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const where: string[] = [];
  if (query.status) where.push(`${EFFECTIVE_STATUS} = ${param(query.status)}`);
  if (query.operation) where.push(`r.operation = ${param(query.operation)}`);
  if (query.decidableBy) {
    where.push(
      `${EFFECTIVE_STATUS} = 'pending'`,
      `r.requested_by <> ${param(query.decidableBy.personId)}`,
      `p.approver_roles && ${param(query.decidableBy.roles)}::text[]`,
    );
  }
  if (query.cursor) {
    const after = decodeCursor(query.cursor);
    where.push(`(r.requested_at, r.id) < (${param(after.at)}::timestamptz, ${param(after.id)}::uuid)`);
  }
  const { rows } = await db.query(
    `${select("r.requested_at::text AS position, ")}
     ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY r.requested_at DESC, r.id DESC LIMIT ${param(query.limit)}`,
    params,
  );
  const last = rows[rows.length - 1];
  return {
    items: rows.map(toRequest),
    nextCursor:
      last && rows.length === query.limit
        ? Buffer.from(JSON.stringify({ at: last.position, id: last.id })).toString("base64url")
        : null,
  };
}

function decodeCursor(cursor: string): { at: string; id: string } {
  try {
    const c = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (typeof c.at === "string" && typeof c.id === "string" && UUID.test(c.id)) return c;
  } catch {}
  throw hubError("HUB_ERR_BAD_CURSOR", "cursor is not one this API returned");
}

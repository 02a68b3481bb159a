import type pg from "pg";
import type { Queryable } from "../db/queryable.js";
import { hubError } from "../errors.js";
import type { SagaPrincipal } from "./definition.js";

/** The advisory lock space of hub processes' liveness locks ('SZ'). */
export const LOCK_SPACE = 21_338;

/** A saga instance as the coordinator works with it. */
export interface SagaRow {
  id: string;
  type: string;
  version: number;
  idempotency_key: string;
  input: unknown;
  state: "running" | "compensating" | "waiting" | "completed" | "compensated" | "failed";
  position: number;
  outputs: Record<string, unknown>;
  error: unknown;
  attempt: number;
  deadline_at: Date | null;
  fence: number;
  started_by: string;
  started_by_principal: SagaPrincipal | null;
}

const COLUMNS =
  "id, type, version, idempotency_key, input, state, position, outputs, error, attempt, deadline_at, fence::int AS fence, " +
  "started_by, started_by_principal";

/**
 * Claims up to `limit` runnable sagas for `processId`: running or compensating, due, and not held
 * by a live owner — one without an owner, one whose lease ran out, or one whose owner's liveness
 * lock is gone (a dead process: claimed at once) — and waiting ones whose time came (they run
 * again), and ones with an abort request nobody saw yet — of the definitions the process has (`kinds`, `<type>@<version>`: a saga of a version
 * only a newer deploy knows waits for it). Each claim raises the saga's fence. Only the claim of a
 * waiting saga names `state` (it becomes running): the audit trigger fires on `UPDATE OF state`,
 * and the trail records state changes, not every claim.
 */
export async function claimSagas(
  db: pg.Pool | pg.ClientBase,
  processId: string,
  leaseMs: number,
  limit: number,
  kinds: readonly string[],
) {
  // A named statement, planned once on each connection rather than at every look for work, one
  // per limit: with the limit a parameter its generic plan would sort every runnable saga.
  const n = Math.max(1, Math.min(1000, Math.floor(limit)));
  const { rows } = await db.query({
    name: `saga-claim-${n}`,
    text: CLAIM.replaceAll("$LIMIT", String(n)),
    values: [processId, leaseMs, kinds],
  });
  return rows as SagaRow[];
}

const returning = COLUMNS.replace(/(^|, )/g, "$1s.");
// The kinds test is wrapped in a CASE so the planner takes it as true for half the rows rather
// than for 0.5 % (its guess for an expression): with that guess a backlog is fetched whole and
// sorted at each claim instead of read in run_at order from instances_runnable up to the limit.
const CLAIM = `WITH due AS (
       SELECT i.id, i.state = 'waiting' AS woken FROM saga.instances i
       WHERE i.state IN ('running', 'compensating', 'waiting') AND i.run_at <= now()
         AND CASE WHEN i.type || '@' || i.version = ANY($3) THEN true ELSE false END
         AND (i.owner_id IS NULL OR i.lease_until < now() OR NOT EXISTS (
           SELECT FROM saga.processes p JOIN pg_locks l ON l.locktype = 'advisory' AND l.classid = ${LOCK_SPACE}
             AND l.objid = p.lock_key::bigint::oid AND l.objsubid = 2 AND l.granted
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           WHERE p.id = i.owner_id))
       ORDER BY i.run_at LIMIT $LIMIT FOR UPDATE OF i SKIP LOCKED),
     -- sagas with an abort request not yet seen (it came while a step held the row): due now
     asked AS (
       SELECT i.id, i.state = 'waiting' AS woken FROM saga.abort_requests a JOIN saga.instances i ON i.id = a.id
       WHERE i.state IN ('running', 'waiting') AND i.run_at > now()
         AND CASE WHEN i.type || '@' || i.version = ANY($3) THEN true ELSE false END
         AND (i.owner_id IS NULL OR i.lease_until < now())
       LIMIT $LIMIT FOR UPDATE OF i SKIP LOCKED),
     c AS (SELECT * FROM due UNION SELECT * FROM asked LIMIT $LIMIT),
     woken AS (
       UPDATE saga.instances s SET owner_id = $1, fence = s.fence + 1, lease_until = now() + $2 * interval '1 millisecond',
         state = 'running', waiting_on = NULL, updated_at = now()
       FROM c WHERE s.id = c.id AND c.woken
       RETURNING ${returning}),
     claimed AS (
       UPDATE saga.instances s SET owner_id = $1, fence = s.fence + 1, lease_until = now() + $2 * interval '1 millisecond',
         waiting_on = NULL, updated_at = now()
       FROM c WHERE s.id = c.id AND NOT c.woken
       RETURNING ${returning})
     SELECT * FROM woken UNION ALL SELECT * FROM claimed`;

/**
 * What aborting a running or waiting saga sets (the error to record is $2): it compensates from
 * the step before the one it stands at, claimable by any process at once under a new fence.
 */
export const ABORT_SET = `state = 'compensating', position = position - 1, attempt = 0, run_at = now(), owner_id = NULL,
  lease_until = NULL, fence = fence + 1, error = $2, waiting_on = NULL, updated_at = now()`;

/** One saga, or null. */
export async function loadSaga(db: Queryable, id: string): Promise<SagaRow | null> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM saga.instances WHERE id = $1`, [id]);
  return (rows[0] as SagaRow | undefined) ?? null;
}

/**
 * Starts a saga, idempotently by (type, key): the same key again returns the saga it started
 * (with `created: false`); the same key with another input is refused (422).
 */
export async function startSaga(
  db: Queryable,
  saga: {
    type: string;
    version: number;
    key: string;
    input: unknown;
    /** A principal (kept for approvals asked in their name), or the name of the hub's part that starts it. */
    startedBy: SagaPrincipal | string;
    deadlineMs?: number;
  },
): Promise<{ id: string; created: boolean }> {
  const principal = typeof saga.startedBy === "string" ? null : saga.startedBy;
  const { rows } = await db.query(
    `INSERT INTO saga.instances (type, version, idempotency_key, input, started_by, started_by_principal, deadline_at)
     VALUES ($1, $2, $3, $4, $5, $6, now() + $7 * interval '1 millisecond')
     ON CONFLICT (type, idempotency_key) DO NOTHING RETURNING id`,
    [
      saga.type,
      saga.version,
      saga.key,
      JSON.stringify(saga.input),
      principal ? principal.name || principal.id : saga.startedBy,
      principal && { id: principal.id, kind: principal.kind, name: principal.name },
      saga.deadlineMs ?? null,
    ],
  );
  if (rows[0]) return { id: rows[0].id, created: true };
  const existing = await db.query(
    "SELECT id, input = $3::jsonb AS same FROM saga.instances WHERE type = $1 AND idempotency_key = $2",
    [saga.type, saga.key, JSON.stringify(saga.input)],
  );
  const found = existing.rows[0];
  if (!found) throw hubError("HUB_ERR_INTERNAL", `saga ${saga.type}/${saga.key} neither started nor found`);
  if (!found.same) {
    throw hubError(
      "HUB_ERR_IDEMPOTENCY_MISMATCH",
      `saga ${saga.type} with key ${saga.key} was started with other input`,
    );
  }
  return { id: found.id, created: false };
}

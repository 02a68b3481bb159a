import type { Queryable } from "../db/queryable.js";
import { hubError } from "../errors.js";
import { ABORT_SET } from "./repository.js";

/** A saga as the API and the CLI show it. */
export interface SagaView {
  id: string;
  type: string;
  version: number;
  key: string;
  state: string;
  position: number;
  input: unknown;
  outputs: Record<string, unknown>;
  error: unknown;
  ownerId: string | null;
  startedBy: string;
  createdAt: string;
  updatedAt: string;
  endedAt: string | null;
}

/** One attempt of a step or compensation. */
export interface StepRunView {
  position: number;
  step: string;
  phase: string;
  attempt: number;
  outcome: string;
  error: unknown;
  processId: string | null;
  startedAt: string;
  finishedAt: string;
  ms: number;
}

const VIEW = `id, type, version, idempotency_key, state, position, input, outputs, error, owner_id, started_by,
  created_at, updated_at, ended_at`;

const toView = (r: Record<string, unknown>): SagaView => ({
  id: r.id as string,
  type: r.type as string,
  version: r.version as number,
  key: r.idempotency_key as string,
  state: r.state as string,
  position: r.position as number,
  input: r.input,
  outputs: r.outputs as Record<string, unknown>,
  error: r.error ?? null,
  ownerId: (r.owner_id as string | null) ?? null,
  startedBy: r.started_by as string,
  createdAt: (r.created_at as Date).toISOString(),
  updatedAt: (r.updated_at as Date).toISOString(),
  endedAt: r.ended_at ? (r.ended_at as Date).toISOString() : null,
});

/** Sagas by state and type, newest first (`before`: the `createdAt` of the last one seen). */
export async function listSagas(
  db: Queryable,
  query: { state?: string; type?: string; before?: string; limit: number },
): Promise<SagaView[]> {
  const { rows } = await db.query(
    `SELECT ${VIEW} FROM saga.instances
     WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR type = $2) AND ($3::timestamptz IS NULL OR created_at < $3)
     ORDER BY created_at DESC LIMIT $4`,
    [query.state ?? null, query.type ?? null, query.before ?? null, query.limit],
  );
  return rows.map(toView);
}

/** A saga with every attempt of its steps and compensations, in order, with timings. */
export async function sagaDetail(db: Queryable, id: string): Promise<SagaView & { steps: StepRunView[] }> {
  const { rows } = await db.query(`SELECT ${VIEW} FROM saga.instances WHERE id = $1`, [id]);
  if (!rows[0]) throw hubError("HUB_ERR_NOT_FOUND", `saga ${id} does not exist`);
  const runs = await db.query(
    `SELECT position, step, phase, attempt, outcome, error, process_id, started_at, finished_at
     FROM saga.step_runs WHERE saga_id = $1 ORDER BY id`,
    [id],
  );
  return {
    ...toView(rows[0]),
    steps: runs.rows.map((r) => ({
      position: r.position,
      step: r.step,
      phase: r.phase,
      attempt: r.attempt,
      outcome: r.outcome,
      error: r.error ?? null,
      processId: r.process_id,
      startedAt: (r.started_at as Date).toISOString(),
      finishedAt: (r.finished_at as Date).toISOString(),
      ms: (r.finished_at as Date).getTime() - (r.started_at as Date).getTime(),
    })),
  };
}

/**
 * Retries a failed saga: its compensations go on where the one that kept failing stopped (a fixed
 * cause, e.g. a system that is back), with fresh attempts. The saga's new owner gets a new fence.
 */
export async function retrySaga(db: Queryable, id: string): Promise<void> {
  const { rowCount } = await db.query(
    `UPDATE saga.instances SET state = 'compensating', attempt = 0, run_at = now(), owner_id = NULL, lease_until = NULL,
       fence = fence + 1, ended_at = NULL, updated_at = now()
     WHERE id = $1 AND state = 'failed'`,
    [id],
  );
  if (rowCount !== 1) await refuse(db, id, "only a failed saga is retried");
}

/**
 * Aborts a running (or waiting) saga: it compensates the steps it completed, in reverse, and ends
 * `compensated`. A saga whose step is in progress (its row is locked) gets an abort request
 * instead (`requested`): the process running it sees the request before its next step, and
 * aborts it then (the step in progress finishes and is compensated too); whoever runs the saga
 * next does when that process dies.
 */
export async function abortSaga(db: Queryable, id: string, by: string): Promise<"aborted" | "requested"> {
  const error = { aborted: true, by };
  const { rowCount } = await db.query(
    `WITH free AS (SELECT id FROM saga.instances WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED)
     UPDATE saga.instances s SET ${ABORT_SET} FROM free WHERE s.id = free.id AND s.state IN ('running', 'waiting')`,
    [id, error],
  );
  if (rowCount === 1) {
    await db.query("DELETE FROM saga.abort_requests WHERE id = $1", [id]); // one asked before, now done
    return "aborted";
  }
  const requested = await db.query(
    `INSERT INTO saga.abort_requests (id, requested_by)
     SELECT id, $2 FROM saga.instances WHERE id = $1 AND state IN ('running', 'waiting')
     ON CONFLICT (id) DO UPDATE SET requested_by = saga.abort_requests.requested_by RETURNING id`,
    [id, by],
  );
  if (requested.rowCount === 1) return "requested";
  return refuse(db, id, "only a running saga is aborted");
}

async function refuse(db: Queryable, id: string, rule: string): Promise<never> {
  const { rows } = await db.query("SELECT state FROM saga.instances WHERE id = $1", [id]);
  if (!rows[0]) throw hubError("HUB_ERR_NOT_FOUND", `saga ${id} does not exist`);
  throw hubError("HUB_ERR_TRANSITION_NOT_ALLOWED", `saga ${id} is ${rows[0].state}: ${rule}`);
}

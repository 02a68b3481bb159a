import { randomInt, randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { ExponentialBackoff, fullJitterGenerator } from "cockatiel";
import type pg from "pg";
import type { Logger } from "pino";
import { Counter, type Registry } from "prom-client";
import type { DeadLetterSink } from "../dead-letters/service.js";
import { beginWithAuditContextSql } from "../platform/audit-context.js";
import {
  PermanentStepError,
  type RetryPolicy,
  type SagaDefinition,
  type Step,
  type StepContext,
  StepWait,
} from "./definition.js";
import { type OutboxHandler, relayOutbox } from "./outbox.js";
import { ABORT_SET, claimSagas, LOCK_SPACE, loadSaga, type SagaRow } from "./repository.js";

/** Tuning of a coordinator. */
export interface CoordinatorOptions {
  definitions: SagaDefinition<never>[];
  log: Logger;
  /** How long a claim holds without a step's commit (default 5 s). */
  leaseMs?: number;
  /** How often idle processes look for work (default 200 ms). */
  pollMs?: number;
  /** Sagas run at once by this process (default 16). */
  concurrency?: number;
  /** Where a saga goes whose compensation keeps failing. */
  deadLetters?: DeadLetterSink;
  /** Registry for the saga metrics (`hub_saga_*`). */
  registry?: Registry;
  /** Handlers of outbox events by topic, delivered by this process's polls (default: none). */
  outbox?: ReadonlyMap<string, OutboxHandler>;
}

type Outcome = "continue" | "released" | "lost" | "ended";
/** How an action's transaction ended: the saga waits, or the step succeeded. */
type ActionEnd = "waiting" | "succeeded";
/**
 * What a step's work hands back: the statement that records it (sent with the COMMIT), its
 * outcome, and the step to open right after the COMMIT, in the same round trip (the saga goes on).
 */
interface StepEnd<T> {
  record: string;
  outcome: T;
  next?: { step: Step<unknown>; phase: Phase };
}
type Phase = "action" | "compensation";
/** The saga row as a step's opening locks it. */
interface LockRow {
  fence: number;
  state: string;
  position: number;
  /** Who asked for an abort that is pending (`saga.abort_requests`), or null. */
  abort_by: string | null;
}
/** A step transaction opened with the previous step's COMMIT: its connection and the row it locked. */
interface Carried {
  client: pg.PoolClient;
  lock: LockRow | undefined;
}
/** How a step went, and what the run goes on with: the saga as it is now, and the next step's transaction. */
interface Moved {
  outcome: Outcome;
  saga?: SagaRow;
  carried?: Carried;
}

const errorJson = (err: unknown) => {
  const e = err as { message?: string; code?: string; name?: string };
  return { message: String(e?.message ?? err).slice(0, 2000), code: e?.code ?? null, name: e?.name ?? null };
};

/**
 * The delay before the attempt after `attempt` (1-based): cockatiel's exponential backoff with
 * full jitter, a random delay below min(max, initial × 2^(attempt-1)). The retry itself is
 * durable (`run_at`), so the backoff is stepped to the attempt rather than kept in memory.
 */
function backoffMs(policy: RetryPolicy | undefined, attempt: number): number {
  const backoff = new ExponentialBackoff({
    generator: fullJitterGenerator,
    initialDelay: policy?.initialDelayMs ?? 200,
    maxDelay: policy?.maxDelayMs ?? 10_000,
  });
  let delay = backoff.next();
  for (let i = 1; i < attempt; i++) delay = delay.next(undefined);
  return Math.floor(delay.duration);
}

/**
 * The TransactionCoordinator of one hub process: it runs sagas claimed from PostgreSQL
 * (`saga.instances`, FOR UPDATE SKIP LOCKED) alongside any number of other hub processes.
 *
 * - Liveness: the process holds a session advisory lock for its whole life; a saga whose owner's
 *   lock is gone (the process died, its connection broke) is claimed by the next poll of any
 *   other process, without waiting for its lease.
 * - Fencing: each claim raises the saga's fence; every step runs in a transaction that first
 *   locks the saga row and checks the fence it was claimed with, so a process that was paused
 *   past its lease and lost the saga writes nothing. Step transactions end on their own after the
 *   lease when their process stops answering (idle_in_transaction_session_timeout).
 * - A step's effects, its record in `saga.step_runs` (succeeded at most once per step and phase)
 *   and the saga's next position commit together.
 * - Failures are retried with full-jitter backoff, durably (`run_at`); a permanent one, or one past
 *   the saga's deadline, compensates the completed steps in strict reverse order, each retried
 *   until it succeeds; one that keeps failing leaves the saga `failed`, dead-lettered and counted.
 */
export class Coordinator {
  readonly processId = randomUUID();
  private readonly lockKey = randomInt(1, 2 ** 31 - 1);
  private readonly definitions = new Map<string, SagaDefinition<unknown>>();
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly concurrency: number;
  private readonly log: Logger;
  private readonly running = new Set<Promise<void>>();
  private lockClient?: pg.PoolClient;
  private timer?: NodeJS.Timeout;
  /** The look for work in progress (at most one). */
  private polling?: Promise<void>;
  private stopped = false;
  private readonly metrics: { steps: Counter<string>; ended: Counter<string> };

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: CoordinatorOptions,
  ) {
    for (const d of options.definitions as SagaDefinition<unknown>[]) this.definitions.set(`${d.type}@${d.version}`, d);
    this.leaseMs = options.leaseMs ?? 5_000;
    this.pollMs = options.pollMs ?? 200;
    this.concurrency = options.concurrency ?? 16;
    this.log = options.log.child({ component: "sagas", process: this.processId });
    const registers = options.registry ? [options.registry] : [];
    this.metrics = {
      steps: new Counter({
        name: "hub_saga_step_runs_total",
        help: "Saga step attempts by saga type, phase (action, compensation) and outcome",
        labelNames: ["type", "phase", "outcome"],
        registers,
      }),
      ended: new Counter({
        name: "hub_sagas_ended_total",
        help: "Sagas ended by type and final state; state failed is an alert (a compensation kept failing)",
        labelNames: ["type", "state"],
        registers,
      }),
    };
  }

  /** Registers the process, takes its liveness lock and starts looking for work. */
  async start(): Promise<void> {
    await this.pool.query("INSERT INTO saga.processes (id, lock_key, hostname, pid) VALUES ($1, $2, $3, $4)", [
      this.processId,
      this.lockKey,
      hostname().slice(0, 255),
      process.pid,
    ]);
    await this.takeLivenessLock();
    this.schedule(0);
    this.log.info({ lockKey: this.lockKey }, "saga coordinator started");
  }

  /** Stops claiming, waits for the sagas in hand to reach a commit, and gives up the liveness lock. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
    await Promise.allSettled([...this.running]);
    const client = this.lockClient;
    this.lockClient = undefined;
    if (client) {
      await client.query("SELECT pg_advisory_unlock($1, $2)", [LOCK_SPACE, this.lockKey]).catch(() => undefined);
      client.release();
    }
    await this.pool.query("DELETE FROM saga.processes WHERE id = $1", [this.processId]).catch(() => undefined);
  }

  /**
   * A pooled connection that can never end the process: PostgreSQL may end it at any time (a
   * restart, the lease's idle timeout, a terminated backend) and pg reports that as an `error`
   * event on the client, wherever it is; each client gets one listener for good.
   */
  private async connect(): Promise<pg.PoolClient> {
    const client = await this.pool.connect();
    if (!guarded.has(client)) {
      guarded.add(client);
      client.on("error", (err) => this.log.debug({ err }, "a saga connection ended"));
    }
    return client;
  }

  /** The liveness lock on a connection of its own, taken again when that connection breaks. */
  private async takeLivenessLock(): Promise<void> {
    const client = await this.connect();
    client.on("error", (err) => {
      if (this.lockClient !== client) return; // given back already (stopped): the pool handles it
      this.lockClient = undefined;
      this.log.warn({ err }, "the liveness connection broke: taking the lock again");
      client.release(err);
    });
    await client.query("SELECT pg_advisory_lock($1, $2)", [LOCK_SPACE, this.lockKey]);
    if (this.stopped) {
      await client.query("SELECT pg_advisory_unlock($1, $2)", [LOCK_SPACE, this.lockKey]).catch(() => undefined);
      client.release();
      return;
    }
    this.lockClient = client;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.polling ??= this.poll().finally(() => {
        this.polling = undefined;
      });
    }, ms);
    this.timer.unref();
  }

  /** One look for work: claims what fits, runs it, and comes back soon (at once when it was busy). */
  private async poll(): Promise<void> {
    let claimed = 0;
    try {
      if (!this.lockClient) await this.takeLivenessLock();
      if (this.stopped) return;
      // claimed a few at a time while busy (one claim statement per saga would cost as much as
      // a step), one at a time when idle
      const free = this.concurrency - this.running.size;
      if (free >= Math.min(CLAIM_BATCH, this.concurrency) || (free > 0 && this.running.size === 0)) {
        const rows = await claimSagas(this.pool, this.processId, this.leaseMs, free, [...this.definitions.keys()]);
        claimed = rows.length;
        for (const row of rows) {
          const run = this.run(row).finally(() => {
            this.running.delete(run);
            if (this.running.size < this.concurrency) this.schedule(0);
          });
          this.running.add(run);
        }
      }
      if (this.options.outbox?.size) {
        const log = this.log;
        claimed += await relayOutbox(() => this.connect(), this.options.outbox, {
          log,
          deadLetters: this.options.deadLetters,
        });
      }
    } catch (err) {
      this.log.warn({ err }, "looking for saga work failed; trying again");
    }
    this.schedule(claimed > 0 ? 0 : this.pollMs);
  }

  /**
   * Runs a claimed saga step after step until it ends, waits or is lost. A step that goes on opens
   * the next one in the text of its COMMIT (one round trip between two steps), and the saga's next
   * state is known without reading it again. An abort that came meanwhile waited for no row lock:
   * it is a request (`saga.abort_requests`) that the next step's opening reads with the row lock,
   * and then aborts the saga in place of the step. When a step's end is uncertain (its COMMIT
   * errored), the saga is read again.
   */
  private async run(row: SagaRow): Promise<void> {
    const definition = this.definitions.get(`${row.type}@${row.version}`);
    if (!definition) {
      this.log.error({ saga: row.id, type: row.type, version: row.version }, "no definition of this saga version here");
      await this.release(row, 60_000).catch(() => undefined);
      return;
    }
    let saga = row;
    let carried: Carried | undefined;
    try {
      // each pass moves the saga on by one position (or ends the run): a saga has at most its
      // steps and their compensations to go; a run past that gives the saga back
      for (let pass = 0; pass <= 2 * definition.steps.length + 1; pass++) {
        // the carried transaction is the step's own from here: it ends or hands on a new one
        const given = carried;
        carried = undefined;
        const moved =
          saga.state === "running"
            ? await this.advance(definition, saga, given)
            : await this.compensate(definition, saga, given);
        carried = moved.carried;
        if (moved.outcome !== "continue") return;
        if (moved.saga) {
          saga = moved.saga;
          continue;
        }
        const next = await loadSaga(this.pool, saga.id);
        if (!next || next.fence !== saga.fence || (next.state !== "running" && next.state !== "compensating")) return;
        saga = next;
      }
      await this.drop(carried);
      carried = undefined;
      await this.release(saga, 0);
    } catch (err) {
      this.log.warn({ err, saga: saga.id }, "saga run interrupted; it is claimed again after its lease");
    } finally {
      await this.drop(carried);
    }
  }

  /** Rolls back a step transaction the run will not use, and gives its connection back. */
  private async drop(carried: Carried | undefined): Promise<void> {
    if (!carried) return;
    let broken: Error | undefined;
    await carried.client.query("ROLLBACK").catch((err: Error) => {
      broken = err;
    });
    carried.client.release(broken);
  }

  /** The next step of a running saga; the saga as it is after the step's commit when it goes on. */
  private async advance(definition: SagaDefinition<unknown>, saga: SagaRow, carried?: Carried): Promise<Moved> {
    const step = definition.steps[saga.position] as Step<unknown>;
    if (saga.deadline_at && saga.deadline_at.getTime() < Date.now()) {
      await this.drop(carried);
      return {
        outcome: await this.fail(
          definition,
          saga,
          step,
          "action",
          new PermanentStepError("the saga's deadline passed"),
        ),
      };
    }
    const last = saga.position === definition.steps.length - 1;
    const started = new Date();
    let output: unknown;
    let ended: { outcome: ActionEnd; carried?: Carried };
    try {
      ended = await this.inStep<ActionEnd>(
        saga,
        step,
        "action",
        async (tx, ctx) => {
          const result = (await step.action(tx, saga.input, ctx)) ?? null;
          if (result instanceof StepWait) {
            return { record: this.restSql(tx, saga, step, started, result), outcome: "waiting" as const };
          }
          output = JSON.parse(JSON.stringify(result) ?? "null");
          const params = [
            saga.id,
            saga.position,
            step.name,
            saga.attempt + 1,
            saga.fence,
            this.processId,
            started,
            JSON.stringify(output),
            this.leaseMs,
          ];
          return {
            record: execute(tx, last ? "saga_step_complete" : "saga_step_advance", last ? params.slice(0, 8) : params),
            outcome: "succeeded" as const,
            next:
              last || this.stopped
                ? undefined
                : { step: definition.steps[saga.position + 1] as Step<unknown>, phase: "action" },
          };
        },
        carried,
      );
    } catch (err) {
      if (err === LOST) return { outcome: "lost" };
      if (err === ABORTED) return { outcome: "released" };
      return { outcome: await this.fail(definition, saga, step, "action", err, started) };
    }
    this.metrics.steps.inc({ type: saga.type, phase: "action", outcome: ended.outcome });
    if (ended.outcome === "waiting") return { outcome: "released" };
    if (last) {
      this.metrics.ended.inc({ type: saga.type, state: "completed" });
      return { outcome: "ended" };
    }
    const next = {
      ...saga,
      position: saga.position + 1,
      attempt: 0,
      outputs: { ...saga.outputs, [step.name]: output },
    };
    return { outcome: "continue", saga: next, carried: ended.carried };
  }

  /** What puts a saga to rest until its step's wait is over (sent with the step's COMMIT). */
  private restSql(tx: pg.PoolClient, saga: SagaRow, step: Step<unknown>, started: Date, wait: StepWait): string {
    return execute(tx, "saga_step_rest", [
      saga.id,
      saga.position,
      step.name,
      saga.attempt + 1,
      JSON.stringify({ until: wait.until.toISOString(), on: wait.on }),
      saga.fence,
      this.processId,
      started,
      wait.on,
      wait.until,
    ]);
  }

  /** The next compensation of a compensating saga (strict reverse order of the completed steps). */
  private async compensate(definition: SagaDefinition<unknown>, saga: SagaRow, carried?: Carried): Promise<Moved> {
    if (saga.position < 0) {
      await this.drop(carried);
      return { outcome: await this.end(saga, "compensated") };
    }
    const step = definition.steps[saga.position] as Step<unknown>;
    const started = new Date();
    let ended: { carried?: Carried };
    try {
      ended = await this.inStep(
        saga,
        step,
        "compensation",
        async (tx, ctx) => {
          await step.compensate?.(tx, saga.input, { ...ctx, output: saga.outputs[step.name] ?? null });
          const record = execute(tx, "saga_step_compensated", [
            saga.id,
            saga.position,
            step.name,
            saga.attempt + 1,
            saga.fence,
            this.processId,
            started,
            this.leaseMs,
          ]);
          const before = definition.steps[saga.position - 1];
          return {
            record,
            outcome: undefined,
            next: before && !this.stopped ? { step: before, phase: "compensation" } : undefined,
          };
        },
        carried,
      );
    } catch (err) {
      if (err === LOST || err === ABORTED) return { outcome: "lost" };
      return { outcome: await this.fail(definition, saga, step, "compensation", err, started) };
    }
    this.metrics.steps.inc({ type: saga.type, phase: "compensation", outcome: "succeeded" });
    return { outcome: "continue", saga: { ...saga, position: saga.position - 1, attempt: 0 }, carried: ended.carried };
  }

  /**
   * Runs `work` in a transaction that first locks the saga row and checks the claim's fence (and
   * that the saga is still where this process left it); throws LOST when another process owns it
   * now, and ABORTED after aborting it for a pending abort request. `work` does the step and gives
   * back the statement that records it and advances the saga: it is sent together with the
   * COMMIT, so the step's effects, its record and the saga's next position commit together or not
   * at all (a failing statement skips the rest of its text, and the transaction is rolled back).
   * The same text opens the next step's transaction when `work` names one: it is handed back
   * (`carried`) with its connection, for the next call. Round trips per step: the opening (BEGIN,
   * the audit context, the lock and the values the check compares, in one
   * simple-protocol text) unless it was carried, the step's own statements, and the record with
   * the commit (and the next opening).
   */
  private async inStep<T>(
    saga: SagaRow,
    step: Step<unknown>,
    phase: Phase,
    work: (tx: pg.PoolClient, ctx: StepContext) => Promise<StepEnd<T>>,
    carried?: Carried,
  ): Promise<{ outcome: T; carried?: Carried }> {
    const client = carried?.client ?? (await this.connect());
    const timeoutMs = step.timeoutMs ?? 30_000;
    const abort = new AbortController();
    let broken: Error | undefined;
    let handedOn = false;
    // a connection PostgreSQL ended while the step waited on something else is not reused
    const onError = (err: Error) => {
      broken = err;
    };
    client.on("error", onError);
    try {
      if (!prepared.has(client)) {
        // a step transaction of a process that stopped answering ends after the lease: set once for
        // the connection (the coordinator's pool is its own), not in every step
        await client.query(
          `${STEP_STATEMENTS}; SET idle_in_transaction_session_timeout = ${Math.max(1000, this.leaseMs)}`,
        );
        prepared.add(client);
      }
      const now = carried ? carried.lock : lockRowOf(await client.query(this.openingSql(client, saga, step, phase)));
      if (!now || now.fence !== saga.fence || now.state !== saga.state || now.position !== saga.position) {
        await client.query("ROLLBACK");
        throw LOST;
      }
      if (now.abort_by !== null && saga.state === "running") {
        await client.query(`UPDATE saga.instances SET ${ABORT_SET} WHERE id = $1`, [
          saga.id,
          { aborted: true, by: now.abort_by },
        ]);
        await client.query("DELETE FROM saga.abort_requests WHERE id = $1", [saga.id]);
        await client.query("COMMIT");
        throw ABORTED;
      }
      const ctx: StepContext = {
        sagaId: saga.id,
        stepKey: `${saga.id}:${step.name}:${phase}`,
        attempt: saga.attempt + 1,
        outputs: saga.outputs,
        signal: abort.signal,
        startedBy: saga.started_by_principal,
        fence: saga.fence,
      };
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          abort.abort();
          reject(new Error(`step ${step.name} took longer than ${timeoutMs} ms`));
        }, timeoutMs);
      });
      let done: StepEnd<T>;
      try {
        done = await Promise.race([work(client, ctx), limit]);
      } finally {
        clearTimeout(timer);
      }
      if (!done.next) {
        await client.query(`${done.record}; COMMIT`);
        return { outcome: done.outcome };
      }
      const opened = await client.query(
        `${done.record}; COMMIT; ${this.openingSql(client, saga, done.next.step, done.next.phase)}`,
      );
      handedOn = true;
      return { outcome: done.outcome, carried: { client, lock: lockRowOf(opened) } };
    } catch (err) {
      if (err !== LOST && err !== ABORTED) {
        // a timed-out statement may still run, and a connection whose step statements are not
        // (all) prepared cannot run steps: such a connection is dropped rather than reused
        const unprepared = !prepared.has(client) || (err as { code?: string }).code === "26000";
        broken = abort.signal.aborted || unprepared ? (err as Error) : undefined;
        await client.query("ROLLBACK").catch((e: Error) => {
          broken = e;
        });
      }
      throw err;
    } finally {
      client.off("error", onError);
      if (!handedOn) client.release(broken);
    }
  }

  /** The text that opens a step's transaction and locks the saga's row (see `inStep`). */
  private openingSql(client: pg.PoolClient, saga: SagaRow, step: Step<unknown>, phase: Phase): string {
    const audit = {
      actorId: `saga:${saga.type}`,
      actorName: saga.started_by,
      requestId: saga.id,
      tags: ["saga", saga.type, step.name, phase],
    };
    return `${beginWithAuditContextSql(client, audit)}; ${execute(client, "saga_step_lock", [saga.id])}`;
  }

  /**
   * Records a failed attempt: retried later, or the saga compensates (an action) or fails (a
   * compensation). Under the row lock it first checks that the saga is where the attempt found
   * it: with another fence it is another process's now ("lost"); with the same fence but moved
   * on, the attempt did commit after all (its error came after the COMMIT, e.g. from a
   * connection that broke before the answer came), and nothing is recorded: the run reads the saga
   * again and goes on ("continue").
   */
  private async fail(
    definition: SagaDefinition<unknown>,
    saga: SagaRow,
    step: Step<unknown>,
    phase: "action" | "compensation",
    err: unknown,
    started = new Date(),
  ): Promise<Outcome> {
    const policy = phase === "action" ? step.retry : definition.compensationRetry;
    const maxAttempts = policy?.maxAttempts ?? (phase === "action" ? 3 : 5);
    const permanent = err instanceof PermanentStepError || (step.retryable ? !step.retryable(err) : false);
    const attempt = saga.attempt + 1;
    const retry = !(phase === "action" && permanent) && attempt < maxAttempts;
    const next = retry ? "retry" : phase === "action" ? "compensate" : "failed";
    const outcome = retry ? "retrying" : "failed";
    const client = await this.connect();
    try {
      await client.query("BEGIN");
      const { rows } = await client.query(
        "SELECT fence::int AS fence, state, position FROM saga.instances WHERE id = $1 FOR UPDATE",
        [saga.id],
      );
      const now = rows[0];
      if (!now || now.fence !== saga.fence) {
        await client.query("ROLLBACK");
        return "lost";
      }
      if (now.state !== saga.state || now.position !== saga.position) {
        await client.query("ROLLBACK");
        this.log.debug({ err, saga: saga.id, step: step.name, phase }, "a step's error came after its commit");
        return "continue";
      }
      this.metrics.steps.inc({ type: saga.type, phase, outcome });
      this.log.warn({ err, saga: saga.id, step: step.name, phase, attempt, next }, "saga step failed");
      await client.query(
        `INSERT INTO saga.step_runs (saga_id, position, step, phase, attempt, outcome, error, fence, process_id, started_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          saga.id,
          saga.position,
          step.name,
          phase,
          attempt,
          outcome,
          errorJson(err),
          saga.fence,
          this.processId,
          started,
        ],
      );
      if (next === "retry") {
        await client.query(
          `UPDATE saga.instances SET attempt = attempt + 1, run_at = now() + $2 * interval '1 millisecond',
             owner_id = NULL, lease_until = NULL, updated_at = now() WHERE id = $1`,
          [saga.id, backoffMs(policy, attempt)],
        );
      } else if (next === "compensate") {
        await client.query(
          `UPDATE saga.instances SET state = 'compensating', position = position - 1, attempt = 0, error = $2,
             updated_at = now() WHERE id = $1`,
          [saga.id, { step: step.name, ...errorJson(err) }],
        );
      } else {
        await client.query(
          `UPDATE saga.instances SET state = 'failed', attempt = attempt + 1, ended_at = now(), owner_id = NULL,
             lease_until = NULL, error = $2, updated_at = now() WHERE id = $1`,
          [saga.id, { step: step.name, phase, ...errorJson(err) }],
        );
      }
      await client.query("COMMIT");
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
    if (next === "failed") {
      this.metrics.ended.inc({ type: saga.type, state: "failed" });
      this.log.error({ saga: saga.id, type: saga.type, step: step.name }, "a compensation keeps failing: saga failed");
      await this.options.deadLetters?.deadLetter(
        "saga",
        { sagaId: saga.id, type: saga.type, step: step.name, position: saga.position },
        err,
      );
      return "ended";
    }
    return next === "retry" ? "released" : "continue";
  }

  /** Ends a saga in `state` (all compensations done). */
  private async end(saga: SagaRow, state: "compensated"): Promise<Outcome> {
    const { rowCount } = await this.pool.query(
      `UPDATE saga.instances SET state = $3, ended_at = now(), owner_id = NULL, lease_until = NULL, updated_at = now()
       WHERE id = $1 AND fence = $2`,
      [saga.id, saga.fence, state],
    );
    if (rowCount !== 1) return "lost";
    this.metrics.ended.inc({ type: saga.type, state });
    return "ended";
  }

  /** Gives a saga back for later (no definition of its version here). */
  private async release(saga: SagaRow, afterMs: number): Promise<void> {
    await this.pool.query(
      `UPDATE saga.instances SET owner_id = NULL, lease_until = NULL, run_at = now() + $3 * interval '1 millisecond'
       WHERE id = $1 AND fence = $2`,
      [saga.id, saga.fence, afterMs],
    );
  }
}

/**
 * The statements of step transactions, prepared once on each connection that runs steps (planned
 * once there, not at every step) and run by EXECUTE in the texts that open and end a step.
 */
const STEP_STATEMENTS = [
  // the row lock, with what the fence check compares
  `PREPARE saga_step_lock (uuid) AS
     SELECT i.fence::int AS fence, i.state, i.position, a.requested_by AS abort_by
     FROM saga.instances i LEFT JOIN saga.abort_requests a ON a.id = i.id WHERE i.id = $1 FOR NO KEY UPDATE OF i`,
  // a step's record and the saga's next position (a step before the last)
  `PREPARE saga_step_advance (uuid, integer, text, integer, bigint, uuid, timestamptz, jsonb, integer) AS
     WITH run AS (INSERT INTO saga.step_runs (saga_id, position, step, phase, attempt, outcome, fence, process_id, started_at)
       VALUES ($1, $2, $3, 'action', $4, 'succeeded', $5, $6, $7))
     UPDATE saga.instances SET outputs = outputs || jsonb_build_object($3, $8), position = position + 1, attempt = 0,
       lease_until = now() + $9 * interval '1 millisecond', updated_at = now()
     WHERE id = $1`,
  // the last step's record and the saga's completion: only this one names `state` (the audit
  // trigger fires on UPDATE OF state, and the trail records state changes, not every step)
  `PREPARE saga_step_complete (uuid, integer, text, integer, bigint, uuid, timestamptz, jsonb) AS
     WITH run AS (INSERT INTO saga.step_runs (saga_id, position, step, phase, attempt, outcome, fence, process_id, started_at)
       VALUES ($1, $2, $3, 'action', $4, 'succeeded', $5, $6, $7))
     UPDATE saga.instances SET outputs = outputs || jsonb_build_object($3, $8), position = position + 1, attempt = 0,
       state = 'completed', ended_at = now(), owner_id = NULL, lease_until = NULL, updated_at = now()
     WHERE id = $1`,
  // a step that waits: its record, and the saga at rest until the wait is over
  `PREPARE saga_step_rest (uuid, integer, text, integer, jsonb, bigint, uuid, timestamptz, text, timestamptz) AS
     WITH run AS (INSERT INTO saga.step_runs (saga_id, position, step, phase, attempt, outcome, error, fence, process_id, started_at)
       VALUES ($1, $2, $3, 'action', $4, 'waiting', $5, $6, $7, $8))
     UPDATE saga.instances SET state = 'waiting', waiting_on = $9, run_at = $10, attempt = 0, owner_id = NULL,
       lease_until = NULL, updated_at = now()
     WHERE id = $1`,
  // a compensation's record and the saga's next position back
  `PREPARE saga_step_compensated (uuid, integer, text, integer, bigint, uuid, timestamptz, integer) AS
     WITH run AS (INSERT INTO saga.step_runs (saga_id, position, step, phase, attempt, outcome, fence, process_id, started_at)
       VALUES ($1, $2, $3, 'compensation', $4, 'succeeded', $5, $6, $7))
     UPDATE saga.instances SET position = position - 1, attempt = 0,
       lease_until = now() + $8 * interval '1 millisecond', updated_at = now()
     WHERE id = $1`,
].join(";\n");

/** Connections with the step statements prepared (a pooled client is one connection for its life). */
const prepared = new WeakSet<pg.PoolClient>();

/**
 * `EXECUTE name(...)` of a prepared step statement with `params` as SQL literals (strings escaped
 * by the driver), for a simple-protocol text that carries more than one statement.
 */
function execute(client: pg.ClientBase, name: string, params: readonly unknown[]): string {
  const literals = params.map((value, i) => {
    if (value === null || value === undefined) return "NULL";
    if (typeof value === "number") {
      if (!Number.isFinite(value)) throw new Error(`parameter ${i + 1} of ${name} is not a finite number`);
      return String(value);
    }
    if (value instanceof Date) return client.escapeLiteral(value.toISOString());
    if (typeof value === "string") return client.escapeLiteral(value);
    throw new Error(`parameter ${i + 1} of ${name} has no SQL literal form`);
  });
  return `EXECUTE ${name}(${literals.join(", ")})`;
}

/** Pooled clients that carry the coordinator's error listener already. */
const guarded = new WeakSet<pg.PoolClient>();

/** Free slots a busy coordinator waits for before it claims again. */
const CLAIM_BATCH = 4;

/** Thrown inside a step when the saga is no longer this process's (another claimed it). */
const LOST = Symbol("lost");
/** Thrown by a step's opening that aborted the saga for a pending abort request. */
const ABORTED = Symbol("aborted");

/** The locked row at the end of a step's opening (the last result of its text). */
function lockRowOf(result: pg.QueryResult | pg.QueryResult[]): LockRow | undefined {
  return (Array.isArray(result) ? result.at(-1) : result)?.rows[0] as LockRow | undefined;
}

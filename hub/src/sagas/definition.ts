import type { TSchema } from "@sinclair/typebox";
import type { Queryable } from "../db/queryable.js";

/** What a step's action and compensation see besides the saga's input. */
export interface StepContext {
  sagaId: string;
  /**
   * Unique per saga, step and phase (`<saga id>:<step>:action`): the idempotency key for anything
   * outside the step's transaction (a file, a call to another system), so a re-run after a crash
   * has no second effect there either.
   */
  stepKey: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Outputs of the steps completed before, by step name. */
  outputs: Readonly<Record<string, unknown>>;
  /** Aborted when the step's time limit is reached. */
  signal: AbortSignal;
  /** Who started the saga (null when the hub did, e.g. from an event); approvals are asked in their name. */
  startedBy: SagaPrincipal | null;
  /**
   * The claim's fencing token: it grows with every claim of the saga. An effect outside the
   * database passes it to the resource, which refuses a token older than one it has seen, so a
   * process that lost the saga while paused cannot act there either.
   */
  fence: number;
}

/** The principal who started a saga, as kept with it. */
export interface SagaPrincipal {
  id: string;
  kind: "user" | "token";
  name: string;
}

/**
 * What an action returns to wait instead of completing: its transaction commits (what it wrote,
 * e.g. an approval request, stays), the saga rests in `waiting`, and the same step runs again
 * when `until` comes (a durable timer) or, sooner, when what it waits `on` happens
 * (`approval:<request id>`: the request was decided). The step then looks again and completes,
 * fails or waits once more. Waiting is no attempt: it uses up no retries.
 */
export class StepWait {
  constructor(
    readonly until: Date,
    readonly on: string | null = null,
  ) {}
}

/** Waits until `until`, or until the approval request is decided, whichever comes first. */
export const waitUntil = (until: Date, on?: { approval: string }) =>
  new StepWait(until, on ? `approval:${on.approval}` : null);

/** How often a step is tried before the saga compensates (or, for a compensation, fails). */
export interface RetryPolicy {
  /** Attempts in all (default 3 for actions, 5 for compensations). */
  maxAttempts?: number;
  /** Backoff ceiling of the first retry (default 200 ms), doubling up to `maxDelayMs` (10 s); full jitter. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * One step of a saga, its compensation right beside it. Both run in a transaction that also
 * records their outcome, so a local effect and the record that it happened commit together.
 * The action's JSON result is the step's output (`outputs[name]` of later steps and of its own
 * compensation).
 */
export interface Step<I> {
  name: string;
  action(tx: Queryable, input: I, ctx: StepContext): Promise<unknown>;
  /**
   * Undoes the action's effect; absent where there is nothing to undo. A compensation must also
   * be right when its action's effect was partly undone by hand already (it looks, then acts).
   */
  compensate?(tx: Queryable, input: I, ctx: StepContext & { output: unknown }): Promise<void>;
  retry?: RetryPolicy;
  /** Time limit of one attempt (default 30 s). */
  timeoutMs?: number;
  /** Whether a failure may be retried (default: all but `PermanentStepError`). */
  retryable?(err: unknown): boolean;
}

/** A versioned saga: started on one version, it finishes on that version's steps. */
export interface SagaDefinition<I = unknown> {
  type: string;
  version: number;
  steps: Step<I>[];
  /** The whole saga's time limit from its start; past it, it compensates (default: none). */
  deadlineMs?: number;
  /** What starting it over the API needs besides `sagas:write` (e.g. `projects:write`). */
  startPermission?: `${string}:${string}`;
  /** The input a start over the API must match (refused with the path of what is wrong). */
  inputSchema?: TSchema;
  /** The saga's key from its input (one saga per key, e.g. per quote); default: the start's key. */
  keyOf?(input: I): string;
  /** Compensations are retried this way until they succeed or give up (saga `failed`). */
  compensationRetry?: RetryPolicy;
}

/** A failure no retry can mend (a business rule said no): the saga compensates at once. */
export class PermanentStepError extends Error {
  override readonly name = "PermanentStepError";
  /** The business rule's error code (`HUB_ERR_*`), kept with the saga's error. */
  readonly code?: string;
  constructor(message: string, options: { code?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = options.code;
  }
}

/** Checks a definition at startup: names unique and well-formed. */
export function defineSaga<I>(definition: SagaDefinition<I>): SagaDefinition<I> {
  if (!/^[a-z][a-z0-9-]{0,63}$/.test(definition.type)) throw new Error(`saga type ${definition.type} is malformed`);
  if (!Number.isInteger(definition.version) || definition.version < 1) {
    throw new Error(`saga ${definition.type}: version must be a positive integer`);
  }
  const names = new Set<string>();
  for (const step of definition.steps) {
    if (!/^[a-z][a-z0-9-]{0,63}$/.test(step.name)) throw new Error(`saga ${definition.type}: step ${step.name}`);
    if (names.has(step.name)) throw new Error(`saga ${definition.type}: step ${step.name} twice`);
    names.add(step.name);
  }
  if (!definition.steps.length) throw new Error(`saga ${definition.type} has no steps`);
  return definition;
}

/** A UUID, for input schemas (checked without a format registry). */
export const UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

import { createHash } from "node:crypto";
import type pg from "pg";
import type { Logger } from "pino";
import { appendRecord } from "../audit/repository.js";
import { deadLetterNotFound, deadLetterNotPending, deadLetterStale, noRedriveHandler } from "./errors.js";
import * as repo from "./repository.js";
import type { DeadLetterSummary, RedriveResult } from "./schemas.js";

/** Re-submits a dead letter's payload to where it failed; throws when it fails again. */
export type RedriveHandler = (letter: {
  source: string;
  payload: unknown;
  payloadBytes: Buffer | null;
}) => Promise<void>;

/** What code that refuses data needs: put it aside with its error, never throwing. */
export interface DeadLetterSink {
  /**
   * Stores `payload` (JSON) and/or `bytes` (binary) from `source` with the error that refused it;
   * resolves with its id, or undefined when it could not be stored (logged).
   */
  deadLetter(source: string, payload: unknown, err: unknown, bytes?: Uint8Array): Promise<number | undefined>;
}

const errorOf = (err: unknown) => {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === "string" ? e.message : String(err);
  const prefixed = /^(HUB_ERR_[A-Z_]+): /.exec(message)?.[1];
  const code = typeof e?.code === "string" ? e.code : (prefixed ?? "HUB_ERR_INTERNAL");
  return { code, message: message.slice(0, 2000) };
};

/**
 * The dead letter queue (`ops.dead_letters`): data the hub refused or could not process, with
 * source, payload, error, attempts and times. Redrive re-submits a pending letter through the
 * handler registered for its source; redrive and discard are version-checked and appended to the
 * audit trail in the caller's transaction.
 */
export class DeadLetterQueue implements DeadLetterSink {
  private readonly handlers = new Map<string, RedriveHandler>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
  ) {}

  /** Registers the redrive handler of `source`. */
  registerHandler(source: string, handler: RedriveHandler): void {
    this.handlers.set(source, handler);
  }

  async deadLetter(source: string, payload: unknown, err: unknown, bytes?: Uint8Array): Promise<number | undefined> {
    const error = errorOf(err);
    const buffer = bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : null;
    const fingerprint = createHash("sha256")
      .update(JSON.stringify(payload ?? null))
      .update(buffer ?? "")
      .digest("hex");
    try {
      const id = await repo.upsertDeadLetter(this.pool, { source, payload, bytes: buffer, fingerprint, ...error });
      this.log.warn({ deadLetterId: id, source, code: error.code }, "dead letter stored");
      return id;
    } catch (storeErr) {
      this.log.error({ err: storeErr, source, code: error.code }, "dead letter could not be stored");
      return undefined;
    }
  }

  /** A page of dead letters, newest first. */
  async list(
    db: repo.Db,
    query: { status?: string; source?: string; limit: number; cursor?: string },
  ): Promise<{ items: DeadLetterSummary[]; nextCursor: string | null }> {
    const items = await repo.listDeadLetters(db, {
      ...query,
      beforeId: query.cursor ? Number(query.cursor) : undefined,
    });
    const last = items[items.length - 1];
    return { items, nextCursor: last && items.length === query.limit ? String(last.id) : null };
  }

  /** One dead letter with its payload; 404 when unknown. */
  async get(db: repo.Db, id: number): Promise<repo.StoredDeadLetter> {
    const letter = await repo.findDeadLetter(db, id);
    if (!letter) throw deadLetterNotFound(id);
    return letter;
  }

  /**
   * Re-submits a pending dead letter through its source's handler, holding its row lock in `tx`
   * meanwhile (no concurrent redrive). Success resolves it as redriven; a failure counts an attempt
   * and keeps it pending with the new error. Either way the outcome is appended to the audit trail.
   */
  async redrive(tx: repo.Db, id: number, expected: number | null, actor: string): Promise<RedriveResult> {
    const letter = await this.pendingAt(tx, id, expected);
    const handler = this.handlers.get(letter.source);
    if (!handler) throw noRedriveHandler(letter.source);
    const { payloadBytes, payloadBase64: _b, payload, ...before } = letter;
    try {
      await handler({ source: letter.source, payload, payloadBytes });
    } catch (err) {
      const error = errorOf(err);
      const after = await repo.recordFailedRedrive(tx, id, error);
      await appendRecord(tx, {
        schema: "ops",
        table: "dead_letters",
        entityId: String(id),
        op: "REDRIVE_FAILED",
        before,
        after,
      });
      this.log.warn({ deadLetterId: id, code: error.code }, "redrive failed");
      return { deadLetter: after, ok: false, error };
    }
    const after = (await repo.resolveDeadLetter(tx, id, expected, "redriven", actor, true)) as DeadLetterSummary;
    await appendRecord(tx, {
      schema: "ops",
      table: "dead_letters",
      entityId: String(id),
      op: "REDRIVE",
      before,
      after,
    });
    this.log.info({ deadLetterId: id, source: letter.source }, "dead letter redriven");
    return { deadLetter: after, ok: true };
  }

  /** Gives a pending dead letter up (audited). */
  async discard(tx: repo.Db, id: number, expected: number | null, actor: string): Promise<DeadLetterSummary> {
    const { payloadBytes: _p, payloadBase64: _b, payload: _j, ...before } = await this.pendingAt(tx, id, expected);
    const after = (await repo.resolveDeadLetter(tx, id, expected, "discarded", actor, false)) as DeadLetterSummary;
    await appendRecord(tx, {
      schema: "ops",
      table: "dead_letters",
      entityId: String(id),
      op: "DISCARD",
      before,
      after,
    });
    this.log.info({ deadLetterId: id }, "dead letter discarded");
    return after;
  }

  /** Dead letters per status (for the gauge). */
  sizes(): Promise<Record<string, number>> {
    return repo.countByStatus(this.pool);
  }

  private async pendingAt(tx: repo.Db, id: number, expected: number | null): Promise<repo.StoredDeadLetter> {
    const letter = await repo.findDeadLetter(tx, id, true);
    if (!letter) throw deadLetterNotFound(id);
    if (expected !== null && letter.version !== expected) throw deadLetterStale(id, expected, letter.version);
    if (letter.status !== "pending") throw deadLetterNotPending(id, letter.status);
    return letter;
  }
}

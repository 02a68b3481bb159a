/// <reference path="../types/pg-utils.d.ts" />
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import pgUtils from "pg/lib/utils.js";
import type { Queryable } from "../db/queryable.js";
import { type HubErrorCode, hubError } from "../errors.js";
import type { IdempotentRequest, StoredResponse } from "./idempotency-store.js";
import { isDatabaseUnavailable } from "./problem.js";

/** What a request gets instead of running when its Idempotency-Key is another request's. */
export type KeyOutcome = { kind: "replay"; response: StoredResponse } | { kind: "mismatch" } | { kind: "in-flight" };

/** SQLSTATEs raised by ops.claim_idempotency_key (migration 0008). */
const KEY_IN_FLIGHT = "SZ409";
const KEY_EXISTS = "SZ200";

/** What a 4xx is rolled back to, keeping the key's claim (handlers must not release it). */
const SAVEPOINT = "idempotent_effect";

interface KeyRow {
  fingerprint: string;
  state: "in_flight" | "done";
  response_status: number | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
}

/**
 * The transaction of one HTTP request, on a dedicated pooled client, begun lazily: BEGIN, the
 * audit context and, with an Idempotency-Key, the key's claim and a savepoint go to PostgreSQL in
 * one message together with the handler's first statement. `finish` stores the response with
 * the commit, so a request costs one round trip more than its statements.
 *
 * The claim (ops.claim_idempotency_key) holds a transaction-level advisory lock on the key and
 * fails when another transaction holds it or a response is stored; the first statement then
 * never runs. A duplicate waits up to `waitMs` for the holder, then gets the stored response
 * (`replay`), `mismatch` (another method, path or body) or `in-flight`. A 4xx is rolled back to
 * the savepoint and stored under the key; a 5xx stores nothing, so a retry runs again.
 */
export class UnitOfWork implements Queryable {
  /** Resolves once BEGIN (and the claim) ran; rejects when the key is taken. */
  #opened?: Promise<void>;
  #began = false;
  #ended = false;
  /** Set when the key turned out to be taken. */
  #outcome?: KeyOutcome;

  constructor(
    readonly client: pg.PoolClient,
    /** BEGIN and the audit context (`beginWithAuditContextSql`). */
    private readonly beginSql: string,
    private readonly key: IdempotentRequest | undefined,
    private readonly waitMs: number,
    private readonly onClaim: (outcome: "claimed" | KeyOutcome["kind"]) => void = () => undefined,
  ) {}

  /** Whether the request has an Idempotency-Key (its response is stored). */
  get keyed(): boolean {
    return this.key !== undefined;
  }

  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    if (this.#ended) return Promise.reject(new Error("the request's transaction has ended"));
    if (!this.#opened) {
      const inlined = inlineParameters(text, values, this.#lit);
      if (inlined !== undefined) {
        const first = this.#open(inlined);
        this.#opened = first.then(
          () => undefined,
          (err) => {
            if (!this.#began) throw err;
          },
        );
        this.#opened.catch(() => undefined); // observed by later statements and `finish`
        return first as Promise<pg.QueryResult<R>>;
      }
      this.#opened = this.#open().then(() => undefined);
      this.#opened.catch(() => undefined);
    }
    return this.#opened.then(() => this.client.query<R>(text, values));
  }

  /**
   * Ends the unit once the handler answered `status`: commits a success and stores `response`
   * under the key in the same commit; stores a 4xx's response after rolling its effect back;
   * rolls back a 5xx. Returns the outcome when the key turned out to be taken (possible only
   * when the handler ran no statement, so nothing has been done).
   */
  async finish(status: number, response: StoredResponse | undefined): Promise<KeyOutcome | undefined> {
    if (this.#ended) return this.#outcome;
    await this.#opened?.catch(() => undefined);
    if (this.#outcome) return this.#end(this.#outcome);
    const store = this.key && status < 500 ? this.#storeSql(status, response) : undefined;
    if (!store) {
      if (status < 400 && this.#began) {
        if (this.client.getTransactionStatus() === "E") {
          await this.rollback();
          throw new Error("the handler answered with a success after one of its statements failed");
        }
        await this.client.query("COMMIT");
      } else await this.rollback();
      return this.#end(undefined);
    }
    try {
      if (!this.#began) await this.#open(`${store}; COMMIT`);
      else
        await this.client.query(
          status < 400 ? `${store}; COMMIT` : `ROLLBACK TO SAVEPOINT ${SAVEPOINT}; ${store}; COMMIT`,
        );
    } catch (err) {
      if (this.#outcome) return this.#end(this.#outcome);
      await this.rollback();
      throw err;
    }
    return this.#end(undefined);
  }

  /** Rolls back whatever ran (the request ended without a response, or failed). */
  async rollback(): Promise<void> {
    this.#ended = true;
    // (ROLLBACK outside a transaction only warns; the status may lag behind the last error)
    if (this.#began) await this.client.query("ROLLBACK");
    this.#began = false;
  }

  readonly #lit = (value: string): string => this.client.escapeLiteral(value);

  #end(outcome: KeyOutcome | undefined): KeyOutcome | undefined {
    this.#ended = true;
    return outcome;
  }

  /**
   * Runs BEGIN, the audit context, the claim and the savepoint, followed by `statement` in the
   * same message; returns the statement's result. While the key is another transaction's, waits
   * and tries again; throws a KeyTaken error once the outcome is known.
   */
  async #open(statement?: string): Promise<pg.QueryResult | undefined> {
    const lit = this.#lit;
    const parts = [this.beginSql];
    if (this.key) {
      parts.push(
        `SELECT ops.claim_idempotency_key(${lit(this.key.principalId)}, ${lit(this.key.key)})`,
        `SAVEPOINT ${SAVEPOINT}`,
      );
    }
    if (statement) parts.push(statement);
    const sql = parts.join("; ");
    const deadline = Date.now() + this.waitMs;
    let pause = 5;
    for (;;) {
      try {
        const results = (await this.client.query(sql)) as unknown as pg.QueryResult | pg.QueryResult[];
        this.#began = true;
        if (this.key) this.onClaim("claimed");
        return statement ? (Array.isArray(results) ? results[results.length - 1] : results) : undefined;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (!this.key || (code !== KEY_IN_FLIGHT && code !== KEY_EXISTS)) {
          // The statement failed in the open transaction (the handler sees its error), or the
          // connection did. Not the client's transaction status: pg rejects at the ErrorResponse,
          // and the ReadyForQuery that updates the status may arrive in a later read.
          this.#began = code !== undefined && !isDatabaseUnavailable(err);
          throw err;
        }
      }
      const key = this.key;
      const found = (await this.client.query(
        `ROLLBACK; SELECT fingerprint, state, response_status, response_headers, response_body
         FROM ops.idempotency_keys WHERE principal_id = ${lit(key.principalId)} AND key = ${lit(key.key)}`,
      )) as unknown as pg.QueryResult<KeyRow>[];
      const row = found[1]?.rows[0];
      let outcome: KeyOutcome | undefined;
      if (row?.state === "done") {
        outcome =
          row.fingerprint !== key.fingerprint
            ? { kind: "mismatch" }
            : {
                kind: "replay",
                response: {
                  status: row.response_status ?? 200,
                  headers: row.response_headers ?? {},
                  body: row.response_body,
                },
              };
      } else if (Date.now() >= deadline) outcome = { kind: "in-flight" };
      if (outcome) {
        this.#outcome = outcome;
        this.onClaim(outcome.kind);
        throw keyTaken(outcome);
      }
      await sleep(Math.min(pause, Math.max(1, deadline - Date.now())));
      pause = Math.min(pause * 2, 100);
    }
  }

  #storeSql(status: number, response: StoredResponse | undefined): string {
    const lit = this.#lit;
    const key = this.key as IdempotentRequest;
    const body = response?.body;
    return `INSERT INTO ops.idempotency_keys (principal_id, key, fingerprint, method, path, state, response_status,
      response_headers, response_body, completed_at)
      VALUES (${lit(key.principalId)}, ${lit(key.key)}, ${lit(key.fingerprint)}, ${lit(key.method)}, ${lit(key.path)},
      'done', ${Math.trunc(status)}, ${lit(JSON.stringify(response?.headers ?? {}))}, ${body == null ? "NULL" : lit(body)}, now())`;
  }
}

/** The error for `outcome`: 422 for a mismatch, else 409 (a replay's stands in for the stored response). */
export function keyTaken(outcome: KeyOutcome): Error & { code: HubErrorCode } {
  return outcome.kind === "mismatch"
    ? hubError(
        "HUB_ERR_IDEMPOTENCY_MISMATCH",
        "this Idempotency-Key was used for a request with another method, path or body",
      )
    : hubError(
        "HUB_ERR_IDEMPOTENCY_IN_FLIGHT",
        outcome.kind === "replay"
          ? "this Idempotency-Key's request is done: its response is replayed"
          : "a request with this Idempotency-Key is still being processed",
      );
}

/**
 * `text` with each `$n` replaced by the escaped literal of `values[n-1]`, serialised as pg
 * serialises parameters (an untyped literal is resolved like an untyped parameter), so it can
 * share a simple-protocol message with other statements. Undefined when that is not certain to be
 * the same statement: quotes, comments or dollar quoting in the text (a `$n` there is not a
 * parameter), a missing value, or a binary one.
 */
export function inlineParameters(
  text: string,
  values: readonly unknown[] = [],
  escapeLiteral: (value: string) => string,
): string | undefined {
  if (/['"]|--|\/\*|\$(?!\d)/.test(text)) return undefined;
  let exact = true;
  const sql = text.replace(/\$(\d+)/g, (placeholder, n: string) => {
    const index = Number(n) - 1;
    if (index >= values.length) {
      exact = false;
      return placeholder;
    }
    const value = pgUtils.prepareValue(values[index]);
    if (value === null) return "NULL";
    if (typeof value !== "string") {
      exact = false;
      return placeholder;
    }
    return escapeLiteral(value);
  });
  return exact ? sql : undefined;
}

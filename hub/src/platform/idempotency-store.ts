import { createHash, randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { hubError } from "../errors.js";

/** A response as stored for replay. */
export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string | null;
}

/** What claiming a key found. */
export type ClaimOutcome =
  | { kind: "claimed"; token: string }
  | { kind: "replay"; response: StoredResponse }
  | { kind: "mismatch" }
  | { kind: "in-flight" };

/** One request with an Idempotency-Key (or a gRPC request id), scoped to its principal. */
export interface IdempotentRequest {
  principalId: string;
  key: string;
  fingerprint: string;
  method: string;
  path: string;
}

/** Timing of claims made in their own transaction (`claimKey`, `runIdempotent`). */
export interface ClaimOptions {
  /** How long a duplicate waits for the first request to finish before 409 (default 5000 ms). */
  inFlightWaitMs?: number;
  /** An in-flight claim older than this belongs to a crashed hub and may be taken over (default 60 s). */
  leaseMs?: number;
}

/** Idempotency-Key: 1–255 printable ASCII characters; a structured-field string's quotes are dropped. */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const raw = Array.isArray(header) ? header.join(",") : header;
  const key = /^"(.*)"$/.exec(raw)?.[1] ?? raw;
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw hubError("HUB_ERR_IDEMPOTENCY_KEY_INVALID", "Idempotency-Key must be 1-255 printable ASCII characters");
  }
  return key;
}

/** SHA-256 (hex) of method, path and body: what makes two requests with one key "the same". */
export function fingerprintOf(method: string, path: string, body: unknown): string {
  return createHash("sha256")
    .update(`${method}\n${path}\n${body === undefined ? "" : JSON.stringify(body)}`)
    .digest("hex");
}

interface KeyRow {
  fingerprint: string;
  state: "in_flight" | "done";
  expired: boolean;
  response_status: number | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
}

/**
 * Claims `req`'s key in its own (autocommit) statement with INSERT ... ON CONFLICT DO NOTHING,
 * so of any number of concurrent duplicates exactly one gets `claimed`. The others: `mismatch`
 * when the fingerprint differs, `replay` once the first has stored its response (they wait up to
 * `inFlightWaitMs` for it), `in-flight` when it is still running after that. A claim whose lease
 * ran out (its hub crashed) is taken over.
 */
export async function claimKey(
  pool: pg.Pool,
  req: IdempotentRequest,
  options: ClaimOptions = {},
): Promise<ClaimOutcome> {
  const leaseMs = options.leaseMs ?? 60_000;
  const deadline = Date.now() + (options.inFlightWaitMs ?? 5000);
  let pause = 5;
  for (;;) {
    const token = randomUUID();
    const inserted = await pool.query(
      `INSERT INTO ops.idempotency_keys (principal_id, key, fingerprint, method, path, claim_token, lease_until)
       VALUES ($1, $2, $3, $4, $5, $6, now() + $7 * interval '1 millisecond')
       ON CONFLICT (principal_id, key) DO NOTHING`,
      [req.principalId, req.key, req.fingerprint, req.method, req.path, token, leaseMs],
    );
    if (inserted.rowCount === 1) return { kind: "claimed", token };
    const { rows } = await pool.query<KeyRow>(
      `SELECT fingerprint, state, lease_until < now() AS expired, response_status, response_headers, response_body
       FROM ops.idempotency_keys WHERE principal_id = $1 AND key = $2`,
      [req.principalId, req.key],
    );
    const row = rows[0];
    if (!row) continue; // released (the first request failed with a 5xx): claim again
    if (row.fingerprint !== req.fingerprint) return { kind: "mismatch" };
    if (row.state === "done") {
      return {
        kind: "replay",
        response: { status: row.response_status ?? 200, headers: row.response_headers ?? {}, body: row.response_body },
      };
    }
    if (row.expired) {
      const taken = await pool.query(
        `UPDATE ops.idempotency_keys SET claim_token = $3, lease_until = now() + $4 * interval '1 millisecond'
         WHERE principal_id = $1 AND key = $2 AND state = 'in_flight' AND lease_until < now()`,
        [req.principalId, req.key, token, leaseMs],
      );
      if (taken.rowCount === 1) return { kind: "claimed", token };
      continue;
    }
    if (Date.now() >= deadline) return { kind: "in-flight" };
    await sleep(Math.min(pause, Math.max(1, deadline - Date.now())));
    pause = Math.min(pause * 2, 100);
  }
}

/**
 * Stores the first response of a claimed key: on the handler's transaction `client`, so the
 * effect and the stored response commit together. Throws HUB_ERR_IDEMPOTENCY_IN_FLIGHT when the
 * claim was taken over meanwhile (the caller must roll back: the other holder's effect counts).
 */
export async function completeKey(
  client: pg.ClientBase | pg.Pool,
  req: Pick<IdempotentRequest, "principalId" | "key">,
  token: string,
  response: StoredResponse,
): Promise<void> {
  const done = await client.query(
    `UPDATE ops.idempotency_keys
     SET state = 'done', response_status = $4, response_headers = $5, response_body = $6, completed_at = now()
     WHERE principal_id = $1 AND key = $2 AND claim_token = $3 AND state = 'in_flight'`,
    [req.principalId, req.key, token, response.status, JSON.stringify(response.headers), response.body],
  );
  if (done.rowCount !== 1) {
    throw hubError(
      "HUB_ERR_IDEMPOTENCY_IN_FLIGHT",
      "the claim on this Idempotency-Key expired and another request took it over; this one changed nothing",
    );
  }
}

/** Gives a claimed key up (the request failed in a way worth retrying): the next request claims it anew. */
export async function releaseKey(
  pool: pg.Pool,
  req: Pick<IdempotentRequest, "principalId" | "key">,
  token: string,
): Promise<void> {
  await pool.query(
    "DELETE FROM ops.idempotency_keys WHERE principal_id = $1 AND key = $2 AND claim_token = $3 AND state = 'in_flight'",
    [req.principalId, req.key, token],
  );
}

/** Deletes keys older than `olderThanMs` (default 24 h; keys are kept at least that long). Returns how many. */
export async function purgeIdempotencyKeys(pool: pg.Pool, olderThanMs = 86_400_000): Promise<number> {
  const { rowCount } = await pool.query(
    "DELETE FROM ops.idempotency_keys WHERE created_at < now() - $1 * interval '1 millisecond'",
    [olderThanMs],
  );
  return rowCount ?? 0;
}

/**
 * The same semantics for a gRPC (or any non-HTTP) request carrying a request id: runs `run` once
 * per (principal, key) and returns its JSON result to every duplicate. `run` commits its own
 * effect, so unlike the HTTP plugin the effect and the stored result are two commits: use it only
 * for effects that are themselves idempotent (a crash between the two makes a later duplicate,
 * after the lease, run `run` again). Throws HUB_ERR_IDEMPOTENCY_MISMATCH / _IN_FLIGHT.
 */
export async function runIdempotent<T>(
  pool: pg.Pool,
  req: IdempotentRequest,
  run: () => Promise<T>,
  options: ClaimOptions = {},
): Promise<{ value: T; replayed: boolean }> {
  const claim = await claimKey(pool, req, options);
  if (claim.kind === "mismatch") {
    throw hubError("HUB_ERR_IDEMPOTENCY_MISMATCH", `request id ${req.key} was used before for a different request`);
  }
  if (claim.kind === "in-flight") {
    throw hubError("HUB_ERR_IDEMPOTENCY_IN_FLIGHT", `request id ${req.key} is still being processed`);
  }
  if (claim.kind === "replay") return { value: JSON.parse(claim.response.body ?? "null") as T, replayed: true };
  let value: T;
  try {
    value = await run();
  } catch (err) {
    await releaseKey(pool, req, claim.token).catch(() => undefined);
    throw err;
  }
  await completeKey(pool, req, claim.token, { status: 0, headers: {}, body: JSON.stringify(value ?? null) });
  return { value, replayed: false };
}

import type { Queryable } from "../db/queryable.js";
import { hubError } from "../errors.js";
import type { Principal } from "../platform/principal.js";
import type { ApprovalPolicy, ApprovalRequest, ApprovalSubject } from "./repository.js";
import * as repo from "./repository.js";

export type {
  ApprovalListQuery,
  ApprovalPolicy,
  ApprovalRequest,
  ApprovalStatus,
  ApprovalSubject,
} from "./repository.js";

/** What an executor carries out: the request's operation, subject, payload and facts. */
export type ApprovalWork = Pick<ApprovalRequest, "operation" | "subject" | "payload" | "facts">;

/**
 * Carries out an approved operation in the approver's transaction and returns what it did (JSON,
 * kept as the request's `result`). Throwing rolls the approval back with it: the request stays
 * pending, and the approver sees why (and may reject it).
 */
export type ApprovalExecutor = (tx: Queryable, work: ApprovalWork) => Promise<unknown>;

/** How an executor is registered. */
export interface ApprovalExecutorOptions {
  /**
   * Its effects are all in the database: `requestApproval` runs it once and rolls it back (to a
   * savepoint), so a request that could not be carried out (stock missing, nothing left to
   * credit) is refused when it is made, not when it is approved. Never for an executor with
   * effects outside the transaction (a command to an edge).
   */
  rehearse?: boolean;
}

const executors = new Map<string, { execute: ApprovalExecutor; rehearse: boolean }>();

/**
 * Registers what carries out `operation` once approved (the domain that owns the operation does,
 * when its routes are registered; a second registration replaces the first). An operation
 * without an executor stays `approved` until whoever carries it out calls `markExecuted`.
 */
export function registerApprovalExecutor(
  operation: string,
  execute: ApprovalExecutor,
  options: ApprovalExecutorOptions = {},
): void {
  executors.set(operation, { execute, rehearse: options.rehearse ?? false });
}

/** The facts a policy's trigger looks at. */
export interface ApprovalFacts {
  /** The operation's amount in cents (an invoice's gross), for `amount_above` policies. */
  amountCents?: number;
}

/**
 * The policy that makes `operation` with these facts need a second person's approval, or null
 * when it may be done at once (no policy, or an amount not above the policy's). An amount
 * policy without the amount given counts as triggered.
 */
export async function requiresApproval(
  db: Queryable,
  operation: string,
  facts: ApprovalFacts = {},
): Promise<ApprovalPolicy | null> {
  const policy = await repo.findPolicy(db, operation);
  if (!policy || policy.trigger === "always") return policy;
  const amount = facts.amountCents;
  return amount === undefined || amount > (policy.thresholdCents as number) ? policy : null;
}

/** What `requestApproval` records. */
export interface ApprovalInput {
  operation: string;
  subject: ApprovalSubject;
  /** What the executor will carry out (JSON). */
  payload: Record<string, unknown>;
  /** What the approver decides on (JSON), e.g. `{ amountCents }`. */
  facts?: Record<string, unknown>;
  principal: Principal;
}

/**
 * Asks for a second person's approval of an operation, in the caller's transaction (which must
 * be open: the rehearsal uses a savepoint). Idempotent: while a request of the same operation on
 * the same subject with the same payload is pending, it is returned; one with another payload
 * is refused (`HUB_ERR_APPROVAL_PENDING`: one pending request per operation and subject, also
 * under concurrency, by the database's unique index). A pending request past its expiry is
 * marked expired first and no longer counts. With a rehearsing executor, the operation is tried
 * (and rolled back) before anything is recorded, and its refusal is the caller's.
 */
export async function requestApproval(tx: Queryable, input: ApprovalInput): Promise<ApprovalRequest> {
  const { operation, subject, payload } = input;
  if (!(await repo.findPolicy(tx, operation))) throw new Error(`no approval policy for operation ${operation}`);
  await repo.markExpired(tx, { operation, subject });
  const requester = await repo.personOf(tx, input.principal);
  const executor = executors.get(operation);
  let rehearsed = false;
  for (let attempt = 0; attempt < 3; attempt++) {
    const pending = await repo.findPending(tx, operation, subject, payload);
    if (pending?.samePayload) return pending.request;
    if (pending) {
      throw hubError(
        "HUB_ERR_APPROVAL_PENDING",
        `approval request ${pending.request.id} for ${operation} of ${subject.entity} ${subject.id} awaits its decision: have it decided first`,
      );
    }
    if (executor?.rehearse && !rehearsed) {
      await rehearse(tx, () => executor.execute(tx, { operation, subject, payload, facts: input.facts ?? {} }));
      rehearsed = true;
    }
    const id = await repo.insertRequest(tx, { operation, subject, payload, facts: input.facts ?? {}, requester });
    if (id) return (await repo.findRequest(tx, id)) as ApprovalRequest;
    // another transaction's request for the subject committed meanwhile: look again
  }
  throw new Error(`approval request for ${operation} of ${subject.entity} ${subject.id} kept conflicting`);
}

/** Runs `work` and rolls its effects back, keeping the transaction usable; rethrows its error. */
async function rehearse(tx: Queryable, work: () => Promise<unknown>): Promise<void> {
  await tx.query("SAVEPOINT approval_rehearsal");
  let failure: unknown;
  try {
    await work();
  } catch (err) {
    failure = err;
  }
  try {
    await tx.query("ROLLBACK TO SAVEPOINT approval_rehearsal; RELEASE SAVEPOINT approval_rehearsal");
  } catch (err) {
    throw failure ?? err;
  }
  if (failure !== undefined) throw failure;
}

/**
 * Decides a request, in the caller's transaction: the principal needs one of the policy's
 * approver roles (403 `HUB_ERR_FORBIDDEN`), the request must be pending and not expired (409
 * `HUB_ERR_APPROVAL_CLOSED`), and the decider must be someone other than the requester (409
 * `HUB_ERR_APPROVAL_SELF`; an API token counts as its user). The request's row lock orders
 * concurrent decisions: the first decides, the others find it closed. An approval is carried out
 * at once by the operation's executor, in the same transaction, and recorded as `executed` with
 * its result; if it fails, nothing is recorded. The database enforces the same rules.
 */
export async function decide(
  tx: Queryable,
  id: string,
  principal: Principal,
  decision: "approve" | "reject",
  comment?: string | null,
): Promise<ApprovalRequest> {
  const request = await repo.lockRequest(tx, id);
  if (!request) throw hubError("HUB_ERR_NOT_FOUND", `approval request ${id} does not exist`);
  if (!principal.roles.some((role) => request.approverRoles.includes(role))) {
    throw hubError(
      "HUB_ERR_FORBIDDEN",
      `deciding ${request.operation} needs one of the roles ${request.approverRoles.join(", ")}`,
    );
  }
  if (request.status !== "pending") {
    throw hubError(
      "HUB_ERR_APPROVAL_CLOSED",
      `approval request ${id} is ${request.status}${request.status === "expired" ? ` (since ${request.expiresAt})` : ""}: it can no longer be decided`,
    );
  }
  const decider = await repo.personOf(tx, principal);
  if (decider.id === request.requestedBy) {
    throw hubError("HUB_ERR_APPROVAL_SELF", `approval request ${id} is yours: another person must decide it`);
  }
  await repo.recordDecision(tx, id, decision === "approve" ? "approved" : "rejected", decider, comment ?? null);
  const executor = decision === "approve" ? executors.get(request.operation) : undefined;
  if (executor) await repo.recordExecution(tx, id, (await executor.execute(tx, request)) ?? {});
  return (await repo.findRequest(tx, id)) as ApprovalRequest;
}

/**
 * Records that an approved request whose operation has no executor was carried out (by a saga
 * step or a command channel), with what that returned. 409 `HUB_ERR_APPROVAL_CLOSED` unless it
 * is approved and not yet executed.
 */
export async function markExecuted(tx: Queryable, id: string, result: unknown): Promise<ApprovalRequest> {
  const request = await repo.lockRequest(tx, id);
  if (!request) throw hubError("HUB_ERR_NOT_FOUND", `approval request ${id} does not exist`);
  if (request.status !== "approved") {
    throw hubError("HUB_ERR_APPROVAL_CLOSED", `approval request ${id} is ${request.status}, not approved`);
  }
  await repo.recordExecution(tx, id, result ?? {});
  return (await repo.findRequest(tx, id)) as ApprovalRequest;
}

/** One request; 404 when unknown. Its status follows the expiry rule (pending past expiry: expired). */
export async function getApproval(db: Queryable, id: string): Promise<ApprovalRequest> {
  const request = await repo.findRequest(db, id);
  if (!request) throw hubError("HUB_ERR_NOT_FOUND", `approval request ${id} does not exist`);
  return request;
}

/**
 * Where a request is, for a saga step polling it: `pending` (wait), `approved` (carry it out,
 * then `markExecuted`), `executed` (done: `result`), `rejected` or `expired` (compensate). 404
 * when unknown.
 */
export function approvalStatus(
  db: Queryable,
  id: string,
): Promise<Pick<ApprovalRequest, "id" | "status" | "decidedBy" | "decidedAt" | "comment" | "result">> {
  return getApproval(db, id);
}

/** Requests newest first, filtered by status (as the expiry rule reads it) and operation, in keyset pages. */
export const listApprovals = repo.listRequests;

/**
 * Marks every pending request past its expiry as expired (the status reads so already; this
 * records it, audited, and frees the subject for a new request). Returns how many. For the
 * hub's hourly maintenance.
 */
export async function expireApprovals(db: Queryable): Promise<number> {
  return (await repo.markExpired(db)).length;
}

/** Where a request is served over HTTP. */
export const approvalLocation = (id: string): string => `/api/v1/approvals/${id}`;

/**
 * The answer of an operation held for approval: 202 with `{ approval }` and the request's
 * `Location` (the shape of `EntityHooks.holdCreate` and of the routes that hold operations).
 */
export const heldAnswer = (approval: ApprovalRequest) => ({
  location: approvalLocation(approval.id),
  body: { approval },
});

/** The person deciding or asking, as the API names them (an API token counts as its user). */
export const personOf = repo.personOf;

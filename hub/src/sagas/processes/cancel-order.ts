import { Type } from "@sinclair/typebox";
import { findPolicy } from "../../approvals/repository.js";
import { requestApproval } from "../../approvals/service.js";
import type { Queryable } from "../../db/queryable.js";
import { creditInvoice } from "../../erp/billing/credit-notes.js";
import { defineSaga, PermanentStepError, UUID_PATTERN, waitUntil } from "../definition.js";
import { type EdgeIdentityDeps, revokeEdgeIdentity } from "./edge-identity.js";
import { draftInvoiceFromQuote, ORDER_TO_COMMISSIONING } from "./order-to-commissioning.js";

/** Which order to cancel (by its quote), and why (on the credit note and in the trail). */
export interface CancelInput {
  quoteId: string;
  reason: string;
}

const CANCEL_INVOICE = "invoice.cancel";

/** What the order did, from its completed saga's outputs. */
interface Order {
  projectId: string;
  projectCreated: boolean;
  ticketId: string;
  invoiceId: string;
  reservations: { reservationId: string; quantity: string }[];
  gateway: { gatewayId: string; edgeId: string; created: boolean; enrollmentCode: string | null } | null;
}

async function loadOrder(db: Queryable, quoteId: string): Promise<Order> {
  const { rows } = await db.query(
    "SELECT state, outputs FROM saga.instances WHERE type = $1 AND idempotency_key = $2",
    [ORDER_TO_COMMISSIONING, quoteId],
  );
  const saga = rows[0];
  if (!saga) throw new PermanentStepError(`no order was made from quote ${quoteId}`, { code: "HUB_ERR_NOT_FOUND" });
  if (saga.state !== "completed") {
    throw new PermanentStepError(
      `the order of quote ${quoteId} is ${saga.state}: only a completed order is cancelled`,
      {
        code: "HUB_ERR_TRANSITION_NOT_ALLOWED",
      },
    );
  }
  const o = saga.outputs;
  return {
    projectId: o["create-project"].projectId,
    projectCreated: o["create-project"].created,
    ticketId: o["schedule-installation"].ticketId,
    invoiceId: o["draft-invoice"].invoiceId,
    reservations: o["reserve-stock"],
    gateway: o["enroll-gateway"],
  };
}

/**
 * Cancels an order (made by order-to-commissioning) before its installation: the invoice draft
 * deleted — or, when it was finalised already, credited in full, which waits for a second
 * person's approval (policy `invoice.cancel`) —, the stock released, the installation ticket
 * cancelled, the gateway's identity revoked, the project and the quote cancelled. Refused before
 * anything is done when the project was installed already (that is rework, not a cancellation).
 */
export const cancelOrder = (deps: EdgeIdentityDeps) =>
  defineSaga<CancelInput>({
    type: "cancel-order",
    version: 1,
    startPermission: "projects:write",
    keyOf: ({ quoteId }) => quoteId,
    inputSchema: Type.Object(
      { quoteId: Type.String({ pattern: UUID_PATTERN }), reason: Type.String({ minLength: 1, maxLength: 500 }) },
      { additionalProperties: false },
    ),
    steps: [
      {
        name: "check-order",
        async action(tx, { quoteId }) {
          const order = await loadOrder(tx, quoteId);
          const { rows } = await tx.query("SELECT number, status FROM erp.projects WHERE id = $1", [order.projectId]);
          if (!["ordered", "scheduled"].includes(rows[0]?.status)) {
            throw new PermanentStepError(
              `project ${rows[0]?.number ?? order.projectId} is ${rows[0]?.status ?? "gone"}: too late to cancel the order`,
              {
                code: "HUB_ERR_TRANSITION_NOT_ALLOWED",
              },
            );
          }
          return order;
        },
      },
      {
        // A draft goes; a finalised invoice is credited (after approval where the policy asks).
        name: "settle-invoice",
        async action(tx, { quoteId, reason }, { sagaId, outputs, startedBy }) {
          const { invoiceId } = outputs["check-order"] as Order;
          const { rows } = await tx.query("SELECT status, number FROM erp.invoices WHERE id = $1 FOR UPDATE", [
            invoiceId,
          ]);
          const invoice = rows[0];
          if (!invoice) return { invoice: "gone" };
          if (invoice.status === "draft") {
            await tx.query("DELETE FROM erp.invoices WHERE id = $1", [invoiceId]);
            return { invoice: "deleted", quoteId };
          }
          const credit = { notes: `Storno: ${reason}` };
          if (!(await findPolicy(tx, CANCEL_INVOICE))) {
            return { invoice: "credited", creditNoteId: await creditInvoice(tx, invoiceId, credit) };
          }
          const { rows: asked } = await tx.query(
            `SELECT id, status, result, comment, decided_by_name, expires_at FROM ops.approval_requests
             WHERE operation = $1 AND subject_type = 'invoices' AND subject_id = $2 AND payload ->> 'sagaId' = $3
             ORDER BY requested_at DESC LIMIT 1`,
            [CANCEL_INVOICE, invoiceId, sagaId],
          );
          const request = asked[0];
          if (request?.status === "executed") return { invoice: "credited", creditNoteId: request.result.creditNoteId };
          if (request && request.status !== "pending") {
            throw new PermanentStepError(
              `the cancellation of invoice ${invoice.number} was ${request.status}${request.decided_by_name ? ` by ${request.decided_by_name}` : ""}${request.comment ? `: ${request.comment}` : ""}`,
              { code: "HUB_ERR_APPROVAL_CLOSED" },
            );
          }
          const pending =
            request ??
            (await requestApproval(tx, {
              operation: CANCEL_INVOICE,
              subject: { entity: "invoices", id: invoiceId },
              payload: { ...credit, sagaId },
              facts: { number: invoice.number, reason },
              principal: { ...(startedBy ?? { id: "system:sagas", kind: "user", name: "cancel-order" }), roles: [] },
            }));
          const expiresAt = new Date(request ? request.expires_at : (pending as { expiresAt: string }).expiresAt);
          return waitUntil(new Date(expiresAt.getTime() + 1_000), { approval: pending.id });
        },
        // Only a deleted draft comes back (a credit note is final).
        async compensate(tx, { quoteId }, { output, outputs }) {
          if ((output as { invoice: string }).invoice !== "deleted") return;
          await draftInvoiceFromQuote(tx, quoteId, (outputs["check-order"] as Order).projectId);
        },
      },
      {
        name: "release-stock",
        async action(tx, _input, { outputs }) {
          const released: { reservationId: string; quantity: string }[] = [];
          for (const r of (outputs["check-order"] as Order).reservations) {
            const { rows } = await tx.query("DELETE FROM erp.reservations WHERE id = $1 RETURNING quantity::text", [
              r.reservationId,
            ]);
            if (rows[0]) released.push({ reservationId: r.reservationId, quantity: rows[0].quantity });
          }
          return released;
        },
      },
      {
        name: "cancel-installation",
        async action(tx, _input, { outputs }) {
          const { rowCount } = await tx.query(
            `UPDATE erp.tickets SET status = 'cancelled', version = version + 1, updated_at = now()
             WHERE id = $1 AND status NOT IN ('closed', 'cancelled')`,
            [(outputs["check-order"] as Order).ticketId],
          );
          return { cancelled: rowCount === 1 };
        },
      },
      {
        name: "revoke-gateway",
        async action(tx, _input, { outputs, sagaId, fence }) {
          const { gateway } = outputs["check-order"] as Order;
          // a gateway that was enrolled before the order keeps its identity
          if (!gateway) return { gateway: null };
          if (!gateway.created && !gateway.enrollmentCode) return { edgeId: gateway.edgeId, untouched: true };
          const revoked = await revokeEdgeIdentity(deps, gateway.edgeId, { owner: sagaId, fence });
          if (gateway.created) await tx.query("DELETE FROM erp.gateways WHERE id = $1", [gateway.gatewayId]);
          return { edgeId: gateway.edgeId, ...revoked, gatewayDeleted: gateway.created };
        },
      },
      {
        name: "cancel-project",
        async action(tx, { quoteId }, { outputs }) {
          const { projectId } = outputs["check-order"] as Order;
          await tx.query(
            "UPDATE erp.projects SET status = 'cancelled', version = version + 1, updated_at = now() WHERE id = $1 AND status IN ('ordered', 'scheduled')",
            [projectId],
          );
          await tx.query(
            "UPDATE erp.quotes SET status = 'cancelled', version = version + 1, updated_at = now() WHERE id = $1",
            [quoteId],
          );
          return { projectId };
        },
      },
    ],
  });

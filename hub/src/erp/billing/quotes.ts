import type { Queryable } from "../../db/queryable.js";
import { hubError } from "../../errors.js";
import type { Principal } from "../../platform/principal.js";
import { publish } from "../../sagas/outbox.js";

/**
 * A quote is accepted (inside the transition's transaction): it records when, and the event
 * `quote.accepted` goes to the outbox in the same transaction, which starts the quote's
 * order-to-commissioning process (hub/src/sagas/processes/): project, stock, installation ticket,
 * gateway enrollment and the invoice draft, each undone if a later one fails.
 */
export async function acceptQuote(tx: Queryable, quoteId: string, principal?: Principal): Promise<void> {
  // what the order would refuse anyway is refused here, while the caller waits for the answer
  const { rows } = await tx.query(
    "SELECT p.number, p.status FROM erp.quotes q JOIN erp.projects p ON p.id = q.project_id WHERE q.id = $1",
    [quoteId],
  );
  if (rows[0] && (rows[0].status === "cancelled" || rows[0].status === "closed")) {
    throw hubError(
      "HUB_ERR_TRANSITION_NOT_ALLOWED",
      `project ${rows[0].number} is ${rows[0].status}: a quote for it cannot be accepted`,
    );
  }
  await tx.query("UPDATE erp.quotes SET accepted_at = now(), version = version + 1, updated_at = now() WHERE id = $1", [
    quoteId,
  ]);
  await publish(tx, {
    topic: "quote.accepted",
    key: quoteId,
    payload: { quoteId, by: principal ? { id: principal.id, kind: principal.kind, name: principal.name } : null },
  });
}

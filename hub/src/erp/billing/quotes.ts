import type { Queryable } from "../../db/queryable.js";
import type { Principal } from "../../platform/principal.js";
import { publish } from "../../sagas/outbox.js";

/**
 * A quote is accepted (inside the transition's transaction): it records when, and the event
 * `quote.accepted` goes to the outbox in the same transaction, which starts the quote's
 * order-to-commissioning process (hub/src/sagas/processes/): project, stock, installation ticket,
 * gateway enrollment and the invoice draft, each undone if a later one fails.
 */
export async function acceptQuote(tx: Queryable, quoteId: string, principal?: Principal): Promise<void> {
  await tx.query("UPDATE erp.quotes SET accepted_at = now(), version = version + 1, updated_at = now() WHERE id = $1", [
    quoteId,
  ]);
  await publish(tx, {
    topic: "quote.accepted",
    key: quoteId,
    payload: { quoteId, by: principal ? { id: principal.id, kind: principal.kind, name: principal.name } : null },
  });
}

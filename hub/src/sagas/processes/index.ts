import type { SagaDefinition } from "../definition.js";
import type { OutboxHandler } from "../outbox.js";
import { startSaga } from "../repository.js";
import { cancelOrder } from "./cancel-order.js";
import type { EdgeIdentityDeps } from "./edge-identity.js";
import { ORDER_TO_COMMISSIONING, orderToCommissioning } from "./order-to-commissioning.js";

export type { EdgeIdentityDeps } from "./edge-identity.js";

/** The hub's business processes and the events that start them. */
export interface HubProcesses {
  definitions: SagaDefinition<never>[];
  outbox: ReadonlyMap<string, OutboxHandler>;
}

/** `quote.accepted` (billing, in the acceptance's transaction) starts the quote's order, once. */
const startOrder: OutboxHandler = async (tx, event) => {
  const { quoteId, by } = event.payload as {
    quoteId: string;
    by: { id: string; kind: "user" | "token"; name: string } | null;
  };
  await startSaga(tx, {
    type: ORDER_TO_COMMISSIONING,
    version: 1,
    key: quoteId,
    input: { quoteId },
    startedBy: by ?? "quote.accepted",
  });
};

/** Every process definition the hub runs, with what they need of the hub. */
export function hubProcesses(deps: EdgeIdentityDeps): HubProcesses {
  return {
    definitions: [orderToCommissioning(deps), cancelOrder(deps)] as SagaDefinition<never>[],
    outbox: new Map([["quote.accepted", startOrder]]),
  };
}

/** The dead letter queue: what the hub refused, kept for inspection, redrive and discard. */

export { observeDeadLetters } from "./metrics.js";
export { type DeadLetterRoutesOptions, deadLetterRoutes } from "./routes.js";
export { DeadLetterQueue, type DeadLetterSink, type RedriveHandler } from "./service.js";

/** The hub as a library: used by the demo launcher and the tests. */

export { type EmbeddedDatabase, startEmbeddedPostgres } from "./db/embedded-postgres.js";
export { HUB_ERRORS } from "./errors.js";
export { type Hub, type HubOptions, startHub } from "./hub.js";
export { ReadingStore, type ReadingStoreOptions } from "./ingest/repository.js";

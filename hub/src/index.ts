/** The hub as a library: used by the demo launcher and the tests. */

export { AuthService } from "./auth/service.js";
export { type EmbeddedDatabase, startEmbeddedPostgres } from "./db/embedded-postgres.js";
export { seedDemoCompany } from "./erp/demo-seed.js";
export { HUB_ERRORS } from "./errors.js";
export { type Hub, type HubOptions, startHub } from "./hub.js";
export type { DeviceStateChange, DeviceStateName } from "./ingest/index.js";
export { copyBinary, ReadingStore, type ReadingStoreOptions } from "./ingest/repository.js";
export { initPki, issueEdgeCertificate, issueEdgeCertificateForKey, revokeEdge } from "./pki/ca.js";
export { caPinOf, createEnrollmentCode, formatEnrollmentCode, redeemEnrollmentCode } from "./pki/enrollment.js";
export { pkiDirOf } from "./pki/files.js";

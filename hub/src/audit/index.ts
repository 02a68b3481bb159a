/** The audit trail (GoBD): read, export and verify; records are written by the database. */
export { type AuditRoutesOptions, auditRoutes } from "./routes.js";
export { exportAudit, recordHash, verifyAuditChain } from "./service.js";

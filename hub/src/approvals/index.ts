/** Four-eyes approvals: operations a second person must approve, kept as policies; requests and decisions. */
export { type ApprovalRoutesOptions, approvalRoutes } from "./routes.js";
export { Approval, ApprovalHeld } from "./schemas.js";
export {
  type ApprovalExecutor,
  type ApprovalExecutorOptions,
  type ApprovalInput,
  type ApprovalPolicy,
  type ApprovalRequest,
  type ApprovalStatus,
  type ApprovalSubject,
  type ApprovalWork,
  approvalLocation,
  approvalStatus,
  decide,
  expireApprovals,
  getApproval,
  heldAnswer,
  listApprovals,
  markExecuted,
  registerApprovalExecutor,
  requestApproval,
  requiresApproval,
} from "./service.js";

import { listEdges, revokeEdge } from "../../pki/ca.js";
import {
  createEnrollmentCode,
  type EnrollmentFence,
  MAX_ENROLLMENT_TTL_MS,
  withdrawEnrollmentCodes,
} from "../../pki/enrollment.js";
import { withPkiLock } from "../../pki/files.js";

/** Where the processes find the hub's PKI, and the base URL an enrollment code carries. */
export interface EdgeIdentityDeps {
  pkiDir: string;
  /** The hub's HTTP base URL as edges reach it (`POST /api/v1/pki/enroll`). */
  enrollmentUrl: string;
}

/** Whether the edge holds a certificate the hub accepts (it enrolled and was not revoked). */
export function isEnrolled(deps: EdgeIdentityDeps, edgeId: string): boolean {
  return listEdges(deps.pkiDir).some((edge) => edge.edgeId === edgeId && edge.status === "valid");
}

/**
 * A fresh enrollment code for the edge, valid 30 days (installation may be weeks away), the
 * edge's earlier unused codes withdrawn in the same write — so a step run again after a crash
 * leaves exactly one valid code, never two. Fenced by the saga's claim: a process that lost the
 * saga while paused is refused (`HUB_ERR_FENCED`) and changes nothing.
 */
export async function issueEnrollmentCode(deps: EdgeIdentityDeps, edgeId: string, fenced: EnrollmentFence) {
  return createEnrollmentCode(deps.pkiDir, edgeId, { url: deps.enrollmentUrl, ttlMs: MAX_ENROLLMENT_TTL_MS, fenced });
}

/** Takes the edge's identity back: its unused codes withdrawn (fenced like the issue), its certificates revoked. */
export async function revokeEdgeIdentity(deps: EdgeIdentityDeps, edgeId: string, fenced: EnrollmentFence) {
  const withdrawn = await withdrawEnrollmentCodes(deps.pkiDir, edgeId, { fenced });
  const revoked = await withPkiLock(deps.pkiDir, () => {
    try {
      return revokeEdge(deps.pkiDir, edgeId).revoked;
    } catch (err) {
      if ((err as { code?: string }).code === "HUB_ERR_EDGE_UNKNOWN") return []; // never enrolled
      throw err;
    }
  });
  return { withdrawn, revoked };
}

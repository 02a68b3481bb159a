import { statSync } from "node:fs";
import { join } from "node:path";
import { type ServerErrorResponse, type ServerUnaryCall, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { HUB_ERRORS, type HubErrorCode, hubError } from "../errors.js";
import { PKI_FILES } from "./files.js";
import { certificatesOf, type EdgeRegistry, readRegistry } from "./registry.js";

/** What grpc-js knows about a call's TLS peer (grpc-js does not export the type by name). */
export type AuthContext = ReturnType<ServerUnaryCall<unknown, unknown>["getAuthContext"]>;

/** Any grpc-js server call (unary or streaming): all of them have `getAuthContext()`. */
export interface AuthenticatedCall {
  getAuthContext(): AuthContext | null;
}

/** Returns the edge id that a call's client certificate proves, or throws an `EdgeAuthError`. */
export type EdgeAuthorizer = (call: AuthenticatedCall) => string;

/**
 * A refused call. It names the certificate by edge id, serial and fingerprint only (safe to log
 * as `{ err }`); map it to a gRPC status with `edgeAuthGrpcError`.
 */
export type EdgeAuthError = Error & { code: HubErrorCode; edgeId?: string; serial?: string; fingerprint?: string };

/**
 * The gRPC status for each code the authorizer and `checkClaimedEdgeId` throw: a certificate the
 * hub does not accept is UNAUTHENTICATED, a valid one claiming another edge is PERMISSION_DENIED,
 * and the hub's own missing PKI files are UNAVAILABLE.
 */
export const EDGE_AUTH_GRPC_STATUS = {
  HUB_ERR_EDGE_CERT_MISSING: status.UNAUTHENTICATED,
  HUB_ERR_EDGE_UNKNOWN: status.UNAUTHENTICATED,
  HUB_ERR_EDGE_REVOKED: status.UNAUTHENTICATED,
  HUB_ERR_EDGE_ID_MISMATCH: status.PERMISSION_DENIED,
  HUB_ERR_PKI_MISSING: status.UNAVAILABLE,
} as const satisfies Partial<Record<HubErrorCode, status>>;

function authError(
  code: keyof typeof EDGE_AUTH_GRPC_STATUS,
  message: string,
  peer: { edgeId?: string; serial?: string; fingerprint?: string },
): EdgeAuthError {
  return Object.assign(hubError(code, message), peer);
}

/**
 * The gRPC error to answer a refused call with: the status from `EDGE_AUTH_GRPC_STATUS` and
 * `CODE: text` from the error table as details (the specifics stay in the hub's log).
 * Anything else becomes INTERNAL.
 */
export function edgeAuthGrpcError(err: unknown): ServerErrorResponse {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && Object.hasOwn(EDGE_AUTH_GRPC_STATUS, code)) {
    const known = code as keyof typeof EDGE_AUTH_GRPC_STATUS;
    const details = `${known}: ${HUB_ERRORS[known].text}`;
    return Object.assign(new Error(details), { code: EDGE_AUTH_GRPC_STATUS[known], details });
  }
  const details = `HUB_ERR_INTERNAL: ${HUB_ERRORS.HUB_ERR_INTERNAL.text}`;
  return Object.assign(new Error(details), { code: status.INTERNAL, details });
}

/**
 * Refuses a call whose claimed edge id (Hello's `edge_id`, Upload's `edge-id` metadata) is not
 * the one its certificate proves: `HUB_ERR_EDGE_ID_MISMATCH`, a spoofing attempt.
 */
export function checkClaimedEdgeId(certEdgeId: string, claimed: string): void {
  if (claimed !== certEdgeId) {
    throw authError("HUB_ERR_EDGE_ID_MISMATCH", `edge ${certEdgeId} claimed to be ${JSON.stringify(claimed)}`, {
      edgeId: certEdgeId,
    });
  }
}

/**
 * Authorizes calls by their client certificate (the TLS handshake has already checked that the
 * hub CA signed it): the edge id is the certificate's CN, which must be in `edges.json` with this
 * certificate's serial and fingerprint, not revoked or superseded. `edges.json` is reread whenever
 * it changes (compared by inode, mtime and size, so `pki revoke`'s rename is always seen), and so
 * a revocation applies to the next call without restarting the hub. Reads the registry once now,
 * so a missing one fails at start (`HUB_ERR_PKI_MISSING`).
 */
export function createEdgeAuthorizer(pkiDir: string, options: { log?: Logger } = {}): EdgeAuthorizer {
  const path = join(pkiDir, PKI_FILES.registry);
  let cached: { stamp: string; registry: EdgeRegistry } | undefined;

  const registry = (): EdgeRegistry => {
    const stat = statSync(path, { throwIfNoEntry: false });
    // A vanished file reads (and fails) like an unreadable one: refuse rather than trust the cache.
    const stamp = stat ? `${stat.ino}:${stat.mtimeMs}:${stat.size}` : "missing";
    if (cached?.stamp !== stamp) {
      cached = { stamp, registry: readRegistry(pkiDir) };
      options.log?.info({ edges: Object.keys(cached.registry.edges).length }, "edge registry loaded");
    }
    return cached.registry;
  };
  registry();

  return (call) => {
    const peer = call.getAuthContext()?.sslPeerCertificate;
    if (!peer?.raw) throw authError("HUB_ERR_EDGE_CERT_MISSING", "the call has no verified client certificate", {});
    const cn: unknown = peer.subject?.CN;
    const serial = peer.serialNumber;
    const fingerprint = peer.fingerprint256;
    if (typeof cn !== "string") {
      throw authError("HUB_ERR_EDGE_UNKNOWN", "the client certificate has no single CN", { serial, fingerprint });
    }
    const ids = { edgeId: cn, serial, fingerprint };
    const certificates = certificatesOf(registry(), cn);
    if (!certificates) throw authError("HUB_ERR_EDGE_UNKNOWN", `edge ${cn} is not in the edge registry`, ids);
    const issued = certificates.find((c) => c.serial === serial && c.fingerprint === fingerprint);
    if (!issued) {
      throw authError("HUB_ERR_EDGE_REVOKED", `certificate ${serial} was not issued to edge ${cn} by this hub`, ids);
    }
    if (issued.revokedAt !== null) {
      const why = issued.revokeReason === "superseded" ? "superseded" : "revoked";
      throw authError(
        "HUB_ERR_EDGE_REVOKED",
        `certificate ${serial} of edge ${cn} was ${why} at ${issued.revokedAt}`,
        ids,
      );
    }
    return cn;
  };
}

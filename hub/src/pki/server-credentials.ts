import { ServerCredentials } from "@grpc/grpc-js";
import { PKI_FILES, readPkiFile } from "./files.js";

/**
 * The hub's gRPC server credentials for mutual TLS: the hub's key and certificate from `pkiDir`,
 * and every client must present a certificate that the hub CA signed (checked in the handshake;
 * which edge it is, and whether it is still accepted, is `createEdgeAuthorizer`'s job).
 * A missing or unreadable file is `HUB_ERR_PKI_MISSING`.
 */
export function createHubServerCredentials(pkiDir: string): ServerCredentials {
  const ca = readPkiFile(pkiDir, PKI_FILES.caCert);
  const key = readPkiFile(pkiDir, PKI_FILES.hubKey);
  const cert = readPkiFile(pkiDir, PKI_FILES.hubCert);
  return ServerCredentials.createSsl(ca, [{ private_key: key, cert_chain: cert }], true);
}

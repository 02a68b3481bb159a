import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type ChannelCredentials, credentials } from "@grpc/grpc-js";
import { EdgeError } from "../errors.js";

/** The edge's side of the hub link's mutual TLS, as `npm run hub -- pki issue` wrote it. */
export interface EdgeTls {
  /** Channel credentials: trusts only the hub CA and presents the edge's certificate. */
  credentials: ChannelCredentials;
  /** The edge id the certificate proves (its CN); the hub refuses calls that claim another. */
  edgeId: string;
  /** SHA-256 fingerprint of the edge certificate (colon-separated hex), safe to log. */
  fingerprint: string;
}

/** Same rule as the hub's edge ids. */
const EDGE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function tlsError(path: string, problem: string, cause?: unknown): EdgeError {
  return new EdgeError("EDGE_ERR_TLS", `${path}: ${problem}`, cause === undefined ? undefined : { cause });
}

function readTlsFile(dir: string, name: string): { path: string; data: Buffer } {
  const path = join(dir, name);
  try {
    return { path, data: readFileSync(path) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw tlsError(path, code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? "error"})`, err);
  }
}

function parseCertificate(file: { path: string; data: Buffer }): X509Certificate {
  try {
    return new X509Certificate(file.data);
  } catch (err) {
    throw tlsError(file.path, "is not a PEM certificate", err);
  }
}

/** The certificate's single CN (Node prints the subject as `KEY=value` lines). */
function commonName(cert: X509Certificate): string | undefined {
  const cns = cert.subject.split("\n").filter((line) => line.startsWith("CN="));
  return cns.length === 1 ? cns[0]?.slice(3) : undefined;
}

/**
 * Loads `ca.crt`, `edge.crt` and `edge.key` from `dir` (`EDGE_TLS_DIR`) and checks them before
 * any connection: the certificate must be signed by that CA, match the key, not be expired and name
 * a well-formed edge id as its CN. Any problem is `EDGE_ERR_TLS` naming the file. Key material
 * never leaves the returned credentials.
 */
export function loadEdgeTls(dir: string, now = new Date()): EdgeTls {
  const caFile = readTlsFile(dir, "ca.crt");
  const certFile = readTlsFile(dir, "edge.crt");
  const keyFile = readTlsFile(dir, "edge.key");
  const ca = parseCertificate(caFile);
  const cert = parseCertificate(certFile);
  let key: KeyObject;
  try {
    key = createPrivateKey(keyFile.data);
  } catch (err) {
    throw tlsError(keyFile.path, "is not a PEM private key", err);
  }

  if (!ca.ca) throw tlsError(caFile.path, "is not a CA certificate");
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    throw tlsError(certFile.path, `was not signed by the CA in ${caFile.path}`);
  }
  if (!cert.checkPrivateKey(key))
    throw tlsError(keyFile.path, `does not belong to the certificate in ${certFile.path}`);
  const edgeId = commonName(cert);
  if (edgeId === undefined || !EDGE_ID.test(edgeId)) {
    throw tlsError(certFile.path, "has no CN that is a valid edge id");
  }
  // Only expiry is checked here: "not yet valid" is mostly an unsynchronised clock, which may still be corrected.
  if (now.getTime() > Date.parse(cert.validTo)) throw tlsError(certFile.path, `expired on ${cert.validTo}`);

  return {
    credentials: credentials.createSsl(caFile.data, keyFile.data, certFile.data),
    edgeId,
    fingerprint: cert.fingerprint256,
  };
}

import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type ChannelCredentials, credentials } from "@grpc/grpc-js";
import { writeFileAtomic } from "../atomic-file.js";
import { EdgeError } from "../errors.js";

/** The edge's side of the hub link's mutual TLS, as `npm run hub -- pki issue` wrote it. */
export interface EdgeTls {
  /** Channel credentials: trusts only the hub CA and presents the edge's certificate. */
  credentials: ChannelCredentials;
  /** The edge id the certificate proves (its CN); the hub refuses calls that claim another. */
  edgeId: string;
  /** SHA-256 fingerprint of the edge certificate (colon-separated hex), safe to log. */
  fingerprint: string;
  /** End of the certificate's validity (ISO time). */
  notAfter: string;
}

/** The three PEM documents of the hub link: the hub CA's certificate, the edge's certificate and key. */
export interface EdgeTlsBundle {
  ca: string | Buffer;
  cert: string | Buffer;
  key: string | Buffer;
}

/** File names inside the TLS directory (`EDGE_TLS_DIR`). */
const FILES = { ca: "ca.crt", cert: "edge.crt", key: "edge.key" } as const;

/** Same rule as the hub's edge ids. */
const EDGE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function tlsError(path: string, problem: string, cause?: unknown): EdgeError {
  return new EdgeError("EDGE_ERR_TLS", `${path}: ${problem}`, cause === undefined ? undefined : { cause });
}

interface TlsFile {
  /** The file's path, or its name when the document did not come from a file. */
  path: string;
  data: Buffer;
}

function readTlsFile(dir: string, name: string): TlsFile {
  const path = join(dir, name);
  try {
    return { path, data: readFileSync(path) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw tlsError(path, code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? "error"})`, err);
  }
}

function parseCertificate(file: TlsFile): X509Certificate {
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
 * Checks that the three documents belong together: the certificate must be signed by that CA,
 * match the key, not be expired and name a well-formed edge id as its CN. Any problem is
 * `EDGE_ERR_TLS` naming the document.
 */
function checkTls(caFile: TlsFile, certFile: TlsFile, keyFile: TlsFile, now: Date): EdgeTls {
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
    notAfter: new Date(cert.validTo).toISOString(),
  };
}

/**
 * Loads `ca.crt`, `edge.crt` and `edge.key` from `dir` (`EDGE_TLS_DIR`) and checks them before
 * any connection (see `checkEdgeTlsBundle`). Any problem is `EDGE_ERR_TLS` naming the file. Key
 * material never leaves the returned credentials.
 */
export function loadEdgeTls(dir: string, now = new Date()): EdgeTls {
  return checkTls(readTlsFile(dir, FILES.ca), readTlsFile(dir, FILES.cert), readTlsFile(dir, FILES.key), now);
}

/**
 * The TLS directory's state at start: `tls` when its files are there and valid, `problem` (the
 * `EDGE_ERR_TLS` message) when some are there but unusable, neither when the directory holds
 * none of them (an edge not enrolled yet).
 */
export function probeEdgeTls(dir: string, now = new Date()): { tls: EdgeTls | null; problem: string | null } {
  if (!Object.values(FILES).some((name) => existsSync(join(dir, name)))) return { tls: null, problem: null };
  try {
    return { tls: loadEdgeTls(dir, now), problem: null };
  } catch (err) {
    if (err instanceof EdgeError) return { tls: null, problem: err.message };
    throw err;
  }
}

/**
 * Checks PEM documents handed in (e.g. uploaded in the settings page) as `loadEdgeTls` checks the
 * files; messages name the documents by the file they would become.
 */
export function checkEdgeTlsBundle(bundle: EdgeTlsBundle, now = new Date()): EdgeTls {
  const file = (name: string, data: string | Buffer): TlsFile => ({ path: name, data: Buffer.from(data) });
  return checkTls(file(FILES.ca, bundle.ca), file(FILES.cert, bundle.cert), file(FILES.key, bundle.key), now);
}

/**
 * Checks the bundle and writes it into `dir` as `ca.crt`, `edge.crt` and `edge.key` (the key
 * readable by the owner only), each file replaced atomically; returns the loaded result.
 */
export function installEdgeTls(dir: string, bundle: EdgeTlsBundle, now = new Date()): EdgeTls {
  checkEdgeTlsBundle(bundle, now);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(join(dir, FILES.key), Buffer.from(bundle.key), 0o600);
  writeFileAtomic(join(dir, FILES.cert), Buffer.from(bundle.cert));
  writeFileAtomic(join(dir, FILES.ca), Buffer.from(bundle.ca));
  return loadEdgeTls(dir, now);
}

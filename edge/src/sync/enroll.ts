/**
 * Enrollment with a one-time code from the hub (`npm run hub -- pki enroll-code`): the edge makes
 * its own key pair, sends the code's secret and its public key to the hub and gets its
 * certificate back. The private key never leaves the edge.
 *
 * A code reads `stz1.<base64url(hub HTTP base URL)>.<secret>.<CA pin>`, the pin being the first
 * 32 (up to 64) hex digits of the SHA-256 of the hub CA certificate's DER encoding.
 */
import { createHash, generateKeyPairSync, X509Certificate } from "node:crypto";
import { EdgeError } from "../errors.js";
import type { EdgeTlsBundle } from "./tls.js";

/** The first part of every code this edge understands. */
const CODE_PREFIX = "stz1";
const SECRET = /^[A-Za-z0-9_-]{22,128}$/;
const PIN = /^[0-9a-f]{32,64}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** How long the hub may take to answer. */
export const ENROLL_TIMEOUT_MS = 15_000;

/** What a code carries. */
export interface EnrollmentCode {
  /** The hub's HTTP base URL (no trailing slash). */
  url: string;
  secret: string;
  /** Lower-case hex prefix of the SHA-256 of the hub CA certificate (DER). */
  pin: string;
}

/** What `enrollWithCode` needs besides the code. */
export interface EnrollOptions {
  /** This edge's id when it came from a certificate: the hub refuses, without using it, a code for another edge. */
  edgeId?: string;
  /** The fetch to call the hub with (default: the global one). */
  fetch?: typeof fetch;
  /** Default `ENROLL_TIMEOUT_MS`. */
  timeoutMs?: number;
}

/** The PEM documents to install (`TlsControl.install`), with the edge id the certificate names. */
export interface EnrolledBundle extends EdgeTlsBundle {
  ca: string;
  cert: string;
  key: string;
  edgeId: string;
}

const malformed = (problem: string) =>
  new EdgeError(
    "EDGE_ERR_TLS",
    `the enrollment code is malformed: ${problem}; paste the whole code (stz1.…) as \`pki enroll-code\` printed it`,
  );

/** Parses a code (white space, e.g. line breaks from pasting, is ignored); `EDGE_ERR_TLS` when malformed. */
export function parseEnrollmentCode(code: string): EnrollmentCode {
  const parts = code.replace(/\s+/g, "").split(".");
  if (parts[0] !== CODE_PREFIX) throw malformed(`it does not start with ${CODE_PREFIX}.`);
  if (parts.length !== 4) throw malformed(`it has ${parts.length} parts separated by dots, not 4`);
  const [, encodedUrl, secret, pin] = parts as [string, string, string, string];
  if (!BASE64URL.test(encodedUrl)) throw malformed("the hub address part is not base64url");
  let url: URL;
  try {
    url = new URL(Buffer.from(encodedUrl, "base64url").toString("utf8"));
  } catch {
    throw malformed("the hub address part is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw malformed("the hub address is not http(s)");
  if (!SECRET.test(secret)) throw malformed("the secret part is not 22-128 base64url characters");
  const lowerPin = pin.toLowerCase();
  if (!PIN.test(lowerPin) || lowerPin.length % 2 !== 0) throw malformed("the CA pin is not 32-64 hex digits");
  return { url: url.href.replace(/\/+$/, ""), secret, pin: lowerPin };
}

/** The hub's problem+json detail (and code), or the start of whatever else it answered. */
async function problemOf(res: Response): Promise<{ code?: string; detail: string }> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { code?: unknown; detail?: unknown; title?: unknown };
    const detail = typeof body.detail === "string" ? body.detail : typeof body.title === "string" ? body.title : "";
    return { code: typeof body.code === "string" ? body.code : undefined, detail: detail || `HTTP ${res.status}` };
  } catch {
    return { detail: text.slice(0, 200) || `HTTP ${res.status}` };
  }
}

/** Sends the secret and the public key to the hub; returns its JSON answer. */
async function redeem(
  parsed: EnrollmentCode,
  body: { code: string; publicKey: string; edgeId?: string },
  options: EnrollOptions,
): Promise<unknown> {
  const endpoint = `${parsed.url}/api/v1/pki/enroll`;
  const timeoutMs = options.timeoutMs ?? ENROLL_TIMEOUT_MS;
  let res: Response;
  try {
    res = await (options.fetch ?? fetch)(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "error",
    });
  } catch (err) {
    const name = (err as Error).name;
    const reason =
      name === "TimeoutError" || name === "AbortError"
        ? `did not answer within ${timeoutMs / 1000} s`
        : `cannot be reached (${((err as Error).cause as Error | undefined)?.message ?? (err as Error).message})`;
    throw new EdgeError("EDGE_ERR_HUB_UNAVAILABLE", `enrollment: the hub at ${parsed.url} ${reason}`, { cause: err });
  }
  if (!res.ok) {
    const problem = await problemOf(res);
    const what = `${problem.detail}${problem.code ? ` (${problem.code})` : ""}`;
    if (res.status >= 500) {
      throw new EdgeError("EDGE_ERR_HUB_UNAVAILABLE", `enrollment: the hub at ${parsed.url} failed: ${what}`);
    }
    const retry =
      res.status === 429 ? `; wait ${res.headers.get("retry-after") ?? "a while"} s before trying again` : "";
    throw new EdgeError("EDGE_ERR_ENROLL", `the hub refused the enrollment: ${what}${retry}`);
  }
  try {
    return await res.json();
  } catch (err) {
    throw new EdgeError("EDGE_ERR_ENROLL", `the hub at ${parsed.url} answered enrollment with something not JSON`, {
      cause: err,
    });
  }
}

/**
 * Enrolls with a one-time code: parses it (`EDGE_ERR_TLS` when malformed), makes an EC P-256 key
 * pair, redeems the code's secret with the public key at `<url>/api/v1/pki/enroll` (15 s timeout),
 * and checks the answer: the CA must match the code's pin (else `EDGE_ERR_TLS` "the hub's CA does
 * not match the code"), the certificate must be signed by it and hold the generated public key.
 * Returns the bundle to install; nothing is written here. An unreachable or failing hub is
 * `EDGE_ERR_HUB_UNAVAILABLE` (retryable), a refused code `EDGE_ERR_ENROLL` with the hub's detail.
 */
export async function enrollWithCode(code: string, options: EnrollOptions = {}): Promise<EnrolledBundle> {
  const parsed = parseEnrollmentCode(code);
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const publicKeyPem = publicKey.export({ format: "pem", type: "spki" }) as string;
  const answer = await redeem(
    parsed,
    { code: parsed.secret, publicKey: publicKeyPem, ...(options.edgeId ? { edgeId: options.edgeId } : {}) },
    options,
  );
  const { ca: caPem, cert: certPem } = (answer ?? {}) as { ca?: unknown; cert?: unknown };
  if (typeof caPem !== "string" || typeof certPem !== "string") {
    throw new EdgeError("EDGE_ERR_ENROLL", "the hub's enrollment answer has no ca and cert");
  }

  const bad = (message: string, cause?: unknown) =>
    new EdgeError("EDGE_ERR_TLS", message, cause === undefined ? undefined : { cause });
  let ca: X509Certificate;
  let cert: X509Certificate;
  try {
    ca = new X509Certificate(caPem);
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw bad("the hub answered enrollment with a certificate that cannot be read", err);
  }
  const caHash = createHash("sha256").update(ca.raw).digest("hex");
  if (!caHash.startsWith(parsed.pin)) {
    throw bad(
      `the hub's CA does not match the code (CA SHA-256 ${caHash.slice(0, parsed.pin.length)}, code pins ${parsed.pin}): is ${parsed.url} the hub that made the code?`,
    );
  }
  if (!ca.ca) throw bad("the hub's CA certificate is not a CA");
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey))
    throw bad("the certificate the hub sent is not signed by its CA");
  const spki = (key: typeof publicKey) => key.export({ format: "der", type: "spki" });
  if (!spki(cert.publicKey).equals(spki(publicKey))) {
    throw bad("the certificate the hub sent is not for the key this edge generated");
  }
  const edgeId = cert.subject
    .split("\n")
    .find((line) => line.startsWith("CN="))
    ?.slice(3);
  if (!edgeId) throw bad("the certificate the hub sent names no edge id (CN)");
  return {
    ca: caPem,
    cert: certPem,
    key: privateKey.export({ format: "pem", type: "pkcs8" }) as string,
    edgeId,
  };
}

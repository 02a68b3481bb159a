import type { webcrypto } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { hubError } from "../errors.js";
import {
  createCaCertificate,
  createEdgeCertificate,
  createHubCertificate,
  DEFAULT_HUB_HOSTS,
  importEdgePublicKey,
  isValidHost,
  loadSigningCa,
  type SignedCertificate,
  type SigningCa,
  signEdgeCertificate,
} from "./certificates.js";
import { CERT_MODE, DIR_MODE, EDGE_BUNDLE_FILES, KEY_MODE, PKI_FILES, readPkiFile, writeFileAtomic } from "./files.js";
import { certificatesOf, emptyRegistry, type IssuedCertificate, readRegistry, writeRegistry } from "./registry.js";

/** Edge ids: the same rule as the sync service's `edge-id` (a certificate's CN is an edge id). */
export const EDGE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** What `initPki` created (no key material). */
export interface PkiInitResult {
  pkiDir: string;
  caFingerprint: string;
  caNotAfter: string;
  hubFingerprint: string;
  hosts: string[];
}

/** What `issueEdgeCertificate` wrote (no key material). */
export interface EdgeIssueResult {
  edgeId: string;
  serial: string;
  fingerprint: string;
  notAfter: string;
  outDir: string;
  /** Serials of the edge's earlier certificates that this one superseded (no longer accepted). */
  superseded: string[];
}

/** One edge in `pki list`. */
export interface EdgeListing {
  edgeId: string;
  /** `valid` while its newest certificate is accepted, else why not. */
  status: "valid" | "revoked" | "expired";
  certificates: IssuedCertificate[];
}

/** Throws `HUB_ERR_EDGE_ID_INVALID` unless `edgeId` matches `EDGE_ID_PATTERN`. */
export function checkEdgeId(edgeId: string): void {
  if (!EDGE_ID_PATTERN.test(edgeId)) {
    throw hubError(
      "HUB_ERR_EDGE_ID_INVALID",
      `edge id ${JSON.stringify(edgeId)} is malformed: 1-64 of A-Z a-z 0-9 _ . -, starting with a letter or digit`,
    );
  }
}

/**
 * `pki init`: creates the hub CA (`ca.key`, `ca.crt`), the hub's server certificate for
 * localhost, 127.0.0.1, ::1 and `hosts` (`hub.key`, `hub.crt`) and an empty `edges.json` in
 * `pkiDir`. An existing CA is kept unless `force`; replacing it invalidates every edge certificate.
 */
export async function initPki(
  pkiDir: string,
  options: { hosts?: readonly string[]; force?: boolean; now?: Date } = {},
): Promise<PkiInitResult> {
  const now = options.now ?? new Date();
  const bad = (options.hosts ?? []).filter((host) => !isValidHost(host));
  if (bad.length > 0) {
    throw hubError(
      "HUB_ERR_VALIDATION",
      `--host ${bad.map((h) => JSON.stringify(h)).join(", ")}: not a DNS name or IP`,
    );
  }
  const hosts = [...new Set([...DEFAULT_HUB_HOSTS, ...(options.hosts ?? [])])];
  const existing = [PKI_FILES.caCert, PKI_FILES.caKey].filter((name) => existsSync(join(pkiDir, name)));
  if (existing.length > 0 && !options.force) {
    throw hubError(
      "HUB_ERR_PKI_EXISTS",
      `${join(pkiDir, existing[0] as string)} exists; \`pki init --force\` replaces the CA and invalidates every edge certificate`,
    );
  }
  mkdirSync(pkiDir, { recursive: true, mode: DIR_MODE });
  const ca = await createCaCertificate(now);
  const hub = await createHubCertificate(await loadSigningCa(ca.certPem, ca.keyPem), hosts, now);
  // Keys before certificates, the registry last: a crash in between leaves files `init --force` replaces.
  writeFileAtomic(join(pkiDir, PKI_FILES.caKey), ca.keyPem, KEY_MODE);
  writeFileAtomic(join(pkiDir, PKI_FILES.caCert), ca.certPem, CERT_MODE);
  writeFileAtomic(join(pkiDir, PKI_FILES.hubKey), hub.keyPem, KEY_MODE);
  writeFileAtomic(join(pkiDir, PKI_FILES.hubCert), hub.certPem, CERT_MODE);
  writeRegistry(pkiDir, emptyRegistry());
  return {
    pkiDir,
    caFingerprint: ca.fingerprint,
    caNotAfter: ca.notAfter.toISOString(),
    hubFingerprint: hub.fingerprint,
    hosts,
  };
}

/** What `issueEdgeCertificateForKey` signed: the certificate and the CA, as PEM (no key material). */
export interface EdgeSignResult extends Omit<EdgeIssueResult, "outDir"> {
  certPem: string;
  caPem: string;
}

/**
 * Reads an edge's public key (SPKI PEM); anything but an EC P-256 key, the kind this CA issues
 * for, is `HUB_ERR_VALIDATION`.
 */
export async function parseEdgePublicKey(publicKeyPem: string): Promise<webcrypto.CryptoKey> {
  try {
    return await importEdgePublicKey(publicKeyPem);
  } catch (err) {
    const reason = err instanceof TypeError ? err.message : "it is not a PEM public key";
    throw hubError("HUB_ERR_VALIDATION", `publicKey: ${reason}; send an EC P-256 key as SPKI PEM`, err);
  }
}

/** The CA certificate (PEM) and the CA ready to sign, from `pkiDir`. */
async function loadCa(pkiDir: string): Promise<{ caPem: string; ca: SigningCa }> {
  const caPem = readPkiFile(pkiDir, PKI_FILES.caCert).toString("utf8");
  return { caPem, ca: await loadSigningCa(caPem, readPkiFile(pkiDir, PKI_FILES.caKey).toString("utf8")) };
}

/**
 * Records a certificate issued to `edgeId` in `edges.json` (read again here, so it is current)
 * and supersedes the edge's earlier ones; returns their serials.
 */
function registerEdgeCertificate(pkiDir: string, edgeId: string, cert: SignedCertificate, now: Date): string[] {
  const registry = readRegistry(pkiDir);
  const certificates = certificatesOf(registry, edgeId) ?? [];
  const superseded: string[] = [];
  for (const earlier of certificates) {
    if (earlier.revokedAt !== null) continue;
    earlier.revokedAt = now.toISOString();
    earlier.revokeReason = "superseded";
    superseded.push(earlier.serial);
  }
  certificates.push({
    serial: cert.serial,
    fingerprint: cert.fingerprint,
    issuedAt: now.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    revokedAt: null,
  });
  registry.edges[edgeId] = { certificates };
  writeRegistry(pkiDir, registry);
  return superseded;
}

/**
 * `pki issue`: signs a client certificate for `edgeId` and writes `ca.crt`, `edge.crt` and
 * `edge.key` (mode 0600) into `outDir`, then records it in `edges.json`. The edge's earlier
 * certificates are superseded: from now on only the new one is accepted.
 */
export async function issueEdgeCertificate(
  pkiDir: string,
  edgeId: string,
  outDir: string,
  now = new Date(),
): Promise<EdgeIssueResult> {
  checkEdgeId(edgeId);
  const { caPem, ca } = await loadCa(pkiDir);
  readRegistry(pkiDir); // a missing or malformed registry fails before anything is written
  const edge = await createEdgeCertificate(ca, edgeId, now);

  // The bundle first: if writing it fails, the edge's current certificate stays the accepted one.
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true, mode: DIR_MODE });
  writeFileAtomic(join(out, EDGE_BUNDLE_FILES.key), edge.keyPem, KEY_MODE);
  writeFileAtomic(join(out, EDGE_BUNDLE_FILES.cert), edge.certPem, CERT_MODE);
  writeFileAtomic(join(out, EDGE_BUNDLE_FILES.caCert), caPem, CERT_MODE);

  const superseded = registerEdgeCertificate(pkiDir, edgeId, edge, now);
  return {
    edgeId,
    serial: edge.serial,
    fingerprint: edge.fingerprint,
    notAfter: edge.notAfter.toISOString(),
    outDir: out,
    superseded,
  };
}

/**
 * `pki issue` for a key pair the edge made itself: signs a client certificate for `edgeId` and
 * `publicKeyPem` (SPKI PEM of an EC P-256 key, else `HUB_ERR_VALIDATION`) and records it in
 * `edges.json` like `issueEdgeCertificate`, superseding the edge's earlier certificates. Nothing
 * is written but the registry; the hub never sees the edge's private key.
 */
export async function issueEdgeCertificateForKey(
  pkiDir: string,
  edgeId: string,
  publicKeyPem: string,
  now = new Date(),
): Promise<EdgeSignResult> {
  checkEdgeId(edgeId);
  const publicKey = await parseEdgePublicKey(publicKeyPem);
  const { caPem, ca } = await loadCa(pkiDir);
  readRegistry(pkiDir);
  const edge = await signEdgeCertificate(ca, edgeId, publicKey, now);
  const superseded = registerEdgeCertificate(pkiDir, edgeId, edge, now);
  return {
    edgeId,
    serial: edge.serial,
    fingerprint: edge.fingerprint,
    notAfter: edge.notAfter.toISOString(),
    superseded,
    certPem: edge.certPem,
    caPem,
  };
}

/**
 * `pki revoke`: marks every accepted certificate of `edgeId` revoked in `edges.json`. A running
 * hub sees the change on its next call (the authorizer rereads the file when it changes).
 * Revoking an edge whose certificates are all revoked already changes nothing.
 */
export function revokeEdge(pkiDir: string, edgeId: string, now = new Date()): { edgeId: string; revoked: string[] } {
  checkEdgeId(edgeId);
  const registry = readRegistry(pkiDir);
  const certificates = certificatesOf(registry, edgeId);
  if (!certificates) throw hubError("HUB_ERR_EDGE_UNKNOWN", `no certificate was issued to edge ${edgeId}`);
  const revoked: string[] = [];
  for (const cert of certificates) {
    if (cert.revokedAt !== null) continue;
    cert.revokedAt = now.toISOString();
    cert.revokeReason = "revoked";
    revoked.push(cert.serial);
  }
  if (revoked.length > 0) writeRegistry(pkiDir, registry);
  return { edgeId, revoked };
}

/** `pki list`: every edge with its certificates and whether its newest one is accepted. */
export function listEdges(pkiDir: string, now = new Date()): EdgeListing[] {
  const registry = readRegistry(pkiDir);
  return Object.entries(registry.edges)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([edgeId, { certificates }]) => {
      const newest = certificates[certificates.length - 1];
      const status =
        !newest || newest.revokedAt !== null
          ? "revoked"
          : Date.parse(newest.notAfter) < now.getTime()
            ? "expired"
            : "valid";
      return { edgeId, status, certificates };
    });
}

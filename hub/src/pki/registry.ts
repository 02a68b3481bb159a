import { join } from "node:path";
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { hubError } from "../errors.js";
import { CERT_MODE, PKI_FILES, readPkiFile, writeFileAtomic } from "./files.js";

/** One certificate the hub issued to an edge. */
export const IssuedCertificateSchema = Type.Object({
  /** Hex serial number, as Node's `X509Certificate.serialNumber` and `PeerCertificate.serialNumber` print it. */
  serial: Type.String(),
  /** SHA-256 fingerprint of the DER certificate, colon-separated hex (`fingerprint256`). */
  fingerprint: Type.String(),
  /** ISO 8601. */
  issuedAt: Type.String(),
  /** ISO 8601; the TLS handshake refuses the certificate after it. */
  notAfter: Type.String(),
  /** When the certificate stopped being accepted (ISO 8601); null while it is accepted. */
  revokedAt: Type.Union([Type.String(), Type.Null()]),
  /** `revoked` by `pki revoke`, or `superseded` by a later `pki issue` for the same edge. */
  revokeReason: Type.Optional(Type.Union([Type.Literal("revoked"), Type.Literal("superseded")])),
});

/** `edges.json`: every certificate issued per edge id, newest last. */
export const EdgeRegistrySchema = Type.Object({
  version: Type.Literal(1),
  edges: Type.Record(Type.String(), Type.Object({ certificates: Type.Array(IssuedCertificateSchema) })),
});

/** One certificate the hub issued to an edge. */
export type IssuedCertificate = Static<typeof IssuedCertificateSchema>;
/** The contents of `edges.json`. */
export type EdgeRegistry = Static<typeof EdgeRegistrySchema>;

/** An empty registry, as `pki init` writes it. */
export function emptyRegistry(): EdgeRegistry {
  return { version: 1, edges: {} };
}

/** Reads and checks `edges.json`; missing, unreadable or malformed is `HUB_ERR_PKI_MISSING`. */
export function readRegistry(pkiDir: string): EdgeRegistry {
  const text = readPkiFile(pkiDir, PKI_FILES.registry).toString("utf8");
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw hubError("HUB_ERR_PKI_MISSING", `${join(pkiDir, PKI_FILES.registry)} is not JSON`, err);
  }
  if (!Value.Check(EdgeRegistrySchema, data)) {
    const first = Value.Errors(EdgeRegistrySchema, data).First();
    throw hubError(
      "HUB_ERR_PKI_MISSING",
      `${join(pkiDir, PKI_FILES.registry)} is malformed at ${first?.path || "/"}: ${first?.message ?? "unexpected shape"}`,
    );
  }
  return data;
}

/** Writes `edges.json` atomically (temporary file + rename), so the hub never reads half a registry. */
export function writeRegistry(pkiDir: string, registry: EdgeRegistry): void {
  writeFileAtomic(join(pkiDir, PKI_FILES.registry), `${JSON.stringify(registry, null, 2)}\n`, CERT_MODE);
}

/** The certificates issued to `edgeId`, or undefined for an edge the registry does not know. */
export function certificatesOf(registry: EdgeRegistry, edgeId: string): IssuedCertificate[] | undefined {
  // Own keys only: an id like "constructor" must not find Object.prototype's.
  return Object.hasOwn(registry.edges, edgeId) ? registry.edges[edgeId]?.certificates : undefined;
}

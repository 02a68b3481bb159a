// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API;
// this import must stay before the library's.
import "reflect-metadata";
import { createPrivateKey, createPublicKey, randomBytes, webcrypto, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";

// Node's WebCrypto makes the keys and the signatures; the library only encodes ASN.1.
const crypto = webcrypto;
const EC_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;

const DAY_MS = 24 * 60 * 60 * 1000;
/** Lifetime of the hub CA (and of the hub's server certificate, which ends with it). */
export const CA_VALIDITY_MS = 3652 * DAY_MS;
/** Lifetime of an edge certificate (capped at the CA's end). */
export const EDGE_VALIDITY_MS = 730 * DAY_MS;
/** notBefore is set this far in the past, so a peer whose clock lags a little still accepts a new certificate. */
const BACKDATE_MS = 60 * 60 * 1000;

/** The names every hub server certificate carries; `pki init --host` adds more. */
export const DEFAULT_HUB_HOSTS = ["localhost", "127.0.0.1", "::1"] as const;

const DNS_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A signed certificate, as PEM, with what the registry records of it. */
export interface SignedCertificate {
  certPem: string;
  /** Hex serial as Node prints it (`X509Certificate.serialNumber`). */
  serial: string;
  /** SHA-256 fingerprint, colon-separated hex (`X509Certificate.fingerprint256`). */
  fingerprint: string;
  notAfter: Date;
}

/** A certificate with the private key made for it, as PEM. */
export interface KeyedCertificate extends SignedCertificate {
  keyPem: string;
}

/** The CA ready to sign: its certificate and its private signing key. */
export interface SigningCa {
  cert: x509.X509Certificate;
  key: webcrypto.CryptoKey;
}

/** Whether `host` is usable as a subject alternative name (an IP address or a DNS name). */
export function isValidHost(host: string): boolean {
  return isIP(host) !== 0 || DNS_NAME.test(host);
}

/**
 * A random positive 128-bit serial (RFC 5280 4.1.2.2: at most 20 octets, unpredictable). The
 * first octet is 0x01..0x7f, so the DER integer has no leading zero and every tool prints it alike.
 */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x01;
  return bytes.toString("hex");
}

async function newKeyPair(): Promise<webcrypto.CryptoKeyPair> {
  return crypto.subtle.generateKey(EC_KEY, true, ["sign", "verify"]);
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey("pkcs8", key));
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" }).export({
    format: "pem",
    type: "pkcs8",
  }) as string;
}

function signed(cert: x509.X509Certificate): SignedCertificate {
  const certPem = cert.toString("pem");
  const parsed = new X509Certificate(certPem);
  return {
    certPem: `${certPem}\n`,
    serial: parsed.serialNumber,
    fingerprint: parsed.fingerprint256,
    notAfter: cert.notAfter,
  };
}

async function keyed(cert: x509.X509Certificate, key: webcrypto.CryptoKey): Promise<KeyedCertificate> {
  return { ...signed(cert), keyPem: await privateKeyPem(key) };
}

/**
 * Imports a public key for signing into a certificate: SPKI (PEM or DER) of an ECDSA P-256 key,
 * the kind this CA issues. Another kind of key throws a `TypeError` saying what it is; a document
 * that is no key at all throws Node's decoder error.
 */
export async function importEdgePublicKey(spki: string | Buffer): Promise<webcrypto.CryptoKey> {
  // createPublicKey would also derive the public half of a private key: accept public keys only.
  if (typeof spki === "string" && !spki.includes("-----BEGIN PUBLIC KEY-----")) {
    throw new TypeError("the public key is not an SPKI PEM (-----BEGIN PUBLIC KEY-----)");
  }
  const key = createPublicKey(typeof spki === "string" ? spki : { key: spki, format: "der", type: "spki" });
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== "ec" || curve !== "prime256v1") {
    throw new TypeError(
      `the public key is ${key.asymmetricKeyType ?? "unknown"}${curve ? ` (${curve})` : ""}, not EC P-256`,
    );
  }
  const der = key.export({ format: "der", type: "spki" });
  return crypto.subtle.importKey("spki", der, EC_KEY, true, ["verify"]);
}

/** Creates the hub CA: an ECDSA P-256 key and a self-signed certificate valid for ten years. */
export async function createCaCertificate(now: Date): Promise<KeyedCertificate> {
  const keys = await newKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: [{ O: ["SteinmetZ"] }, { CN: ["SteinmetZ hub CA"] }],
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + CA_VALIDITY_MS),
      keys,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return keyed(cert, keys.privateKey);
}

/** Loads the CA for signing from its PEM certificate and PKCS#8 PEM key. */
export async function loadSigningCa(certPem: string, keyPem: string): Promise<SigningCa> {
  const der = createPrivateKey(keyPem).export({ format: "der", type: "pkcs8" });
  const key = await crypto.subtle.importKey("pkcs8", der, EC_KEY, false, ["sign"]);
  return { cert: new x509.X509Certificate(certPem), key };
}

/** Signs a leaf certificate for `publicKey` (subject CN, validity capped at the CA's end). */
async function signLeaf(
  ca: SigningCa,
  subjectCn: string,
  publicKey: webcrypto.CryptoKey,
  now: Date,
  validityMs: number,
  extensions: x509.Extension[],
): Promise<x509.X509Certificate> {
  const notAfter = new Date(Math.min(now.getTime() + validityMs, ca.cert.notAfter.getTime()));
  return x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: [{ CN: [subjectCn] }],
      issuer: ca.cert.subjectName,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter,
      publicKey,
      signingKey: ca.key,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey, false, crypto),
        ...extensions,
      ],
    },
    crypto,
  );
}

/**
 * Signs the hub's gRPC server certificate (serverAuth) for `hosts`: each is a DNS or IP subject
 * alternative name, which is what the edges check. It ends with the CA.
 */
export async function createHubCertificate(
  ca: SigningCa,
  hosts: readonly string[],
  now: Date,
): Promise<KeyedCertificate> {
  const names = hosts.map((value) => ({ type: isIP(value) ? ("ip" as const) : ("dns" as const), value }));
  const keys = await newKeyPair();
  const cert = await signLeaf(ca, "SteinmetZ hub", keys.publicKey, now, CA_VALIDITY_MS, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
    new x509.SubjectAlternativeNameExtension(names, false),
  ]);
  return keyed(cert, keys.privateKey);
}

/**
 * Signs an edge's client certificate (clientAuth) with CN = edge id, valid for two years, for
 * `publicKey` (from `importEdgePublicKey`: the edge made its key pair itself).
 */
export async function signEdgeCertificate(
  ca: SigningCa,
  edgeId: string,
  publicKey: webcrypto.CryptoKey,
  now: Date,
): Promise<SignedCertificate> {
  const cert = await signLeaf(ca, edgeId, publicKey, now, EDGE_VALIDITY_MS, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
  ]);
  return signed(cert);
}

/** Makes a key pair for an edge and signs its client certificate (`signEdgeCertificate`). */
export async function createEdgeCertificate(ca: SigningCa, edgeId: string, now: Date): Promise<KeyedCertificate> {
  const keys = await newKeyPair();
  return {
    ...(await signEdgeCertificate(ca, edgeId, keys.publicKey, now)),
    keyPem: await privateKeyPem(keys.privateKey),
  };
}

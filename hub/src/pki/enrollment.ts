/**
 * One-time enrollment codes: the office creates a code for an edge id (`pki enroll-code`), the
 * installer pastes it into the edge, the edge makes its own key pair and redeems the code with its
 * public key (`POST /api/v1/pki/enroll`) for a certificate. The private key never leaves the edge.
 *
 * A code reads `stz1.<base64url(hub HTTP base URL)>.<secret>.<CA pin>`:
 * - the secret is 24 random bytes, base64url (192 bit); the hub stores only its SHA-256;
 * - the pin is the first 32 hex digits of the SHA-256 of the hub CA certificate (DER), with which
 *   the edge checks the CA it receives.
 * Base64url has no `.`, so the four parts split unambiguously.
 */
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { hubError } from "../errors.js";
import { checkEdgeId, type EdgeSignResult, issueEdgeCertificateForKey, parseEdgePublicKey } from "./ca.js";
import { assertPkiLockHeld, KEY_MODE, PKI_FILES, readPkiFile, withPkiLock, writeFileAtomic } from "./files.js";

/** The first part of every code; a later format gets another. */
export const ENROLLMENT_CODE_PREFIX = "stz1";
/** A code's lifetime unless told otherwise. */
export const DEFAULT_ENROLLMENT_TTL_MS = 72 * 3_600_000;
/** The longest lifetime a code may have. */
export const MAX_ENROLLMENT_TTL_MS = 30 * 24 * 3_600_000;
/** Used and expired codes are forgotten this long after they expired. */
const FORGET_AFTER_MS = 30 * 24 * 3_600_000;
/** Hex digits of the CA pin in a code (128 bit of SHA-256). */
const PIN_HEX_DIGITS = 32;
const SECRET_BYTES = 24;
const SECRET_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;

/** One code as the hub stores it: never the secret, only its hash (the record's key). */
export const EnrollmentCodeRecordSchema = Type.Object({
  edgeId: Type.String(),
  /** ISO 8601. */
  createdAt: Type.String(),
  /** ISO 8601; redeeming after it is refused. */
  expiresAt: Type.String(),
  /** When the code was redeemed (ISO 8601); null while unused. */
  usedAt: Type.Union([Type.String(), Type.Null()]),
  /** Serial of the certificate it was redeemed for. */
  serial: Type.Optional(Type.String()),
});

/** `enroll-codes.json`: codes by the hex SHA-256 of their secret. */
export const EnrollmentCodeStoreSchema = Type.Object({
  version: Type.Literal(1),
  codes: Type.Record(Type.String({ pattern: "^[0-9a-f]{64}$" }), EnrollmentCodeRecordSchema),
  /**
   * The newest fencing token seen per owner (a saga that issues and withdraws codes): an older
   * token is refused, so an owner that lost its claim while paused changes nothing here.
   */
  fences: Type.Optional(Type.Record(Type.String(), Type.Object({ fence: Type.Integer(), at: Type.String() }))),
});

/** One stored code. */
export type EnrollmentCodeRecord = Static<typeof EnrollmentCodeRecordSchema>;
/** The contents of `enroll-codes.json`. */
export type EnrollmentCodeStore = Static<typeof EnrollmentCodeStoreSchema>;

/** What `createEnrollmentCode` made: the code to hand to the installer, and what it is for. */
export interface CreatedEnrollmentCode {
  /** The pasteable code; shown once, the hub cannot show it again. */
  code: string;
  edgeId: string;
  /** ISO 8601. */
  expiresAt: string;
  /** The hub HTTP base URL the edge will call. */
  url: string;
  /** A short reference to the code (first 8 hex digits of its hash), safe to log; not a credential. */
  codeId: string;
}

/** What redeeming a code gave: the certificate for the edge's key and the CA, as PEM. */
export interface RedeemedEnrollmentCode extends EdgeSignResult {
  codeId: string;
}

/** The parts of a code. */
export interface EnrollmentCodeParts {
  url: string;
  secret: string;
  pin: string;
}

const hashOf = (secret: string): string => createHash("sha256").update(secret, "utf8").digest("hex");
const codeIdOf = (hash: string): string => hash.slice(0, 8);
const refused = (message: string) => hubError("HUB_ERR_ENROLL_CODE", message);

/** The pin of a CA certificate: the first 32 hex digits of the SHA-256 of its DER encoding. */
export function caPinOf(caPem: string | Buffer): string {
  return createHash("sha256").update(new X509Certificate(caPem).raw).digest("hex").slice(0, PIN_HEX_DIGITS);
}

/** Checks and normalises the hub base URL a code carries (http or https, no credentials, query or fragment). */
function checkBaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw hubError("HUB_ERR_VALIDATION", `--url ${JSON.stringify(url)} is not a URL`);
  }
  if (
    !["http:", "https:"].includes(parsed.protocol) ||
    parsed.username ||
    parsed.password ||
    parsed.search ||
    parsed.hash
  ) {
    throw hubError(
      "HUB_ERR_VALIDATION",
      `--url ${JSON.stringify(url)} must be an http(s) base URL without credentials, query or fragment`,
    );
  }
  return parsed.href.replace(/\/+$/, "");
}

/** Formats the parts as a code. */
export function formatEnrollmentCode(parts: EnrollmentCodeParts): string {
  return [ENROLLMENT_CODE_PREFIX, Buffer.from(parts.url, "utf8").toString("base64url"), parts.secret, parts.pin].join(
    ".",
  );
}

/**
 * The secret of a code given whole (`stz1.…`) or as its secret part alone; undefined when it is
 * neither (white space, e.g. from a line break when pasting, is ignored).
 */
export function secretOf(code: string): string | undefined {
  const compact = code.replace(/\s+/g, "");
  const parts = compact.split(".");
  const secret =
    parts.length === 1 ? parts[0] : parts[0] === ENROLLMENT_CODE_PREFIX && parts.length === 4 ? parts[2] : undefined;
  return secret !== undefined && SECRET_PATTERN.test(secret) ? secret : undefined;
}

function emptyStore(): EnrollmentCodeStore {
  return { version: 1, codes: {} };
}

function storePath(pkiDir: string): string {
  return join(pkiDir, PKI_FILES.enrollCodes);
}

/** Reads `enroll-codes.json` (none yet: empty); unreadable or malformed is `HUB_ERR_PKI_MISSING`. */
export function readEnrollmentCodes(pkiDir: string): EnrollmentCodeStore {
  let text: string;
  try {
    text = readPkiFile(pkiDir, PKI_FILES.enrollCodes).toString("utf8");
  } catch (err) {
    if ((err as { cause?: NodeJS.ErrnoException }).cause?.code === "ENOENT") return emptyStore();
    throw err;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw hubError("HUB_ERR_PKI_MISSING", `${storePath(pkiDir)} is not JSON`, err);
  }
  if (!Value.Check(EnrollmentCodeStoreSchema, data)) {
    const first = Value.Errors(EnrollmentCodeStoreSchema, data).First();
    throw hubError(
      "HUB_ERR_PKI_MISSING",
      `${storePath(pkiDir)} is malformed at ${first?.path || "/"}: ${first?.message ?? "unexpected shape"}`,
    );
  }
  return data;
}

/** Writes `enroll-codes.json` atomically (0600) under the PKI lock, leaving out codes expired more than 30 days ago. */
function writeEnrollmentCodes(pkiDir: string, store: EnrollmentCodeStore, now: Date): void {
  const codes = Object.fromEntries(
    Object.entries(store.codes).filter(([, c]) => Date.parse(c.expiresAt) + FORGET_AFTER_MS > now.getTime()),
  );
  const fences = Object.fromEntries(
    Object.entries(store.fences ?? {}).filter(([, f]) => Date.parse(f.at) + 3 * FORGET_AFTER_MS > now.getTime()),
  );
  const kept = Object.keys(fences).length ? { version: 1, codes, fences } : { version: 1, codes };
  assertPkiLockHeld(pkiDir);
  writeFileAtomic(storePath(pkiDir), `${JSON.stringify(kept, null, 2)}\n`, KEY_MODE);
}

/** An owner's fencing token for a change of the code store (see `EnrollmentCodeStoreSchema.fences`). */
export interface EnrollmentFence {
  owner: string;
  fence: number;
}

/**
 * Records `fence` for its owner, or refuses (`HUB_ERR_FENCED`) when a newer one was seen: called
 * under the PKI lock before a fenced change.
 */
function checkFence(store: EnrollmentCodeStore, fenced: EnrollmentFence | undefined, now: Date): void {
  if (!fenced) return;
  const seen = store.fences?.[fenced.owner];
  if (seen && seen.fence > fenced.fence) {
    throw hubError(
      "HUB_ERR_FENCED",
      `${fenced.owner} changed the enrollment codes with fence ${seen.fence} already; fence ${fenced.fence} is stale`,
    );
  }
  store.fences = { ...store.fences, [fenced.owner]: { fence: fenced.fence, at: now.toISOString() } };
}

/**
 * `pki enroll-code`: creates a one-time code for `edgeId`, valid for `ttlMs` (default 72 h, at most
 * 30 days), carrying the hub's HTTP base `url` and the pin of the hub CA. Only the hash of its
 * secret is stored. Earlier unused codes for the edge stay valid until used or expired.
 */
export async function createEnrollmentCode(
  pkiDir: string,
  edgeId: string,
  options: {
    ttlMs?: number;
    url: string;
    now?: Date;
    /** Fenced: refused for a stale token, and the edge's earlier unused codes are withdrawn in the same write. */
    fenced?: EnrollmentFence;
  },
): Promise<CreatedEnrollmentCode> {
  checkEdgeId(edgeId);
  const ttlMs = options.ttlMs ?? DEFAULT_ENROLLMENT_TTL_MS;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0 || ttlMs > MAX_ENROLLMENT_TTL_MS) {
    throw hubError(
      "HUB_ERR_VALIDATION",
      `--ttl-hours must be above 0 and at most ${MAX_ENROLLMENT_TTL_MS / 3_600_000}`,
    );
  }
  const url = checkBaseUrl(options.url);
  const now = options.now ?? new Date();
  const pin = caPinOf(readPkiFile(pkiDir, PKI_FILES.caCert));
  const secret = randomBytes(SECRET_BYTES).toString("base64url");
  const hash = hashOf(secret);
  const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
  await withPkiLock(pkiDir, () => {
    const store = readEnrollmentCodes(pkiDir);
    if (options.fenced) {
      checkFence(store, options.fenced, now);
      expireUnused(store, edgeId, now);
    }
    store.codes[hash] = { edgeId, createdAt: now.toISOString(), expiresAt, usedAt: null };
    writeEnrollmentCodes(pkiDir, store, now);
  });
  return { code: formatEnrollmentCode({ url, secret, pin }), edgeId, expiresAt, url, codeId: codeIdOf(hash) };
}

/** Expires every unused, unexpired code of `edgeId` now; returns how many. */
function expireUnused(store: EnrollmentCodeStore, edgeId: string, now: Date): number {
  let withdrawn = 0;
  for (const record of Object.values(store.codes)) {
    if (record.edgeId !== edgeId || record.usedAt !== null || Date.parse(record.expiresAt) <= now.getTime()) continue;
    record.expiresAt = now.toISOString();
    withdrawn++;
  }
  return withdrawn;
}

/**
 * Withdraws every unused, unexpired code of `edgeId` (it expires now): an order that was undone,
 * or a code issued again in its place. Fenced like `createEnrollmentCode`. Returns how many were withdrawn.
 */
export async function withdrawEnrollmentCodes(
  pkiDir: string,
  edgeId: string,
  options: { now?: Date; fenced?: EnrollmentFence } = {},
): Promise<number> {
  checkEdgeId(edgeId);
  const now = options.now ?? new Date();
  return withPkiLock(pkiDir, () => {
    const store = readEnrollmentCodes(pkiDir);
    checkFence(store, options.fenced, now);
    const withdrawn = expireUnused(store, edgeId, now);
    if (withdrawn > 0 || options.fenced) writeEnrollmentCodes(pkiDir, store, now);
    return withdrawn;
  });
}

/**
 * Redeems a code for a certificate: the code (whole or its secret) must be known, unused and not
 * expired, and made for `expectEdgeId` when that is given (else `HUB_ERR_ENROLL_CODE`, whose
 * messages never name an edge); `publicKey` must be an EC P-256 SPKI PEM (`HUB_ERR_VALIDATION`,
 * checked first, so a bad key does not use up the code). Signs the certificate with CN = the
 * code's edge id, registers it like `pki issue` (superseding the edge's earlier certificates) and
 * marks the code used, all under the PKI lock: of concurrent redemptions exactly one succeeds.
 */
export async function redeemEnrollmentCode(
  pkiDir: string,
  request: { code: string; publicKey: string; expectEdgeId?: string },
  now = new Date(),
): Promise<RedeemedEnrollmentCode> {
  await parseEdgePublicKey(request.publicKey);
  const secret = secretOf(request.code);
  if (secret === undefined) throw refused("this is not an enrollment code");
  const hash = hashOf(secret);
  return withPkiLock(pkiDir, async () => {
    const store = readEnrollmentCodes(pkiDir);
    const record = Object.hasOwn(store.codes, hash) ? store.codes[hash] : undefined;
    if (!record) throw refused("the enrollment code is unknown");
    if (record.usedAt !== null) throw refused(`the enrollment code was already used at ${record.usedAt}`);
    if (Date.parse(record.expiresAt) <= now.getTime()) {
      throw refused(`the enrollment code expired at ${record.expiresAt}`);
    }
    if (request.expectEdgeId !== undefined && request.expectEdgeId !== record.edgeId) {
      throw refused("the enrollment code was made for another edge than this one");
    }

    // Used first, so a crash while issuing cannot leave it redeemable twice; undone if issuing fails.
    record.usedAt = now.toISOString();
    writeEnrollmentCodes(pkiDir, store, now);
    let issued: EdgeSignResult;
    try {
      issued = await issueEdgeCertificateForKey(pkiDir, record.edgeId, request.publicKey, now);
    } catch (err) {
      record.usedAt = null;
      writeEnrollmentCodes(pkiDir, store, now);
      throw err;
    }
    record.serial = issued.serial;
    writeEnrollmentCodes(pkiDir, store, now);
    return { ...issued, codeId: codeIdOf(hash) };
  });
}

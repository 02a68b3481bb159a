import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { hubError } from "../errors.js";

/** The files of the hub's PKI directory (`$HUB_DATA_DIR/pki`). */
export const PKI_FILES = {
  caCert: "ca.crt",
  caKey: "ca.key",
  hubCert: "hub.crt",
  hubKey: "hub.key",
  registry: "edges.json",
  /** One-time enrollment codes: hashes of their secrets, edge ids, expiry and use (`enrollment.ts`). */
  enrollCodes: "enroll-codes.json",
  /** Held while a process changes `enroll-codes.json` or redeems a code (`withPkiLock`). */
  lock: ".pki.lock",
} as const;

/** The files `pki issue` writes into an edge's TLS directory (the edge reads them from `EDGE_TLS_DIR`). */
export const EDGE_BUNDLE_FILES = { caCert: "ca.crt", cert: "edge.crt", key: "edge.key" } as const;

/** File modes: private keys are readable by their owner only. */
export const KEY_MODE = 0o600;
export const CERT_MODE = 0o644;
export const DIR_MODE = 0o700;

/** The PKI directory under the hub's data directory. */
export function pkiDirOf(dataDir: string): string {
  return join(dataDir, "pki");
}

/**
 * Writes `data` to a temporary file beside `path` (created with `mode`), flushes it and renames it
 * over `path`, so a reader sees the old or the new content, never a part, and an existing file's
 * looser mode is not kept.
 */
export function writeFileAtomic(path: string, data: string, mode: number): void {
  const tmp = join(path, "..", `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    const fd = openSync(tmp, "wx", mode);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Reads one file of the PKI directory; a missing or unreadable file is `HUB_ERR_PKI_MISSING` naming it. */
export function readPkiFile(pkiDir: string, name: string): Buffer {
  const path = join(pkiDir, name);
  try {
    return readFileSync(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "does not exist" : "cannot be read";
    throw hubError(
      "HUB_ERR_PKI_MISSING",
      `${path} ${reason} (create the hub CA with \`npm run hub -- pki init\`)`,
      err,
    );
  }
}

/** A lock file older than this is taken to be left by a process that died while holding it. */
const LOCK_STALE_MS = 30_000;
/** How long `withPkiLock` waits for the lock before it gives up. */
const LOCK_WAIT_MS = 10_000;

/**
 * Runs `fn` while holding the PKI directory's lock file (created with O_EXCL, so one holder at a
 * time across the hub processes and the CLI sharing the directory, and within one process). A
 * lock left by a crashed process is taken over after 30 s; waiting longer than 10 s is
 * `HUB_ERR_INTERNAL` (retryable). Keep `fn` short: it blocks every other enrollment meanwhile.
 */
export async function withPkiLock<T>(pkiDir: string, fn: () => Promise<T> | T): Promise<T> {
  const path = join(pkiDir, PKI_FILES.lock);
  const deadline = Date.now() + LOCK_WAIT_MS;
  let fd: number | undefined;
  while (fd === undefined) {
    try {
      fd = openSync(path, "wx", KEY_MODE);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw hubError("HUB_ERR_PKI_MISSING", `${pkiDir} does not exist (run \`pki init\`)`, err);
      if (code !== "EEXIST") throw err;
      const stat = statSync(path, { throwIfNoEntry: false });
      if (stat && Date.now() - stat.mtimeMs > LOCK_STALE_MS) {
        rmSync(path, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw hubError("HUB_ERR_INTERNAL", `${path} stayed locked for ${LOCK_WAIT_MS / 1000} s; retry later`);
      }
      await sleep(10 + Math.random() * 20);
    }
  }
  try {
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    return await fn();
  } finally {
    rmSync(path, { force: true });
  }
}

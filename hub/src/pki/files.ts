import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { hostname } from "node:os";
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

/**
 * How long a holder may keep the PKI lock: past this its lock counts as abandoned (a process that
 * was paused, e.g. SIGSTOPped) and another process takes it over. What runs under the lock takes
 * milliseconds.
 */
const LOCK_LEASE_MS = 5_000;
/** How long `withPkiLock` waits for the lock before it gives up. */
const LOCK_WAIT_MS = 10_000;

/** What the lock file holds: who holds it and until when. */
interface LockHolder {
  pid: number;
  host: string;
  nonce: string;
  /** ms since the epoch */
  until: number;
}

/** The nonce of the lock this process holds per PKI lock file (one holder per process, see `queues`). */
const held = new Map<string, string>();
/** Per PKI lock file, the tail of this process's queue of `withPkiLock` callers. */
const queues = new Map<string, Promise<unknown>>();

function readHolder(path: string): LockHolder | undefined {
  try {
    const data = JSON.parse(readFileSync(path, "utf8")) as Partial<LockHolder>;
    if (typeof data.pid === "number" && typeof data.nonce === "string" && typeof data.until === "number") {
      return { pid: data.pid, host: String(data.host), nonce: data.nonce, until: data.until };
    }
  } catch {
    // missing, or being written: below, its age decides
  }
  return undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether the lock at `path` was abandoned: its holder on this host is gone (killed), its lease ran
 * out (paused), or it never got its content written within a lease.
 */
function abandoned(path: string, holder: LockHolder | undefined, now: number): boolean {
  if (holder) return now > holder.until || (holder.host === hostname() && !isAlive(holder.pid));
  const stat = statSync(path, { throwIfNoEntry: false });
  return stat !== undefined && now - stat.mtimeMs > LOCK_LEASE_MS;
}

/** Removes an abandoned lock unless another process replaced it meanwhile (then it is put back). */
function breakLock(path: string, holder: LockHolder | undefined): void {
  const aside = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.stale`;
  try {
    renameSync(path, aside);
  } catch {
    return; // gone already
  }
  const moved = readHolder(aside);
  if (holder && moved && moved.nonce !== holder.nonce) renameSync(aside, path);
  else rmSync(aside, { force: true });
}

/**
 * Runs `fn` while holding the PKI directory's lock file (created with O_EXCL, so one holder at a
 * time across the hub processes and the CLI sharing the directory; callers within one process
 * queue). A lock whose holder on this host died is taken over at once, one whose 5 s lease ran out
 * (a paused holder) then too; waiting longer than 10 s is `HUB_ERR_INTERNAL` (retryable). Keep `fn`
 * short; a write under the lock checks first that the lock is still this process's
 * (`assertPkiLockHeld`), so a holder that was paused past its lease changes nothing.
 */
export async function withPkiLock<T>(pkiDir: string, fn: () => Promise<T> | T): Promise<T> {
  const path = join(pkiDir, PKI_FILES.lock);
  const before = queues.get(path) ?? Promise.resolve();
  const run = before.then(() => lockAndRun(path, pkiDir, fn));
  const tail = run.catch(() => undefined);
  queues.set(path, tail);
  try {
    return await run;
  } finally {
    if (queues.get(path) === tail) queues.delete(path);
  }
}

async function lockAndRun<T>(path: string, pkiDir: string, fn: () => Promise<T> | T): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  const me: LockHolder = { pid: process.pid, host: hostname(), nonce: randomBytes(12).toString("hex"), until: 0 };
  for (;;) {
    let fd: number;
    try {
      fd = openSync(path, "wx", KEY_MODE);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw hubError("HUB_ERR_PKI_MISSING", `${pkiDir} does not exist (run \`pki init\`)`, err);
      if (code !== "EEXIST") throw err;
      const holder = readHolder(path);
      if (abandoned(path, holder, Date.now())) {
        breakLock(path, holder);
        continue;
      }
      if (Date.now() > deadline) {
        throw hubError("HUB_ERR_INTERNAL", `${path} stayed locked for ${LOCK_WAIT_MS / 1000} s; retry later`);
      }
      await sleep(5 + Math.random() * 15);
      continue;
    }
    try {
      me.until = Date.now() + LOCK_LEASE_MS;
      writeSync(fd, JSON.stringify(me));
    } finally {
      closeSync(fd);
    }
    break;
  }
  held.set(path, me.nonce);
  try {
    return await fn();
  } finally {
    held.delete(path);
    if (readHolder(path)?.nonce === me.nonce) rmSync(path, { force: true });
  }
}

/**
 * Refuses (`HUB_ERR_FENCED`) a write under the PKI lock when the lock is no longer this process's:
 * it was paused past its lease and another process took the lock over.
 */
export function assertPkiLockHeld(pkiDir: string): void {
  const path = join(pkiDir, PKI_FILES.lock);
  const mine = held.get(path);
  const holder = readHolder(path);
  if (mine === undefined || holder?.nonce !== mine || Date.now() > holder.until) {
    throw hubError("HUB_ERR_FENCED", `${path} is no longer held by this process (its lease ran out); nothing written`);
  }
}

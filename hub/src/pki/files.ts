import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import { hubError } from "../errors.js";

/** The files of the hub's PKI directory (`$HUB_DATA_DIR/pki`). */
export const PKI_FILES = {
  caCert: "ca.crt",
  caKey: "ca.key",
  hubCert: "hub.crt",
  hubKey: "hub.key",
  registry: "edges.json",
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

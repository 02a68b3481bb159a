import { closeSync, fsyncSync, openSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Replaces a file atomically and durably: write a temporary file, fsync it, rename it over the
 * old one, fsync the directory (so the rename itself survives a power cut). A reader sees the
 * old content or the new, never a mix. See https://lwn.net/Articles/457667/ for why each of
 * the syncs is needed.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): void {
  const temp = `${file}.tmp-${process.pid}`;
  const fd = openSync(temp, "w", mode);
  try {
    writeFileSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
  syncDir(dirname(file));
}

function syncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, "r");
  } catch {
    return; // platforms that cannot open a directory (Windows) do not need this either
  }
  try {
    fsyncSync(fd);
  } catch {
    // some file systems refuse fsync on a directory; the rename is as durable as they make it
  } finally {
    closeSync(fd);
  }
}

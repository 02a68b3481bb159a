import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * What must outlive the buffer file: the edge's identity and its seq reservation ceiling. Every
 * seq the buffer ever handed out is below `seqCeiling`, so a buffer started from scratch (lost or
 * corrupt file) starts there and never reuses a seq.
 */
export interface EdgeState {
  edgeId: string;
  seqCeiling: number;
}

/**
 * Reads the state file; `null` when it does not exist. A file that exists but cannot be parsed
 * throws (the caller decides whether the buffer's own copy can stand in).
 */
export function readEdgeState(file: string): EdgeState | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const data = JSON.parse(text) as Partial<EdgeState>;
  if (typeof data.edgeId !== "string" || data.edgeId === "" || !Number.isSafeInteger(data.seqCeiling)) {
    throw new Error(`${file}: not an edge state document`);
  }
  return { edgeId: data.edgeId, seqCeiling: data.seqCeiling as number };
}

/**
 * Replaces the state file atomically and durably: write a temporary file, fsync it, rename it
 * over the old one, fsync the directory (so the rename itself survives a power cut).
 * See https://lwn.net/Articles/457667/ for why each of the syncs is needed.
 */
export function writeEdgeState(file: string, state: EdgeState): void {
  const temp = `${file}.tmp`;
  const fd = openSync(temp, "w", 0o644);
  try {
    writeFileSync(fd, `${JSON.stringify(state, null, 2)}\n`);
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

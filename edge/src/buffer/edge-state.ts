import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../atomic-file.js";

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

/** Replaces the state file atomically and durably (see `writeFileAtomic`). */
export function writeEdgeState(file: string, state: EdgeState): void {
  writeFileAtomic(file, `${JSON.stringify(state, null, 2)}\n`);
}

import { readFileSync, renameSync, writeFileSync } from "node:fs";

/**
 * Reads the finite numbers a simulator kept in its state file (lifetime counters, a battery's
 * charge); a missing or unreadable file, or a field that is not a finite number, gives nothing.
 */
export function readState<K extends string>(file: string | undefined, keys: readonly K[]): Partial<Record<K, number>> {
  if (!file) return {};
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return {};
  }
  const state: Partial<Record<K, number>> = {};
  for (const key of keys) {
    const v = value?.[key];
    if (typeof v === "number" && Number.isFinite(v)) state[key] = v;
  }
  return state;
}

/** Replaces the state file atomically (temporary file, then rename), so a kill never leaves half a file. */
export function writeState(file: string | undefined, state: Record<string, number>): void {
  if (!file) return;
  writeFileSync(`${file}.tmp`, JSON.stringify(state));
  renameSync(`${file}.tmp`, file);
}

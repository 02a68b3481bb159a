import { existsSync, renameSync } from "node:fs";
import Database from "better-sqlite3";

/** Recovering from a corrupt buffer file: detect it, read what survives, move it aside. */

/** Thrown by the integrity check; handled like SQLITE_CORRUPT. */
export class CorruptBufferError extends Error {
  readonly code = "SQLITE_CORRUPT";
}

/** Whether SQLite reported the file as damaged or not a database at all. */
export const isCorruption = (err: unknown): boolean => {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && (code.startsWith("SQLITE_CORRUPT") || code === "SQLITE_NOTADB");
};

/** What could be read from a corrupt buffer's meta table before it is moved aside. */
export interface Salvaged {
  edgeId: string | undefined;
  ceiling: number;
  /** Eviction counters by reason (`buffer_full`, `ttl`, ...). */
  evicted: Partial<Record<string, number>>;
}

/** Best effort: the meta table is small and usually still readable in a damaged file. */
export function salvage(file: string): Salvaged | null {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const meta = new Map(
      (db.prepare("SELECT key, value FROM meta").all() as { key: string; value: string }[]).map((r) => [
        r.key,
        r.value,
      ]),
    );
    const evicted: Partial<Record<string, number>> = {};
    for (const [key, value] of meta) {
      const n = Number(value);
      if (key.startsWith("evicted_") && Number.isSafeInteger(n)) evicted[key.slice("evicted_".length)] = n;
    }
    const ceiling = Math.max(Number(meta.get("next_seq") ?? 1), Number(meta.get("seq_ceiling") ?? 1));
    return { edgeId: meta.get("edge_id"), ceiling: Number.isSafeInteger(ceiling) ? ceiling : 1, evicted };
  } catch {
    return null;
  } finally {
    db?.close();
  }
}

/** Renames the file and its -wal/-shm to `<file>.corrupt-<time>` (+ the same suffixes); returns the new name. */
export function moveAside(file: string, at: number): string {
  const target = `${file}.corrupt-${new Date(at).toISOString().replace(/[:.]/g, "-")}`;
  for (const suffix of ["", "-wal", "-shm"]) {
    if (existsSync(file + suffix)) renameSync(file + suffix, target + suffix);
  }
  return target;
}

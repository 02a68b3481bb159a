import Database from "better-sqlite3";

/** Where a hub command stands on the edge. */
export type EdgeCommandState = "received" | "succeeded" | "failed" | "expired" | "rejected";

/** A command from the hub as the edge keeps it (and its status API shows it). */
export interface StoredCommand {
  id: string;
  /** power_limit, power_limit_release, diagnostics, or what an unknown command said it was */
  type: string;
  /** What was asked, as JSON (device ids, limit, revert timeout). */
  payload: Record<string, unknown>;
  notAfter: number;
  receivedAt: number;
  state: EdgeCommandState;
  /** What happened or why not (an EDGE_ERR_* code first when it did not succeed). */
  detail: string;
  /** The outcome (per device what was written and read back; the status for diagnostics). */
  result: unknown;
  /** When it reached its state (ms since epoch). */
  at: number;
}

/** Commands kept; older ended ones are deleted (an id older than these is not expected again). */
const KEEP = 1000;

/**
 * The hub's commands on the edge (`commands.sqlite` in the data directory): a command is stored
 * before it runs and its outcome before it is reported, so a command sent again after a
 * reconnect — or after the agent restarted — is recognised by its id and never runs twice.
 */
export class CommandStore {
  private constructor(private readonly db: Database.Database) {}

  static open(file: string): CommandStore {
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.exec(`CREATE TABLE IF NOT EXISTS commands (
      id TEXT PRIMARY KEY,
      type TEXT NOT NULL,
      payload TEXT NOT NULL,
      not_after INTEGER NOT NULL,
      received_at INTEGER NOT NULL,
      state TEXT NOT NULL,
      detail TEXT NOT NULL DEFAULT '',
      result TEXT,
      at INTEGER NOT NULL
    )`);
    return new CommandStore(db);
  }

  /**
   * Records a command as received; returns false (and changes nothing) when its id is known
   * already.
   */
  receive(command: Omit<StoredCommand, "state" | "detail" | "result" | "at">): boolean {
    const { changes } = this.db
      .prepare(
        `INSERT INTO commands (id, type, payload, not_after, received_at, state, at)
         VALUES (?, ?, ?, ?, ?, 'received', ?) ON CONFLICT (id) DO NOTHING`,
      )
      .run(
        command.id,
        command.type,
        JSON.stringify(command.payload),
        command.notAfter,
        command.receivedAt,
        command.receivedAt,
      );
    if (changes === 1) this.prune();
    return changes === 1;
  }

  /** Records a received command's outcome (only once: an ended command keeps its outcome). */
  finish(id: string, state: Exclude<EdgeCommandState, "received">, detail: string, result: unknown, at: number): void {
    this.db
      .prepare("UPDATE commands SET state = ?, detail = ?, result = ?, at = ? WHERE id = ? AND state = 'received'")
      .run(state, detail, result === undefined ? null : JSON.stringify(result), at, id);
  }

  get(id: string): StoredCommand | undefined {
    const row = this.db.prepare("SELECT * FROM commands WHERE id = ?").get(id) as Row | undefined;
    return row && toCommand(row);
  }

  /** The newest `limit` commands, newest first. */
  recent(limit: number): StoredCommand[] {
    return (this.db.prepare("SELECT * FROM commands ORDER BY received_at DESC, id LIMIT ?").all(limit) as Row[]).map(
      toCommand,
    );
  }

  /** Commands received but not ended (the agent stopped while running them). */
  unfinished(): StoredCommand[] {
    return (this.db.prepare("SELECT * FROM commands WHERE state = 'received'").all() as Row[]).map(toCommand);
  }

  close(): void {
    this.db.close();
  }

  private prune(): void {
    this.db
      .prepare(
        `DELETE FROM commands WHERE state <> 'received' AND id NOT IN (
           SELECT id FROM commands ORDER BY received_at DESC LIMIT ${KEEP})`,
      )
      .run();
  }
}

interface Row {
  id: string;
  type: string;
  payload: string;
  not_after: number;
  received_at: number;
  state: EdgeCommandState;
  detail: string;
  result: string | null;
  at: number;
}

const toCommand = (r: Row): StoredCommand => ({
  id: r.id,
  type: r.type,
  payload: JSON.parse(r.payload) as Record<string, unknown>,
  notAfter: r.not_after,
  receivedAt: r.received_at,
  state: r.state,
  detail: r.detail,
  result: r.result === null ? null : JSON.parse(r.result),
  at: r.at,
});

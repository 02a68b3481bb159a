import { createHash, randomUUID } from "node:crypto";
import { requestApproval, requiresApproval } from "../approvals/service.js";
import type { Queryable } from "../db/queryable.js";
import { hubError } from "../errors.js";
import type { Principal } from "../platform/principal.js";

/** What the hub can ask an edge to do (`ops.edge_commands.type`). */
export const COMMAND_TYPES = ["power_limit", "power_limit_release", "diagnostics", "apply_configuration"] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];
/** Where a command stands (migration 0028 has the transitions). */
export const COMMAND_STATES = [
  "pending_approval",
  "queued",
  "delivered",
  "succeeded",
  "failed",
  "expired",
  "rejected",
] as const;
export type CommandState = (typeof COMMAND_STATES)[number];
export const ENDED_STATES: readonly CommandState[] = ["succeeded", "failed", "expired", "rejected"];

/** The approval operation of commands that change what a site may feed in. */
export const POWER_LIMIT_OPERATION = "edge.power_limit";
const NEEDS_APPROVAL: ReadonlySet<CommandType> = new Set(["power_limit", "power_limit_release"]);

/** What a power limit or its release carries. */
export interface PowerLimitPayload {
  /** Device ids on the edge; empty: every inverter of the site. */
  devices: string[];
  /** power_limit only: percent of each inverter's maximum active power. */
  limitPct?: number;
  /** power_limit only: seconds until the inverter falls back unless set again. */
  revertTimeoutS?: number;
}

/** A command as the API shows it. */
export interface EdgeCommand {
  id: string;
  edgeId: string;
  type: CommandType;
  payload: Record<string, unknown>;
  state: CommandState;
  notAfter: string;
  approvalId: string | null;
  requestedBy: string;
  requestedByName: string | null;
  detail: string | null;
  result: unknown;
  createdAt: string;
  updatedAt: string;
  endedAt: string | null;
  history: Array<{ state: CommandState; at: string; detail: string | null }>;
}

const COLUMNS = `id, edge_id, type, payload, state, not_after, approval_id, requested_by, requested_by_name, detail,
  result, created_at, updated_at, ended_at, history`;

/** A pushed configuration is shown by its hash and size (GET …/configuration has the YAML). */
function redacted(payload: Record<string, unknown>): Record<string, unknown> {
  if (typeof payload.yaml !== "string") return payload;
  const { yaml, ...rest } = payload;
  return {
    ...rest,
    yamlSha256: createHash("sha256").update(yaml, "utf8").digest("hex"),
    yamlBytes: Buffer.byteLength(yaml),
  };
}

const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : d === null ? null : String(d));
export const toCommand = (r: Record<string, unknown>, redact = true): EdgeCommand => ({
  id: r.id as string,
  edgeId: r.edge_id as string,
  type: r.type as CommandType,
  payload: redact ? redacted(r.payload as Record<string, unknown>) : (r.payload as Record<string, unknown>),
  state: r.state as CommandState,
  notAfter: iso(r.not_after) as string,
  approvalId: (r.approval_id as string | null) ?? null,
  requestedBy: r.requested_by as string,
  requestedByName: (r.requested_by_name as string | null) ?? null,
  detail: (r.detail as string | null) ?? null,
  result: r.result ?? null,
  createdAt: iso(r.created_at) as string,
  updatedAt: iso(r.updated_at) as string,
  endedAt: iso(r.ended_at),
  history: r.history as EdgeCommand["history"],
});

/**
 * Records a command for an edge, in the caller's transaction: a power limit or its release waits
 * for a second person's approval (`edge.power_limit`, asked in the caller's name) as
 * `pending_approval`; anything else is `queued` at once. `ttlMs` is how long the edge may still
 * execute it from now.
 */
export async function createCommand(
  tx: Queryable,
  input: { edgeId: string; type: CommandType; payload: Record<string, unknown>; ttlMs: number; principal: Principal },
): Promise<EdgeCommand> {
  const { edgeId, type, payload, principal } = input;
  const known = await tx.query("SELECT 1 FROM raw.edges WHERE edge_id = $1", [edgeId]);
  if (known.rowCount === 0) throw hubError("HUB_ERR_NOT_FOUND", `edge ${edgeId} is not known to the hub`);
  const id = randomUUID();
  const notAfter = new Date(Date.now() + input.ttlMs);
  let approvalId: string | null = null;
  if (NEEDS_APPROVAL.has(type) && (await requiresApproval(tx, POWER_LIMIT_OPERATION))) {
    const approval = await requestApproval(tx, {
      operation: POWER_LIMIT_OPERATION,
      subject: { entity: "edge_commands", id },
      payload: { commandId: id },
      facts: { edgeId, type, ...payload, notAfter: notAfter.toISOString() },
      principal,
    });
    approvalId = approval.id;
  }
  const { rows } = await tx.query(
    `INSERT INTO ops.edge_commands (id, edge_id, type, payload, state, not_after, approval_id, requested_by,
       requested_by_name, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING ${COLUMNS}`,
    [
      id,
      edgeId,
      type,
      payload,
      approvalId ? "pending_approval" : "queued",
      notAfter,
      approvalId,
      principal.id,
      principal.name,
      approvalId ? `waits for approval request ${approvalId}` : null,
    ],
  );
  return toCommand(rows[0] as Record<string, unknown>);
}

/**
 * The approval executor of `edge.power_limit`: the approved command is queued for delivery (in
 * the approver's transaction), or expired when its not-after time passed while it waited.
 */
export async function queueApproved(tx: Queryable, commandId: string): Promise<{ commandId: string; state: string }> {
  const { rows } = await tx.query(
    `UPDATE ops.edge_commands
     SET state = CASE WHEN not_after > now() THEN 'queued' ELSE 'expired' END,
       detail = CASE WHEN not_after > now() THEN 'approved' ELSE 'approved after its not-after time' END
     WHERE id = $1 AND state = 'pending_approval' RETURNING state`,
    [commandId],
  );
  if (!rows[0]) throw hubError("HUB_ERR_APPROVAL_CLOSED", `command ${commandId} no longer waits for approval`);
  return { commandId, state: rows[0].state as string };
}

/** Commands of an edge, newest first. */
export async function listCommands(
  db: Queryable,
  edgeId: string,
  query: { state?: CommandState; before?: string; limit: number },
): Promise<EdgeCommand[]> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM ops.edge_commands
     WHERE edge_id = $1 AND ($2::text IS NULL OR state = $2) AND ($3::timestamptz IS NULL OR created_at < $3)
     ORDER BY created_at DESC LIMIT $4`,
    [edgeId, query.state ?? null, query.before ?? null, query.limit],
  );
  return rows.map((r) => toCommand(r));
}

/** One command; 404 when unknown. */
export async function getCommand(db: Queryable, id: string): Promise<EdgeCommand> {
  const { rows } = await db.query(`SELECT ${COLUMNS} FROM ops.edge_commands WHERE id = $1`, [id]);
  if (!rows[0]) throw hubError("HUB_ERR_NOT_FOUND", `command ${id} does not exist`);
  return toCommand(rows[0] as Record<string, unknown>);
}

/** The commands the edges in `edgeIds` are to get: queued or delivered, oldest first, unredacted (for the wire). */
export async function openCommands(db: Queryable, edgeIds: readonly string[]): Promise<EdgeCommand[]> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS} FROM ops.edge_commands WHERE edge_id = ANY($1) AND state IN ('queued', 'delivered')
     ORDER BY created_at`,
    [edgeIds],
  );
  return rows.map((r) => toCommand(r, false));
}

/**
 * Applies an edge's report on a command of its own: RECEIVED → delivered, an outcome → that end
 * state. A report on a command that moved on already (a repeat after a reconnect) changes
 * nothing. Returns the command's state afterwards, or null when the edge has no such command.
 */
export async function applyReport(
  db: Queryable,
  edgeId: string,
  report: { commandId: string; state: "delivered" | CommandState; detail: string | null; result: unknown },
): Promise<{ before: CommandState; after: CommandState; type: CommandType } | null> {
  const { rows } = await db.query(
    `WITH cur AS (SELECT id, state, type FROM ops.edge_commands WHERE id = $1 AND edge_id = $2 FOR UPDATE),
     moved AS (
       UPDATE ops.edge_commands c SET state = $3, detail = $4, result = $5
       FROM cur WHERE c.id = cur.id AND CASE $3
         WHEN 'delivered' THEN cur.state = 'queued'
         ELSE cur.state IN ('queued', 'delivered') END
       RETURNING c.state)
     SELECT cur.state AS before, coalesce((SELECT state FROM moved), cur.state) AS after, cur.type FROM cur`,
    [report.commandId, edgeId, report.state, report.detail, report.result === undefined ? null : report.result],
  );
  const moved = (rows[0] as { before: CommandState; after: CommandState; type: CommandType } | undefined) ?? null;
  const version = (report.result as { version?: unknown } | null)?.version;
  if (
    moved?.type === "apply_configuration" &&
    moved.after === "succeeded" &&
    moved.before !== "succeeded" &&
    typeof version === "number"
  ) {
    // the edge runs what the hub pushed: keep it with its version
    await db.query(
      `INSERT INTO ops.edge_configurations AS c (edge_id, version, yaml, command_id)
       SELECT edge_id, $2, payload ->> 'yaml', id FROM ops.edge_commands WHERE id = $1
       ON CONFLICT (edge_id) DO UPDATE SET version = excluded.version, yaml = excluded.yaml,
         command_id = excluded.command_id, updated_at = now()`,
      [report.commandId, version],
    );
  }
  return moved;
}

/**
 * Notes the configuration version an edge runs (from its hello); the YAML the hub knows for it
 * stays only while the version is the one the hub pushed.
 */
export async function recordConfigVersion(db: Queryable, edgeId: string, version: number): Promise<void> {
  await db.query(
    `INSERT INTO ops.edge_configurations AS c (edge_id, version) VALUES ($1, $2)
     ON CONFLICT (edge_id) DO UPDATE SET version = excluded.version,
       yaml = CASE WHEN c.version = excluded.version THEN c.yaml END,
       command_id = CASE WHEN c.version = excluded.version THEN c.command_id END,
       updated_at = CASE WHEN c.version = excluded.version THEN c.updated_at ELSE now() END
     WHERE c.version IS DISTINCT FROM excluded.version`,
    [edgeId, version],
  );
}

/** What an edge runs as far as the hub knows: its version and, when the hub pushed it, the YAML. */
export async function edgeConfiguration(
  db: Queryable,
  edgeId: string,
): Promise<{ version: number; yaml: string | null; commandId: string | null; updatedAt: string } | null> {
  const { rows } = await db.query(
    "SELECT version, yaml, command_id, updated_at FROM ops.edge_configurations WHERE edge_id = $1",
    [edgeId],
  );
  const r = rows[0];
  return r
    ? {
        version: Number(r.version),
        yaml: r.yaml,
        commandId: r.command_id,
        updatedAt: (r.updated_at as Date).toISOString(),
      }
    : null;
}

/** Commands never delivered a week past their not-after time end `expired`; returns how many. */
export async function expireUndelivered(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE ops.edge_commands SET state = 'expired', detail = 'never delivered: the edge did not connect in time'
     WHERE state IN ('queued', 'delivered') AND not_after < now() - interval '7 days'`,
  );
  return rowCount ?? 0;
}

/** How many commands are in each type and state (the metric). */
export async function countByTypeAndState(db: Queryable): Promise<Array<{ type: string; state: string; n: number }>> {
  const { rows } = await db.query("SELECT type, state, count(*)::int AS n FROM ops.edge_commands GROUP BY 1, 2");
  return rows as Array<{ type: string; state: string; n: number }>;
}

import type pg from "pg";
import type { EdgeItem, ReadingItem } from "./schemas.js";

const QUALITY = ["", "good", "not-implemented", "stale", "comm-error", "out-of-range"] as const;

/** Position after which a page continues: the last row's (ts, edge, seq). */
export interface Cursor {
  ts: string;
  edgeId: string;
  seq: number;
}

/** Filters of a readings query. */
export interface ReadingsFilter {
  edge?: string;
  device?: string;
  point?: string;
  from?: string;
  to?: string;
  after?: Cursor;
  limit: number;
}

/** Readings matching `filter`, ordered by (ts, edge_id, seq). */
export async function findReadings(pool: pg.Pool, filter: ReadingsFilter): Promise<ReadingItem[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace("?", `$${params.length}`));
  };
  if (filter.edge) add("edge_id = ?", filter.edge);
  if (filter.device) add("device_id = ?", filter.device);
  if (filter.point) add("point = ?", filter.point);
  if (filter.from) add("ts >= ?", filter.from);
  if (filter.to) add("ts < ?", filter.to);
  if (filter.after) {
    params.push(filter.after.ts, filter.after.edgeId, filter.after.seq);
    where.push(`(ts, edge_id, seq) > ($${params.length - 2}::timestamptz, $${params.length - 1}, $${params.length})`);
  }
  params.push(filter.limit);
  const { rows } = await pool.query<{
    edge_id: string;
    seq: string;
    device_id: string;
    point: string;
    ts: Date;
    value: number | null;
    quality: number;
    clock_synced: boolean;
    received_at: Date;
  }>(
    `SELECT edge_id, seq, device_id, point, ts, value, quality, clock_synced, received_at FROM raw.readings
     ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY ts, edge_id, seq LIMIT $${params.length}`,
    params,
  );
  return rows.map((r) => ({
    edgeId: r.edge_id,
    seq: Number(r.seq),
    deviceId: r.device_id,
    point: r.point,
    ts: r.ts.toISOString(),
    value: r.value,
    quality: QUALITY[r.quality] as ReadingItem["quality"],
    clockSynced: r.clock_synced,
    receivedAt: r.received_at.toISOString(),
  }));
}

/** Every edge that has said hello, with its committed high-water mark. */
export async function findEdges(pool: pg.Pool): Promise<EdgeItem[]> {
  const { rows } = await pool.query<{
    edge_id: string;
    committed_seq: string;
    agent_version: string | null;
    clock_offset_ms: string | null;
    first_seen_at: Date;
    last_seen_at: Date;
  }>("SELECT * FROM raw.edges ORDER BY edge_id");
  return rows.map((r) => ({
    edgeId: r.edge_id,
    committedSeq: Number(r.committed_seq),
    agentVersion: r.agent_version,
    clockOffsetMs: r.clock_offset_ms === null ? null : Number(r.clock_offset_ms),
    firstSeenAt: r.first_seen_at.toISOString(),
    lastSeenAt: r.last_seen_at.toISOString(),
  }));
}

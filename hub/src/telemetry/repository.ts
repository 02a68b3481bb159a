import { subtractRanges, unionRanges } from "@steinmetz/proto";
import type pg from "pg";
import { parseMultirange } from "../ingest/repository.js";
import type { EdgeItem, EdgeSync, ReadingItem } from "./schemas.js";

/** Reading quality names by their stored code (proto Quality). */
export const QUALITY = ["", "good", "not-implemented", "stale", "comm-error", "out-of-range"] as const;

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
  if (filter.edge) add("s.edge_id = ?", filter.edge);
  if (filter.device) add("s.device_id = ?", filter.device);
  if (filter.point) add("s.point = ?", filter.point);
  if (filter.from) add("r.ts >= ?", filter.from);
  if (filter.to) add("r.ts < ?", filter.to);
  if (filter.after) {
    params.push(filter.after.ts, filter.after.edgeId, filter.after.seq);
    where.push(
      `(r.ts, s.edge_id, r.seq) > ($${params.length - 2}::timestamptz, $${params.length - 1}, $${params.length})`,
    );
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
    `SELECT s.edge_id, r.seq, s.device_id, s.point, r.ts, r.value, r.quality, r.clock_synced, r.received_at
     FROM raw.readings r JOIN raw.series s USING (series_id)
     ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY r.ts, s.edge_id, r.seq LIMIT $${params.length}`,
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

interface EdgeRow {
  edge_id: string;
  committed_seq: string;
  agent_version: string | null;
  clock_offset_ms: string | null;
  clock_skewed: boolean;
  clock_synced: boolean | null;
  first_seen_at: Date;
  last_seen_at: Date;
}

const edgeItem = (r: EdgeRow): EdgeItem => ({
  edgeId: r.edge_id,
  committedSeq: Number(r.committed_seq),
  agentVersion: r.agent_version,
  clockOffsetMs: r.clock_offset_ms === null ? null : Number(r.clock_offset_ms),
  clockSkewed: r.clock_skewed,
  clockSynced: r.clock_synced,
  firstSeenAt: r.first_seen_at.toISOString(),
  lastSeenAt: r.last_seen_at.toISOString(),
});

const EDGE_COLUMNS =
  "edge_id, committed_seq, agent_version, clock_offset_ms, clock_skewed, clock_synced, first_seen_at, last_seen_at";

/** Every edge that has said hello, with its committed high-water mark and clock state. */
export async function findEdges(pool: pg.Pool): Promise<EdgeItem[]> {
  const { rows } = await pool.query<EdgeRow>(`SELECT ${EDGE_COLUMNS} FROM raw.edges ORDER BY edge_id`);
  return rows.map(edgeItem);
}

/**
 * One edge's delivery record: the seq ranges stored, the gaps it reported (with what of them
 * is really missing), and the holes below its highest stored seq that nobody explained yet
 * (readings still on their way, typically a backfill in progress). Null for an unknown edge.
 */
export async function findEdgeSync(pool: pg.Pool, edgeId: string): Promise<EdgeSync | null> {
  const { rows } = await pool.query<EdgeRow & { committed: string; gaps: string }>(
    `SELECT ${EDGE_COLUMNS}, committed::text, gaps::text FROM raw.edges WHERE edge_id = $1`,
    [edgeId],
  );
  const row = rows[0];
  if (!row) return null;
  const committed = parseMultirange(row.committed);
  const gapRanges = parseMultirange(row.gaps);
  const top = Math.max(committed[committed.length - 1]?.last ?? 0, gapRanges[gapRanges.length - 1]?.last ?? 0);
  const records = await pool.query<{
    first_seq: string;
    last_seq: string;
    count: string;
    reason: string;
    from_ts: Date | null;
    to_ts: Date | null;
    reported_at: Date;
  }>("SELECT * FROM raw.edge_gaps WHERE edge_id = $1 ORDER BY first_seq, reported_at", [edgeId]);
  return {
    ...edgeItem(row),
    committed,
    gaps: records.rows.map((g) => ({
      firstSeq: Number(g.first_seq),
      lastSeq: Number(g.last_seq),
      count: Number(g.count),
      reason: g.reason,
      fromTs: g.from_ts?.toISOString() ?? null,
      toTs: g.to_ts?.toISOString() ?? null,
      reportedAt: g.reported_at.toISOString(),
    })),
    missingInGaps: subtractRanges(gapRanges, committed),
    pending: top === 0 ? [] : subtractRanges([{ first: 1, last: top }], unionRanges(committed, gapRanges)),
  };
}

import type { Reading } from "@steinmetz/proto";
import type pg from "pg";

/** Result of storing one batch. */
export interface StoredBatch {
  inserted: number;
  duplicates: number;
  committedSeq: number;
}

/**
 * Records a hello: creates the edge on first contact, notes its agent version and clock offset,
 * and returns the highest seq committed for it.
 */
export async function recordHello(
  pool: pg.Pool,
  edgeId: string,
  agentVersion: string,
  clockOffsetMs: number,
): Promise<number> {
  const { rows } = await pool.query<{ committed_seq: string }>(
    `INSERT INTO raw.edges (edge_id, agent_version, clock_offset_ms) VALUES ($1, $2, $3)
     ON CONFLICT (edge_id) DO UPDATE
       SET agent_version = excluded.agent_version, clock_offset_ms = excluded.clock_offset_ms, last_seen_at = now()
     RETURNING committed_seq`,
    [edgeId, agentVersion, clockOffsetMs],
  );
  return Number(rows[0]?.committed_seq ?? 0);
}

/**
 * Stores a batch in one transaction: the edge's committed high-water mark raised under its row
 * lock, and a multi-row insert from column arrays (unnest), idempotent on (edge_id, seq).
 * Resolves only after COMMIT.
 */
export async function storeBatch(pool: pg.Pool, edgeId: string, readings: readonly Reading[]): Promise<StoredBatch> {
  const n = readings.length;
  const seq = new Array<number>(n);
  const device = new Array<string>(n);
  const point = new Array<string>(n);
  const ts = new Array<number>(n);
  const value = new Array<number | null>(n);
  const quality = new Array<number>(n);
  const synced = new Array<boolean>(n);
  readings.forEach((r, i) => {
    seq[i] = r.seq;
    device[i] = r.deviceId;
    point[i] = r.point;
    ts[i] = r.ts;
    value[i] = r.value;
    quality[i] = r.quality;
    synced[i] = r.clockSynced;
  });
  const lastSeq = readings[n - 1]?.seq ?? 0;
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // Locks the edge's row for the rest of the transaction (concurrent sessions of one edge
    // serialise here) and raises its high-water mark, which commits with the readings or not at all.
    const { rows } = await client.query<{ committed_seq: string }>(
      `INSERT INTO raw.edges (edge_id, committed_seq) VALUES ($1, $2)
       ON CONFLICT (edge_id) DO UPDATE
         SET committed_seq = GREATEST(raw.edges.committed_seq, excluded.committed_seq), last_seen_at = now()
       RETURNING committed_seq`,
      [edgeId, lastSeq],
    );
    const inserted = await client.query(
      `INSERT INTO raw.readings (edge_id, seq, device_id, point, ts, value, quality, clock_synced)
       SELECT $1, u.seq, u.device, u.point, to_timestamp(u.ts / 1000.0), u.value, u.quality, u.synced
       FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::float8[], $7::smallint[], $8::boolean[])
         AS u(seq, device, point, ts, value, quality, synced)
       ON CONFLICT (edge_id, seq) DO NOTHING`,
      [edgeId, seq, device, point, ts, value, quality, synced],
    );
    await client.query("COMMIT");
    const count = inserted.rowCount ?? 0;
    return { inserted: count, duplicates: n - count, committedSeq: Number(rows[0]?.committed_seq ?? lastSeq) };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

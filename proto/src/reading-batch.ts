import { Quality, type ReadingBatch, type SeriesKey } from "./gen/steinmetz/sync/v1/sync.js";

/** One reading as edge and hub handle it in memory. */
export interface Reading {
  /** Per-edge sequence number, strictly increasing. */
  seq: number;
  deviceId: string;
  /** Canonical point id from the device's nature. */
  point: string;
  /** Acquisition time, ms since epoch. */
  ts: number;
  /** Value in the nature's unit; null when the device gave none. */
  value: number | null;
  quality: Quality;
  /** Whether the edge clock was synchronised when the reading was taken. */
  clockSynced: boolean;
}

/** A batch that does not follow the columnar rules of `ReadingBatch`. */
export class InvalidBatchError extends Error {
  override readonly name = "InvalidBatchError";
}

/**
 * A batch as columns: reading i is element i of every array. `series` names each series once;
 * `value` is NaN where there is none. Both sides work on this form in their hot paths (no object
 * per reading); `Reading` objects are for everything else.
 */
export interface BatchColumns {
  series: SeriesKey[];
  seq: number[];
  seriesIndex: number[];
  ts: number[];
  value: number[];
  quality: Quality[];
  clockSynced: boolean[];
}

/** Columns for `n` readings, to be filled in, with no series yet. */
export function newColumns(n: number): BatchColumns {
  return {
    series: [],
    seq: new Array(n),
    seriesIndex: new Array(n),
    ts: new Array(n),
    value: new Array(n),
    quality: new Array(n),
    clockSynced: new Array(n),
  };
}

/** Readings (ascending seq) as columns. */
export function columnsOf(readings: readonly Reading[]): BatchColumns {
  const cols = newColumns(readings.length);
  const index = new Map<string, number>();
  readings.forEach((r, i) => {
    const key = `${r.deviceId}\u0000${r.point}`;
    let s = index.get(key);
    if (s === undefined) {
      s = cols.series.length;
      index.set(key, s);
      cols.series.push({ deviceId: r.deviceId, point: r.point });
    }
    cols.seq[i] = r.seq;
    cols.seriesIndex[i] = s;
    cols.ts[i] = r.ts;
    cols.value[i] = r.value ?? Number.NaN;
    cols.quality[i] = r.quality;
    cols.clockSynced[i] = r.clockSynced;
  });
  return cols;
}

/** Columns back to reading objects. */
export function readingsOf(cols: BatchColumns): Reading[] {
  return cols.seq.map((seq, i) => {
    const key = cols.series[cols.seriesIndex[i] as number] as SeriesKey;
    const value = cols.value[i] as number;
    return {
      seq,
      deviceId: key.deviceId,
      point: key.point,
      ts: cols.ts[i] as number,
      value: Number.isNaN(value) ? null : value,
      quality: cols.quality[i] as Quality,
      clockSynced: cols.clockSynced[i] as boolean,
    };
  });
}

/** Columns (ascending seq) into the wire form: seq and ts delta-encoded, numbers packed. */
export function encodeBatchColumns(batchId: number, cols: BatchColumns): ReadingBatch {
  const n = cols.seq.length;
  const seqDelta = new Array<number>(n);
  const tsDeltaMs = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    seqDelta[i] = i === 0 ? 0 : (cols.seq[i] as number) - (cols.seq[i - 1] as number);
    tsDeltaMs[i] = i === 0 ? 0 : (cols.ts[i] as number) - (cols.ts[i - 1] as number);
  }
  return {
    batchId,
    series: cols.series,
    firstSeq: cols.seq[0] ?? 0,
    seqDelta,
    seriesIndex: cols.seriesIndex,
    baseTsMs: cols.ts[0] ?? 0,
    tsDeltaMs,
    value: cols.value,
    quality: cols.quality,
    clockSynced: cols.clockSynced,
  };
}

/** Readings (ascending seq) into the wire form: each series string once, seq and ts delta-encoded. */
export function encodeReadingBatch(batchId: number, readings: readonly Reading[]): ReadingBatch {
  return encodeBatchColumns(batchId, columnsOf(readings));
}

/**
 * Decodes and validates a columnar batch. Throws `InvalidBatchError` when the columns
 * differ in length, a series index is out of range, seq does not strictly increase,
 * or a quality is unknown.
 */
export function decodeBatchColumns(batch: ReadingBatch): BatchColumns {
  const n = batch.seqDelta.length;
  const columns = {
    seriesIndex: batch.seriesIndex,
    tsDeltaMs: batch.tsDeltaMs,
    value: batch.value,
    quality: batch.quality,
    clockSynced: batch.clockSynced,
  };
  for (const [name, column] of Object.entries(columns)) {
    if (column.length !== n) throw new InvalidBatchError(`column ${name} has ${column.length} entries, seq has ${n}`);
  }
  if (n > 0 && batch.firstSeq < 1) throw new InvalidBatchError("seq must be at least 1");
  const seq = new Array<number>(n);
  const ts = new Array<number>(n);
  let s = batch.firstSeq;
  let t = batch.baseTsMs;
  const seriesCount = batch.series.length;
  for (let i = 0; i < n; i++) {
    const delta = batch.seqDelta[i] as number;
    if (i > 0 && delta < 1) throw new InvalidBatchError(`seq does not increase at reading ${i}`);
    s += delta;
    t += batch.tsDeltaMs[i] as number;
    seq[i] = s;
    ts[i] = t;
    const index = batch.seriesIndex[i] as number;
    if (index >= seriesCount) throw new InvalidBatchError(`series index ${index} out of range at reading ${i}`);
    const quality = batch.quality[i] as Quality;
    if (!(quality in Quality) || quality === Quality.QUALITY_UNSPECIFIED || quality === Quality.UNRECOGNIZED) {
      throw new InvalidBatchError(`unknown quality ${quality} at reading ${i}`);
    }
  }
  return {
    series: batch.series,
    seq,
    seriesIndex: batch.seriesIndex,
    ts,
    value: batch.value,
    quality: batch.quality,
    clockSynced: batch.clockSynced,
  };
}

/** Decodes and validates a columnar batch into reading objects (see `decodeBatchColumns`). */
export function decodeReadingBatch(batch: ReadingBatch): Reading[] {
  return readingsOf(decodeBatchColumns(batch));
}

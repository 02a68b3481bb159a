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
 * Encodes readings (ascending seq) into the columnar wire form: each series string once,
 * seq and ts delta-encoded, numbers packed.
 */
export function encodeReadingBatch(batchId: number, readings: readonly Reading[]): ReadingBatch {
  const series: SeriesKey[] = [];
  const seriesIndex = new Map<string, number>();
  const batch: ReadingBatch = {
    batchId,
    series,
    firstSeq: readings[0]?.seq ?? 0,
    seqDelta: new Array(readings.length),
    seriesIndex: new Array(readings.length),
    baseTsMs: readings[0]?.ts ?? 0,
    tsDeltaMs: new Array(readings.length),
    value: new Array(readings.length),
    quality: new Array(readings.length),
    clockSynced: new Array(readings.length),
  };
  let prevSeq = batch.firstSeq;
  let prevTs = batch.baseTsMs;
  readings.forEach((r, i) => {
    const key = `${r.deviceId}\u0000${r.point}`;
    let index = seriesIndex.get(key);
    if (index === undefined) {
      index = series.length;
      seriesIndex.set(key, index);
      series.push({ deviceId: r.deviceId, point: r.point });
    }
    batch.seqDelta[i] = r.seq - prevSeq;
    batch.seriesIndex[i] = index;
    batch.tsDeltaMs[i] = r.ts - prevTs;
    batch.value[i] = r.value ?? Number.NaN;
    batch.quality[i] = r.quality;
    batch.clockSynced[i] = r.clockSynced;
    prevSeq = r.seq;
    prevTs = r.ts;
  });
  return batch;
}

/**
 * Decodes and validates a columnar batch. Throws `InvalidBatchError` when the columns
 * differ in length, a series index is out of range, seq does not strictly increase,
 * or a quality is unknown.
 */
export function decodeReadingBatch(batch: ReadingBatch): Reading[] {
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
  const readings: Reading[] = new Array(n);
  let seq = batch.firstSeq;
  let ts = batch.baseTsMs;
  for (let i = 0; i < n; i++) {
    const delta = batch.seqDelta[i] as number;
    if (i > 0 && delta < 1) throw new InvalidBatchError(`seq does not increase at reading ${i}`);
    seq += delta;
    ts += batch.tsDeltaMs[i] as number;
    const key = batch.series[batch.seriesIndex[i] as number];
    if (!key) throw new InvalidBatchError(`series index ${batch.seriesIndex[i]} out of range at reading ${i}`);
    const quality = batch.quality[i] as Quality;
    if (!(quality in Quality) || quality === Quality.QUALITY_UNSPECIFIED || quality === Quality.UNRECOGNIZED) {
      throw new InvalidBatchError(`unknown quality ${quality} at reading ${i}`);
    }
    const value = batch.value[i] as number;
    readings[i] = {
      seq,
      deviceId: key.deviceId,
      point: key.point,
      ts,
      value: Number.isNaN(value) ? null : value,
      quality,
      clockSynced: batch.clockSynced[i] as boolean,
    };
  }
  return readings;
}

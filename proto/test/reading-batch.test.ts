import t from "tap";
import { decodeReadingBatch, encodeReadingBatch, InvalidBatchError, Quality, type Reading } from "../src/index.js";

const reading = (seq: number, point: string, value: number | null, quality = Quality.QUALITY_GOOD): Reading => ({
  seq,
  deviceId: "inverter-1",
  point,
  ts: 1_700_000_000_000 + seq * 10,
  value,
  quality,
  clockSynced: seq % 2 === 0,
});

t.test("a batch survives encoding, the wire and decoding unchanged", async (t) => {
  const readings = [
    reading(7, "active_power", 1234.5),
    reading(8, "energy_exported", 99),
    reading(9, "active_power", -3),
    reading(12, "reactive_power", null, Quality.QUALITY_NOT_IMPLEMENTED),
  ];
  const batch = encodeReadingBatch(42, readings);
  t.equal(batch.series.length, 3, "each series string is sent once");
  t.same(batch.seqDelta, [0, 1, 1, 3]);
  const { ReadingBatch } = await import("../src/index.js");
  const wire = ReadingBatch.encode(batch).finish();
  t.same(decodeReadingBatch(ReadingBatch.decode(wire)), readings);
});

t.test("columnar encoding is compact", async (t) => {
  const { ReadingBatch } = await import("../src/index.js");
  const points = ["active_power", "energy_exported", "ac_voltage_l1", "frequency"];
  const readings = Array.from({ length: 1000 }, (_, i) => reading(i + 1, points[i % 4] as string, i * 1.5));
  const bytes = ReadingBatch.encode(encodeReadingBatch(1, readings)).finish().length;
  t.ok(bytes / readings.length < 16, `${(bytes / readings.length).toFixed(1)} bytes per reading`);
});

t.test("malformed batches are refused with a reason", async (t) => {
  const good = encodeReadingBatch(1, [reading(1, "active_power", 1), reading(2, "active_power", 2)]);
  t.throws(() => decodeReadingBatch({ ...good, value: [1] }), InvalidBatchError, "column length mismatch");
  t.throws(() => decodeReadingBatch({ ...good, seriesIndex: [0, 5] }), /series index 5 out of range/);
  t.throws(() => decodeReadingBatch({ ...good, seqDelta: [0, 0] }), /seq does not increase/);
  t.throws(() => decodeReadingBatch({ ...good, firstSeq: 0 }), /at least 1/);
  t.throws(() => decodeReadingBatch({ ...good, quality: [1, 0] }), /unknown quality 0/);
  t.throws(() => decodeReadingBatch({ ...good, quality: [1, 77 as Quality] }), /unknown quality 77/);
});

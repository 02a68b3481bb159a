/**
 * Typed writes of profile points, for control logic (e.g. a zero-export controller setting an
 * inverter's WMaxLimPct and its revert timeout).
 */
import { Quality } from "@steinmetz/proto";
import type { Logger } from "pino";
import { EdgeError, WriteRefusedError, WriteVerifyError } from "../errors.js";
import { type PointWrite, type Profile, type ProfilePoint, pointSpan } from "../profile/profile-schema.js";
import { decodePoint, NUMERIC_TYPES, rawValue } from "./decode.js";
import { type EncodedValue, encodePoint, isFloatType } from "./encode.js";
import type { ModbusConnection, WriteFunction } from "./modbus-connection.js";
import { encodingOf } from "./point-reads.js";

/** What a `PointWriter` needs: the device's connection, profile and identity. */
export interface PointWriterDeps {
  connection: ModbusConnection;
  profile: Profile;
  /** Device id from the site configuration (for the log). */
  deviceId: string;
  /** Unit id of the device; the profile's default when absent. */
  unitId?: number;
  log: Logger;
}

/** The outcome of a successful write. */
export interface WriteResult {
  deviceId: string;
  point: string;
  /** The value asked for, in the point's unit. */
  requested: number;
  /** The value written, in the point's unit: `requested` rounded to the register's resolution. */
  value: number;
  /** The raw number written and its register words (in the point's byte/word order). */
  raw: number;
  words: number[];
  address: number;
  function: WriteFunction;
  /** The scale factor the value was encoded with (read from the device just before), if the point has one. */
  scaleFactor: number | null;
  /** The value read back (verify on), in the point's unit; null when verify is off. */
  readBack: number | null;
}

/** A profile point that declares how it may be written. */
type WritablePoint = ProfilePoint & { write: PointWrite };

/** Relative precision of the float types, for comparing a read-back with the value written. */
const FLOAT_EPSILON = { float32: 2 ** -23, float64: 2 ** -52 } as const;

const sameValue = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/**
 * Writes points of one device. Every write is checked before anything is sent: the point must
 * declare `write` (and not be an input register), the value must be finite, within the profile's
 * `min`/`max`, not in its `refuse` list, and fit the register type; otherwise
 * `EDGE_ERR_WRITE_REFUSED`. The scale-factor register (if any) is read just before encoding, and
 * the value as rounded to the register's resolution is checked again. The write uses the point's
 * function (06 for one register, 16 otherwise, unless the profile says), then, unless
 * `verify: false`, the point is read back and must match within one raw step
 * (`EDGE_ERR_WRITE_VERIFY`). Writes of one writer run one after the other, so a read-back never
 * sees another of its writes. Every write is logged at info with its result.
 */
export class PointWriter {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly unitId: number;

  constructor(private readonly deps: PointWriterDeps) {
    this.unitId = deps.unitId ?? deps.profile.defaults.unitId;
  }

  /** Writes `value` (in the point's unit) to the point with id `pointId`; see the class comment. */
  write(pointId: string, value: number): Promise<WriteResult> {
    const run = () => this.writeNow(pointId, value);
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async writeNow(pointId: string, requested: number): Promise<WriteResult> {
    const { connection, deviceId, log } = this.deps;
    const entry: { device: string; point: string; value: number; words?: number[] } = {
      device: deviceId,
      point: pointId,
      value: requested,
    };
    try {
      const point = this.writable(pointId);
      const size = NUMERIC_TYPES[point.type];
      const fn = point.write.function ?? (size === 1 ? "single" : "multiple");
      if (fn === "single" && size !== 1) {
        throw new EdgeError(
          "EDGE_ERR_PROFILE_INVALID",
          `${pointId}: function "single" (06) cannot write a ${point.type} (${size} registers)`,
        );
      }
      this.checkBounds(point, requested, "");
      const sfRegister = point.scale?.register;
      const sf = sfRegister === undefined ? undefined : await this.readScaleFactor(point, sfRegister);
      const encoded = this.encode(point, requested, sf);
      if (!sameValue(encoded.value, requested)) {
        this.checkBounds(point, encoded.value, ` (${requested} at the register's resolution)`);
      }
      entry.words = encoded.words;
      await connection.writeRegisters(this.unitId, point.address, encoded.words, fn);
      const readBack = point.write.verify === false ? null : await this.verify(point, encoded);
      log.info({ ...entry, raw: encoded.raw, result: readBack === null ? "written" : "verified" }, "point written");
      return {
        deviceId,
        point: pointId,
        requested,
        value: encoded.value,
        raw: encoded.raw,
        words: encoded.words,
        address: point.address,
        function: fn,
        scaleFactor: sf ?? null,
        readBack,
      };
    } catch (err) {
      const result =
        err instanceof WriteRefusedError ? "refused" : err instanceof WriteVerifyError ? "verify-failed" : "failed";
      const code = err instanceof EdgeError ? err.code : undefined;
      log.info({ ...entry, result, code, err: (err as Error).message }, "point write failed");
      throw err;
    }
  }

  /** The point, when the profile lets it be written. */
  private writable(pointId: string): WritablePoint {
    const point = this.deps.profile.points.find((p) => p.id === pointId);
    if (!point) throw new WriteRefusedError("not-writable", `${pointId}: no such point in profile ${this.profileId}`);
    if (!point.write) {
      throw new WriteRefusedError("not-writable", `${pointId}: profile ${this.profileId} does not declare it writable`);
    }
    if (point.function === "input") {
      throw new WriteRefusedError("not-writable", `${pointId}: input registers cannot be written`);
    }
    return { ...point, write: point.write };
  }

  private get profileId(): string {
    return this.deps.profile.id;
  }

  /** Checks `value` against the profile's bounds and refused values. */
  private checkBounds(point: WritablePoint, value: number, what: string): void {
    const { min, max, refuse = [] } = point.write;
    const subject = `${point.id}: ${value}${what}`;
    if (!Number.isFinite(value)) throw new WriteRefusedError("not-finite", `${subject} is not a finite number`);
    if (min !== undefined && value < min) throw new WriteRefusedError("below-min", `${subject} is below ${min}`);
    if (max !== undefined && value > max) throw new WriteRefusedError("above-max", `${subject} is above ${max}`);
    if (refuse.some((r) => sameValue(r, value))) {
      throw new WriteRefusedError("refused-value", `${subject} is refused as unsafe by profile ${this.profileId}`);
    }
  }

  /** Reads the point's scale factor; a "not implemented" one leaves nothing to encode with. */
  private async readScaleFactor(point: WritablePoint, register: number): Promise<number> {
    const words = await this.deps.connection.readRegisters(this.unitId, "holding", register, 1);
    const sf = rawValue(words, 0, "sunssf");
    if (sf === -0x8000) {
      throw new WriteRefusedError("not-implemented", `${point.id}: scale factor at ${register} is not implemented`);
    }
    return sf;
  }

  /** Encodes the value; refuses what does not fit the type or reads back as SunSpec's "not implemented". */
  private encode(point: WritablePoint, value: number, sf: number | undefined): EncodedValue {
    const encoding = encodingOf(point, this.deps.profile);
    let encoded: EncodedValue;
    try {
      encoded = encodePoint(encoding, value, sf);
    } catch (err) {
      if (err instanceof WriteRefusedError) {
        throw new WriteRefusedError(err.reason, `${point.id}: ${value}: ${err.message}`, { cause: err });
      }
      throw err;
    }
    const { quality } = decodePoint(
      { address: point.address, type: point.type, order: encoding.order },
      encoded.words,
      point.address,
      this.deps.profile.sentinels,
    );
    if (quality === Quality.QUALITY_NOT_IMPLEMENTED) {
      throw new WriteRefusedError(
        "not-implemented",
        `${point.id}: ${value} encodes to SunSpec's "not implemented" value of ${point.type}`,
      );
    }
    return encoded;
  }

  /** Reads the point (and its scale factor) back; it must match within one raw step. */
  private async verify(point: WritablePoint, encoded: EncodedValue): Promise<number> {
    const { connection, profile } = this.deps;
    const span = pointSpan(point);
    const words = await connection.readRegisters(this.unitId, "holding", span.address, span.count);
    const { value } = decodePoint(encodingOf(point, profile), words, span.address, profile.sentinels);
    const tolerance = isFloatType(point.type)
      ? Math.abs(encoded.value) * FLOAT_EPSILON[point.type === "float32" ? "float32" : "float64"]
      : encoded.step * (1 + 1e-9);
    if (value === null || Math.abs(value - encoded.value) > tolerance) {
      throw new WriteVerifyError(
        encoded.value,
        value,
        `${point.id}: wrote ${encoded.value}, read back ${value === null ? "not implemented" : value}`,
      );
    }
    return value;
  }
}

import type { NewReading } from "./buffer/types.js";

/** The latest committed value of one point. */
export interface LiveValue {
  value: number | null;
  quality: number;
  ts: number;
}

/**
 * The latest value of every point of every device, as committed to the buffer: what the live
 * view and the power-flow picture show. Fed by the agent's commit path; costs one map write per
 * reading.
 */
export class LiveValues {
  private readonly byDevice = new Map<string, Map<string, LiveValue>>();

  /** Records a cycle's readings of one device. */
  record(readings: readonly NewReading[]): void {
    for (const r of readings) {
      let points = this.byDevice.get(r.deviceId);
      if (!points) {
        points = new Map();
        this.byDevice.set(r.deviceId, points);
      }
      points.set(r.point, { value: r.value, quality: r.quality, ts: r.ts });
    }
  }

  /** The latest values of one device (empty when nothing was read yet). */
  of(deviceId: string): ReadonlyMap<string, LiveValue> {
    return this.byDevice.get(deviceId) ?? new Map();
  }

  /** Forgets a device (removed from the configuration). */
  forget(deviceId: string): void {
    this.byDevice.delete(deviceId);
  }
}

import type { Logger } from "pino";
import { ModbusConnection } from "./acquisition/modbus-connection.js";
import { decodeFromCycle, encodingOf, spansOf } from "./acquisition/point-reads.js";
import { planReads } from "./acquisition/request-plan.js";
import { EdgeError } from "./errors.js";
import { discoverSunSpec, SUNSPEC_BASES } from "./sunspec/discovery.js";
import { classOfChain, pointsFromChain } from "./sunspec/points.js";

/** What to probe: a Modbus TCP endpoint, an RTU gateway reached over TCP, or a serial line. */
export interface ScanOptions {
  transport:
    | { type: "tcp" | "rtu-over-tcp"; host: string; port: number }
    | { type: "rtu"; path: string; baudRate: number; parity: "none" | "even" | "odd" };
  /** Unit ids to try (SunSpec devices answer at 1 or 126 by default). */
  unitIds?: number[];
  timeoutMs?: number;
  log: Logger;
}

/** One logical SunSpec device found behind a unit id. */
export interface ScannedDevice {
  manufacturer: string;
  model: string;
  version: string;
  serialNumber: string;
  /** inverter, meter or battery, from the models it carries. */
  class: string | null;
  models: { id: number; address: number; length: number }[];
  /** Profile to configure it with (`<class>/<id>`). */
  suggestedProfile: string | null;
  /** One decoded read of its mapped points, in the nature's units (null: not implemented). */
  values: Record<string, number | null>;
}

/** The result of a scan, printed as JSON by `npm run edge -- scan`. */
export interface ScanResult {
  transport: ScanOptions["transport"];
  units: { unitId: number; answers: boolean; sunspec: { base: number; devices: ScannedDevice[] } | null }[];
}

/**
 * Probes a bus: which unit ids answer (a Modbus exception is an answer, a timeout
 * is not), where their SunSpec chain starts, what each logical device is, the profile to use for
 * it, and one decoded read of its points. Works with any standards-conforming SunSpec device.
 */
export async function scan(options: ScanOptions): Promise<ScanResult> {
  const connection = new ModbusConnection(
    {
      id: "scan",
      ...options.transport,
      timeoutMs: options.timeoutMs ?? 1000,
      delayBetweenRequestsMs: 0,
      pauseAfterConnectMs: 0,
      maxRegistersPerRead: 125,
    },
    options.log,
  );
  const result: ScanResult = { transport: options.transport, units: [] };
  try {
    for (const unitId of options.unitIds ?? [1, 126]) {
      let answers = false;
      const read = async (address: number, count: number) => {
        try {
          const words = await connection.readRegisters(unitId, "holding", address, count);
          answers = true;
          return words;
        } catch (err) {
          if (err instanceof EdgeError && err.code === "EDGE_ERR_MODBUS_EXCEPTION") answers = true;
          throw err;
        }
      };
      const found = await discoverSunSpec(read, SUNSPEC_BASES);
      const devices: ScannedDevice[] = [];
      for (const device of found?.devices ?? []) {
        const cls = classOfChain(device.models) ?? null;
        devices.push({
          manufacturer: device.manufacturer,
          model: device.model,
          version: device.version,
          serialNumber: device.serialNumber,
          class: cls,
          models: device.models,
          suggestedProfile: cls ? `${cls}/sunspec-${cls}-tcp` : null,
          values: await readOnce(read, pointsFromChain(device.models)),
        });
      }
      result.units.push({ unitId, answers, sunspec: found ? { base: found.base, devices } : null });
    }
  } finally {
    await connection.close();
  }
  return result;
}

async function readOnce(
  read: (address: number, count: number) => Promise<number[]>,
  points: ReturnType<typeof pointsFromChain>,
): Promise<Record<string, number | null>> {
  const registers = new Map<number, number>();
  for (const r of planReads(
    points.flatMap((p) => spansOf(p, 125)),
    { maxRegisters: 125, maxGap: 31 },
  )) {
    for (const [i, word] of (await read(r.address, r.count)).entries()) registers.set(r.address + i, word);
  }
  return Object.fromEntries(points.map((p) => [p.id, decodeFromCycle(encodingOf(p, {}), registers, "sunspec").value]));
}

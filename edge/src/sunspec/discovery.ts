import { decodeString } from "../acquisition/decode.js";
import { EdgeError } from "../errors.js";

/** Reads `count` holding registers at `address` of the device being discovered. */
export type RegisterReader = (address: number, count: number) => Promise<number[]>;

/** SunSpec's default base addresses, in the order devices use them most. */
export const SUNSPEC_BASES = [40000, 0, 50000] as const;

/** One model in a device's chain. */
export interface ChainModel {
  /** Model id (1 common, 103 three-phase inverter, 203 meter, ...). */
  id: number;
  /** Address of the model's ID register; its points start at `address + 2`. */
  address: number;
  /** L: registers after ID and L. */
  length: number;
}

/** A logical device: a common model 1 and the models after it, up to the next model 1. */
export interface LogicalDevice {
  manufacturer: string;
  model: string;
  options: string;
  version: string;
  serialNumber: string;
  /** The chain, model 1 first. */
  models: ChainModel[];
}

/** What discovery found on one unit id. */
export interface SunSpecDiscovery {
  base: number;
  devices: LogicalDevice[];
}

const MARKER = [0x5375, 0x6e53]; // "SunS"
const END = 0xffff;
/** Upper bound of models walked, so a broken chain cannot loop for ever. */
const MAX_MODELS = 64;

/**
 * Finds the SunSpec marker at the given bases and walks the model chain, with the quirks real
 * devices have: the end marker missing (the chain runs off the register map) or answered with
 * an exception; a second model 1 starting another logical device (e.g. a meter behind an
 * inverter). Returns null when no base holds the marker. Only Modbus errors at a base or at the
 * end of the chain are tolerated; a dead connection still fails.
 */
export async function discoverSunSpec(
  read: RegisterReader,
  bases: readonly number[] = SUNSPEC_BASES,
): Promise<SunSpecDiscovery | null> {
  for (const base of bases) {
    const marker = await read(base, 2).catch(tolerateModbusAnswer);
    if (!marker || marker[0] !== MARKER[0] || marker[1] !== MARKER[1]) continue;
    const chain: ChainModel[] = [];
    let address = base + 2;
    while (chain.length < MAX_MODELS && address + 2 <= 0x10000) {
      const header = await read(address, 2).catch(tolerateModbusAnswer);
      const [id, length] = header ?? [];
      if (id === undefined || length === undefined || id === END || (id === 0 && length === 0)) break;
      chain.push({ id, address, length });
      address += 2 + length;
    }
    const devices: LogicalDevice[] = [];
    for (const model of chain) {
      if (model.id === 1 || devices.length === 0) devices.push(await commonModel(read, model));
      else devices[devices.length - 1]?.models.push(model);
    }
    return { base, devices };
  }
  return null;
}

/** Decodes common model 1 (manufacturer, model, options, version, serial number). */
async function commonModel(read: RegisterReader, model: ChainModel): Promise<LogicalDevice> {
  const empty = { manufacturer: "", model: "", options: "", version: "", serialNumber: "" };
  if (model.id !== 1 || model.length < 64) return { ...empty, models: [model] };
  const w = await read(model.address + 2, 64);
  return {
    manufacturer: decodeString(w, 0, 16),
    model: decodeString(w, 16, 16),
    options: decodeString(w, 32, 8),
    version: decodeString(w, 40, 8),
    serialNumber: decodeString(w, 48, 16),
    models: [model],
  };
}

/** A Modbus exception answer (or a timeout) means "nothing here"; other failures propagate. */
function tolerateModbusAnswer(err: unknown): undefined {
  if (
    err instanceof EdgeError &&
    (err.code === "EDGE_ERR_MODBUS_EXCEPTION" || err.code === "EDGE_ERR_MODBUS_TIMEOUT")
  ) {
    return undefined;
  }
  throw err;
}

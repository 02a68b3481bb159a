/**
 * A real Modbus TCP server on 127.0.0.1 serving a sparse register image: addresses not in the
 * image answer exception 02 (as devices do for gaps in their map), and every request is logged.
 */

import type { Server } from "node:net";
import { findFreePort } from "@steinmetz/sim";
import ModbusRTU from "modbus-serial";

export interface RegisterServer {
  port: number;
  /** Every read as `fn:address+count`, in order. */
  requests: string[];
  /** Makes the next reads covering `address` answer this exception code (e.g. 4, device failure). */
  failAt(address: number, code: number | undefined): void;
  close(): Promise<void>;
}

/** Register images of a simulated device (address → value); `input` defaults to `holding`. */
export interface RegisterImages {
  holding: ReadonlyMap<number, number>;
  input?: ReadonlyMap<number, number>;
  /** Unit id answered (default 1); 255 answers every unit id. */
  unitId?: number;
  /** Refuse more simultaneous TCP connections than this (inverters often allow one). */
  maxConnections?: number;
}

/** Starts a server answering `unitId` (default 1) from the given images. */
export async function startRegisterServer(images: RegisterImages): Promise<RegisterServer> {
  const unitId = images.unitId ?? 1;
  const port = await findFreePort();
  const requests: string[] = [];
  const failures = new Map<number, number>();
  const read = (fn: "holding" | "input") => (address: number, length: number) => {
    const image = (fn === "input" ? images.input : undefined) ?? images.holding;
    requests.push(`${fn}:${address}+${length}`);
    const words: number[] = [];
    for (let a = address; a < address + length; a++) {
      const failure = failures.get(a);
      if (failure !== undefined) throw { modbusErrorCode: failure };
      const value = image.get(a);
      if (value === undefined) throw { modbusErrorCode: 2 };
      words.push(value);
    }
    return words;
  };
  const vector = {
    getMultipleHoldingRegisters: read("holding"),
    getMultipleInputRegisters: read("input"),
    getHoldingRegister: (address: number) => read("holding")(address, 1)[0] as number,
    getInputRegister: (address: number) => read("input")(address, 1)[0] as number,
  };
  const server = new ModbusRTU.ServerTCP(vector, { host: "127.0.0.1", port, unitID: unitId });
  await new Promise<void>((resolve, reject) => {
    server.on("initialized", () => resolve());
    server.on("serverError", reject);
  });
  if (images.maxConnections !== undefined) {
    (server as unknown as { _server: Server })._server.maxConnections = images.maxConnections;
  }
  return {
    port,
    requests,
    failAt: (address, code) => (code === undefined ? failures.delete(address) : failures.set(address, code)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** An image with `value(address)` at every address in the given ranges [start, end). */
export function imageOf(ranges: [number, number][], value = (a: number) => a % 1000): Map<number, number> {
  const image = new Map<number, number>();
  for (const [start, end] of ranges) for (let a = start; a < end; a++) image.set(a, value(a));
  return image;
}

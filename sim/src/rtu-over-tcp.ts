import { createServer, type Socket } from "node:net";
import { findFreePort } from "./free-port.js";

/** Modbus CRC-16 (polynomial 0xA001, initial 0xFFFF), as RTU frames carry it (low byte first). */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

/** Answers a read of `count` registers at `address` for `unitId`, or throws `{ modbusErrorCode }`. */
export type RegisterSource = (unitId: number, fn: 3 | 4, address: number, count: number) => number[];

/** A running RTU-over-TCP device or gateway. */
export interface RtuOverTcpServer {
  port: number;
  /** Frames received with a bad CRC (dropped without an answer, as on a serial line). */
  badFrames(): number;
  close(): Promise<void>;
}

/**
 * A Modbus RTU device behind a transparent serial-to-Ethernet gateway: RTU frames (unit id,
 * function, data, CRC) over a TCP socket, no MBAP header. Serves functions 03 and 04; frames with
 * a wrong CRC are dropped, unknown units stay silent (the master times out), as on RS485.
 */
export async function startRtuOverTcpServer(source: RegisterSource, port?: number): Promise<RtuOverTcpServer> {
  const listenPort = port || (await findFreePort());
  let bad = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let buffer = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      // Requests for functions 03/04 are always 8 bytes: unit, fn, address, count, CRC.
      while (buffer.length >= 8) {
        const frame = buffer.subarray(0, 8);
        buffer = buffer.subarray(8);
        if (crc16(frame.subarray(0, 6)) !== frame.readUInt16LE(6)) {
          bad++;
          buffer = Buffer.alloc(0); // resynchronise, as a serial receiver does after a gap
          continue;
        }
        const answer = respond(source, frame);
        if (answer) socket.write(answer);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listenPort, "127.0.0.1", resolve);
  });
  return {
    port: listenPort,
    badFrames: () => bad,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function respond(source: RegisterSource, frame: Buffer): Buffer | undefined {
  const unitId = frame.readUInt8(0);
  const fn = frame.readUInt8(1);
  const withCrc = (body: Buffer) => {
    const out = Buffer.alloc(body.length + 2, body);
    out.writeUInt16LE(crc16(body), body.length);
    return out;
  };
  const exception = (code: number) => withCrc(Buffer.from([unitId, fn | 0x80, code]));
  if (fn !== 3 && fn !== 4) return exception(1);
  try {
    const words = source(unitId, fn, frame.readUInt16BE(2), frame.readUInt16BE(4));
    const body = Buffer.alloc(3 + words.length * 2);
    body.writeUInt8(unitId, 0);
    body.writeUInt8(fn, 1);
    body.writeUInt8(words.length * 2, 2);
    for (const [i, w] of words.entries()) body.writeUInt16BE(w, 3 + i * 2);
    return withCrc(body);
  } catch (err) {
    const code = (err as { modbusErrorCode?: number }).modbusErrorCode;
    if (code === undefined) return undefined; // silent: no such unit on the bus
    return exception(code);
  }
}

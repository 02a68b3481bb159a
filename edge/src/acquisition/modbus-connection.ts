import { setTimeout as sleep } from "node:timers/promises";
import Modbus from "modbus-serial";
import type { Logger } from "pino";
import { Backoff } from "../backoff.js";
import type { ConnectionConfig } from "../config/site-schema.js";
import { EdgeError, ModbusExceptionError } from "../errors.js";
import type { ReadFunction } from "./request-plan.js";

/** Modbus write functions: 06 (write single register) and 16 (write multiple registers). */
export type WriteFunction = "single" | "multiple";

/**
 * One Modbus connection (TCP, RTU on a serial line, or RTU over TCP), shared by every unit id
 * on it and strictly serialised:
 * requests from all devices on it queue up and go out one at a time (with the configured
 * pause between them), as an RS485 gateway or a single-slot inverter requires. The socket
 * is opened on first use and reopened after it broke; after a failed connect the link waits out a
 * jittered exponential backoff before the next attempt, whichever device asks (devices also back
 * off on their own).
 */
export class ModbusConnection {
  // The package's CJS default export: `.default` is the client class under both TS and Node ESM.
  private readonly client = new Modbus.default();
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private lastRequestEnd = 0;
  /** After a failed connect, no new attempt before this time (all devices on the link share it). */
  private nextConnectAt = 0;
  private readonly reconnect = new Backoff({ initialDelayMs: 1000, maxDelayMs: 60_000 });

  constructor(
    readonly config: ConnectionConfig,
    private readonly log: Logger,
  ) {
    this.client.setTimeout(config.timeoutMs);
  }

  /** Reads `count` holding (function 03) or input (04) registers of `unitId` from `address`. */
  readRegisters(unitId: number, fn: ReadFunction, address: number, count: number): Promise<number[]> {
    return this.serialised(async () => {
      await this.ensureOpen();
      this.client.setID(unitId);
      try {
        const result =
          fn === "holding"
            ? await this.client.readHoldingRegisters(address, count)
            : await this.client.readInputRegisters(address, count);
        this.log.trace({ unitId, fn, address, count, data: result.data }, "read registers");
        return result.data;
      } catch (err) {
        throw this.translate(err, address);
      }
    });
  }

  /**
   * Writes `words` to holding registers of `unitId` from `address`: function 06 (write single
   * register, exactly one word) or 16 (write multiple registers, 1..123 words). Queued behind the
   * reads like every request; exception answers keep their code (`ModbusExceptionError`), no answer
   * is `EDGE_ERR_MODBUS_TIMEOUT` (the device may or may not have applied the write).
   */
  writeRegisters(unitId: number, address: number, words: readonly number[], fn: WriteFunction): Promise<void> {
    const bad = words.find((w) => !Number.isInteger(w) || w < 0 || w > 0xffff);
    if (bad !== undefined) return Promise.reject(new RangeError(`register value ${bad} is not a 16-bit word`));
    if (fn === "single" ? words.length !== 1 : words.length < 1 || words.length > 123) {
      return Promise.reject(new RangeError(`function ${fn} cannot write ${words.length} registers`));
    }
    return this.serialised(async () => {
      await this.ensureOpen();
      this.client.setID(unitId);
      try {
        const [first = 0] = words;
        if (fn === "single") await this.client.writeRegister(address, first);
        else await this.client.writeRegisters(address, [...words]);
        this.log.debug({ unitId, fn, address, words }, "wrote registers");
      } catch (err) {
        throw this.translate(err, address);
      }
    });
  }

  /** Closes the socket; pending and later requests fail. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.catch(() => undefined);
    if (this.client.isOpen) await new Promise<void>((resolve) => this.client.close(() => resolve()));
  }

  private serialised<T>(request: () => Promise<T>): Promise<T> {
    const run = async () => {
      const wait = this.lastRequestEnd + this.config.delayBetweenRequestsMs - Date.now();
      if (wait > 0) await sleep(wait);
      try {
        return await request();
      } finally {
        this.lastRequestEnd = Date.now();
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async ensureOpen(): Promise<void> {
    if (this.closed) throw new EdgeError("EDGE_ERR_MODBUS_CONNECT", `connection ${this.config.id} is closed`);
    if (this.client.isOpen) return;
    const { type, host = "", port = 502, path = "", timeoutMs } = this.config;
    const where = type === "rtu" ? path : `${host}:${port}`;
    const wait = this.nextConnectAt - Date.now();
    if (wait > 0) {
      throw new EdgeError(
        "EDGE_ERR_MODBUS_CONNECT",
        `${where} unreachable; next attempt in ${Math.ceil(wait / 1000)} s`,
      );
    }
    try {
      if (type === "tcp") await this.client.connectTCP(host, { port, timeout: timeoutMs });
      // modbus-serial calls raw RTU frames over a TCP socket (transparent gateways) its "telnet" port.
      else if (type === "rtu-over-tcp") await this.client.connectTelnet(host, { port, timeout: timeoutMs });
      else {
        const { baudRate = 9600, parity = "none", stopBits = 1 } = this.config;
        await this.client.connectRTUBuffered(path, { baudRate, parity, stopBits, dataBits: 8 });
      }
      this.reconnect.succeeded();
      this.log.info({ type, where }, "connected");
      if (this.config.pauseAfterConnectMs > 0) await sleep(this.config.pauseAfterConnectMs);
    } catch (err) {
      this.nextConnectAt = Date.now() + this.reconnect.failed();
      throw new EdgeError("EDGE_ERR_MODBUS_CONNECT", `cannot connect to ${where}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  private translate(err: unknown, address: number): EdgeError {
    const e = err as { modbusCode?: number; name?: string; message?: string; errno?: string };
    if (typeof e.modbusCode === "number") return new ModbusExceptionError(e.modbusCode, address, { cause: err });
    if (e.name === "TransactionTimedOutError" || e.errno === "ETIMEDOUT") {
      return new EdgeError("EDGE_ERR_MODBUS_TIMEOUT", `no answer within ${this.config.timeoutMs} ms at ${address}`, {
        cause: err,
      });
    }
    return new EdgeError("EDGE_ERR_MODBUS_CONNECT", `request at ${address} failed: ${e.message ?? String(err)}`, {
      cause: err,
    });
  }
}

/** Modbus exception "illegal data address" as modbus-serial's server expects it. */
const ILLEGAL_DATA_ADDRESS = { modbusErrorCode: 0x02, msg: "Illegal data address" };

/** A contiguous block of 16-bit holding registers starting at `base`. */
export class RegisterImage {
  private readonly words: Uint16Array;

  constructor(
    readonly base: number,
    length: number,
  ) {
    this.words = new Uint16Array(length);
  }

  /** Sets one register to an unsigned 16-bit value. */
  set(address: number, value: number): void {
    this.words[this.index(address)] = value & 0xffff;
  }

  /** Sets one register to a signed 16-bit value (two's complement). */
  setInt16(address: number, value: number): void {
    this.set(address, value < 0 ? 0x10000 + value : value);
  }

  /** Sets two registers, high word first (SunSpec big-endian). */
  setUint32(address: number, value: number): void {
    this.set(address, Math.floor(value / 0x10000));
    this.set(address + 1, value % 0x10000);
  }

  /** Sets `count` registers to an ASCII string, two characters per register, NUL-padded. */
  setString(address: number, count: number, text: string): void {
    const bytes = Buffer.alloc(count * 2);
    bytes.write(text.slice(0, count * 2), "latin1");
    for (let i = 0; i < count; i++) this.set(address + i, bytes.readUInt16BE(i * 2));
  }

  /** Reads `length` registers; throws Modbus exception 2 outside the image. */
  read(address: number, length: number): number[] {
    const start = address - this.base;
    if (start < 0 || length < 1 || start + length > this.words.length) throw ILLEGAL_DATA_ADDRESS;
    return Array.from(this.words.subarray(start, start + length));
  }

  private index(address: number): number {
    const i = address - this.base;
    if (i < 0 || i >= this.words.length) throw new RangeError(`register ${address} outside image`);
    return i;
  }
}

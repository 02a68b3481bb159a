import { Quality } from "@steinmetz/proto";
import { RegisterImage, SUNSPEC_BASE, startSunSpecInverterSim } from "@steinmetz/sim";
import t from "tap";
import { decodePoint, decodeString, type PointEncoding, rawValue } from "../src/acquisition/decode.js";
import { planReads } from "../src/acquisition/request-plan.js";
import { loadProfile } from "../src/profile/load-profile.js";
import { pointSpan } from "../src/profile/profile-schema.js";

t.test("raw values of every type, big-endian words", async (t) => {
  t.equal(rawValue([0xfffe], 0, "int16"), -2);
  t.equal(rawValue([0xfffe], 0, "uint16"), 65534);
  t.equal(rawValue([0xfffe], 0, "sunssf"), -2);
  t.equal(rawValue([0xffff, 0xfffe], 0, "int32"), -2);
  t.equal(rawValue([0x0001, 0x0002], 0, "uint32"), 65538);
  t.equal(rawValue([0x0001, 0x0002], 0, "acc32"), 65538);
  t.equal(rawValue([0, 7], 1, "enum16"), 7);
  t.equal(rawValue([0x8000, 0x0001], 0, "bitfield32"), 0x80000001);
  t.equal(rawValue([0x4148, 0x0000], 0, "float32"), 12.5);
  t.equal(rawValue([0x4029, 0, 0, 0], 0, "float64"), 12.5);
  t.equal(rawValue([0xffff, 0xffff, 0xffff, 0xfffe], 0, "int64"), -2);
  t.equal(rawValue([0, 0x0001, 0, 0x0002], 0, "uint64"), 2 ** 32 + 2);
  t.equal(rawValue([0, 0, 0x0001, 0], 0, "acc64"), 65536);
});

t.test("byte and word orders: ABCD, CDAB, BADC, DCBA", async (t) => {
  // 0x41480000 = 12.5 as float32; 0x00010002 = 65538
  t.equal(rawValue([0x0000, 0x4148], 0, "float32", "CDAB"), 12.5);
  t.equal(rawValue([0x4841, 0x0000], 0, "float32", "BADC"), 12.5);
  t.equal(rawValue([0x0000, 0x4841], 0, "float32", "DCBA"), 12.5);
  t.equal(rawValue([0x0002, 0x0001], 0, "uint32", "CDAB"), 65538);
  t.equal(rawValue([0x0100, 0x0200], 0, "uint32", "BADC"), 65538);
  t.equal(rawValue([0x0200, 0x0100], 0, "uint32", "DCBA"), 65538);
  t.equal(rawValue([0x3412], 0, "uint16", "DCBA"), 0x1234, "16-bit: byte swap only");
  t.equal(rawValue([0x1234], 0, "uint16", "CDAB"), 0x1234, "16-bit: no words to swap");
  t.equal(rawValue([0x0002, 0, 0x0001, 0], 0, "uint64", "CDAB"), 2 ** 32 + 2, "64-bit: word order reversed");
});

t.test("scale factors and SunSpec sentinels", async (t) => {
  const point = (type: PointEncoding["type"], extra: Partial<PointEncoding> = {}): PointEncoding => ({
    address: 10,
    type,
    ...extra,
  });
  const sf = { scaleRegister: 11 };
  t.same(decodePoint(point("uint16", sf), [2301, 0xffff], 10), { value: 230.1, quality: Quality.QUALITY_GOOD });
  t.same(decodePoint(point("int16", sf), [0xfff6, 2], 10), { value: -1000, quality: Quality.QUALITY_GOOD });
  t.same(decodePoint(point("int16", { factor: 0.5 }), [7], 10), { value: 3.5, quality: Quality.QUALITY_GOOD });
  t.same(decodePoint({ address: 12, type: "uint16", scaleRegister: 10 }, [0xfffd, 0, 1500], 10), {
    value: 1.5,
    quality: Quality.QUALITY_GOOD,
  });
  const ni = { value: null, quality: Quality.QUALITY_NOT_IMPLEMENTED };
  t.same(decodePoint(point("int16", sf), [0x8000, 0], 10), ni, "int16 sentinel");
  t.same(decodePoint(point("uint16", sf), [0xffff, 0], 10), ni, "uint16 sentinel");
  t.same(decodePoint(point("uint16", sf), [5, 0x8000], 10), ni, "scale factor sentinel");
  t.same(decodePoint(point("acc32"), [0, 0], 10), ni, "acc32 sentinel");
  t.same(decodePoint(point("uint32"), [0xffff, 0xffff], 10), ni, "uint32 sentinel");
  t.same(decodePoint(point("int32"), [0x8000, 0], 10), ni, "int32 sentinel");
  t.same(decodePoint(point("float32"), [0x7fc0, 0], 10), ni, "NaN float");
  t.same(
    decodePoint(point("uint16"), [0xffff], 10, "none"),
    { value: 65535, quality: Quality.QUALITY_GOOD },
    "no sentinels",
  );
  t.same(decodePoint(point("float32"), [0x7fc0, 0], 10, "none"), ni, "NaN is never a value");
  t.throws(() => decodePoint(point("uint32"), [1], 10), RangeError, "a point outside the read is a bug");
  t.throws(() => decodePoint(point("uint16", { scaleRegister: 40 }), [1], 10), RangeError, "so is its scale factor");
});

t.test("strings", async (t) => {
  t.equal(decodeString([0x5375, 0x6e53, 0, 0], 0, 4), "SunS");
});

t.test("the SunSpec model 103 profile decodes the simulator's register image", async (t) => {
  const now = Date.UTC(2026, 5, 21, 11, 30); // a June noon: the inverter produces
  const sim = await startSunSpecInverterSim({ now: () => now, ratedPowerW: 10_000 });
  t.teardown(() => sim.close());
  const { profile } = loadProfile("inverter/sunspec-model103-tcp");
  const Modbus = (await import("modbus-serial")).default;
  const client = new Modbus.default();
  await client.connectTCP(sim.host, { port: sim.port });
  t.teardown(() => new Promise<void>((resolve) => client.close(() => resolve())));
  client.setID(1);
  const marker = await client.readHoldingRegisters(SUNSPEC_BASE, 2);
  t.equal(Buffer.from(marker.buffer).toString("latin1"), "SunS", "SunSpec marker at 40000");
  const reads = planReads(
    profile.points.map((p) => ({ key: p, fn: "holding" as const, ...pointSpan(p) })),
    { maxRegisters: 125, maxGap: 31 },
  );
  t.equal(reads.length, 1, "one request for the whole model 103 profile");
  const [read] = reads;
  if (!read) throw new Error("no read planned");
  const { data } = await client.readHoldingRegisters(read.address, read.count);
  const values = Object.fromEntries(
    profile.points.map((p) => [
      p.id,
      decodePoint({ address: p.address, type: p.type, scaleRegister: p.scale?.register }, data, read.address),
    ]),
  );
  const good = (id: string) => {
    t.equal(values[id]?.quality, Quality.QUALITY_GOOD, `${id} is good`);
    return values[id]?.value as number;
  };
  const power = good("active_power");
  t.equal(power, sim.snapshot().powerW, "active power as served");
  t.ok(power > 1000 && power <= 10_000, `plausible noon power ${power} W`);
  t.equal(good("energy_exported"), Math.floor(sim.snapshot().energyWh));
  t.ok(Math.abs(good("ac_voltage_l1") - 230) < 3, "phase voltage around 230 V");
  t.ok(Math.abs(good("frequency") - 50) < 0.1, "frequency around 50 Hz");
  t.ok(Math.abs(good("ac_current") * good("ac_voltage_l1") - power) < power * 0.05, "P ≈ U × I");
  t.equal(good("operating_state"), 4, "MPPT");
  for (const id of ["reactive_power", "ac_voltage_l1_l2", "heat_sink_temperature"]) {
    t.equal(values[id]?.quality, Quality.QUALITY_NOT_IMPLEMENTED, `${id} is not implemented`);
  }
});

t.test("register image refuses reads outside it with Modbus exception 2", async (t) => {
  const image = new RegisterImage(100, 4);
  const thrown = (read: () => unknown) => {
    try {
      read();
    } catch (err) {
      return err;
    }
    return undefined;
  };
  t.match(
    thrown(() => image.read(99, 2)),
    { modbusErrorCode: 2 },
  );
  t.match(
    thrown(() => image.read(102, 3)),
    { modbusErrorCode: 2 },
  );
  t.same(image.read(100, 4), [0, 0, 0, 0]);
});

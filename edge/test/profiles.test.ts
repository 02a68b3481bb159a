/**
 * Every device profile under firmware-config/profiles decodes its register fixture
 * (firmware-config/fixtures/<class>/<id>.yaml) to the expected values: the fixture's register images are
 * served by a real Modbus TCP server and one poll cycle runs through the real connection and planner.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { firmwareConfigDir, profilesDir } from "@steinmetz/firmware-config";
import { Quality } from "@steinmetz/proto";
import pino from "pino";
import t from "tap";
import { parse } from "yaml";
import { DevicePoller } from "../src/acquisition/device-poller.js";
import { ModbusConnection } from "../src/acquisition/modbus-connection.js";
import type { NewReading } from "../src/buffer/reading-buffer.js";
import type { DeviceConfig } from "../src/config/site-schema.js";
import { loadProfile } from "../src/profile/load-profile.js";
import { loopback } from "./support/connection.js";
import { startRegisterServer } from "./support/register-server.js";

const log = pino({ level: "silent" });
const fixturesDir = join(firmwareConfigDir, "fixtures");
const RELATIVE_TOLERANCE = 1e-6;

/** A register fixture: images per function and the value each profile point must decode to. */
interface Fixture {
  unitId: number;
  holding: Map<number, number>;
  input: Map<number, number>;
  /** Canonical point id → value in the nature's unit; null = not implemented. */
  expected: Map<string, number | null>;
}

/** `<class>/<id>` of every profile file, walking the profiles folder. */
function profileRefs(dir: string): string[] {
  const refs: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) refs.push(...profileRefs(path));
    else if (entry.isFile() && entry.name.endsWith(".yaml")) {
      refs.push(relative(profilesDir, path).slice(0, -".yaml".length).split("\\").join("/"));
    }
  }
  return refs.sort();
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `start address: [words...]` blocks as one address → word map; throws on malformed data. */
function imageOf(data: unknown, name: string): Map<number, number> {
  const image = new Map<number, number>();
  if (data === undefined || data === null) return image;
  if (!isRecord(data)) throw new Error(`${name} must map start addresses to word lists`);
  for (const [key, words] of Object.entries(data)) {
    const start = Number(key);
    if (!Number.isInteger(start) || start < 0 || start > 0xffff) throw new Error(`${name}: bad address ${key}`);
    if (!Array.isArray(words)) throw new Error(`${name}.${key} must be a list of words`);
    words.forEach((word: unknown, i) => {
      const address = start + i;
      if (typeof word !== "number" || !Number.isInteger(word) || word < 0 || word > 0xffff) {
        throw new Error(`${name}.${key}[${i}] is not a 16-bit unsigned word`);
      }
      if (address > 0xffff) throw new Error(`${name}.${key} runs past address 65535`);
      if (image.has(address)) throw new Error(`${name}: address ${address} is given twice`);
      image.set(address, word);
    });
  }
  return image;
}

function readFixture(file: string): Fixture {
  const data: unknown = parse(readFileSync(file, "utf8"));
  if (!isRecord(data)) throw new Error("a fixture is a mapping");
  const { unitId, holding, input, expected } = data;
  if (typeof unitId !== "number" || !Number.isInteger(unitId) || unitId < 0 || unitId > 255) {
    throw new Error("unitId must be an integer 0..255");
  }
  if (!isRecord(expected)) throw new Error("expected must map point ids to values");
  const values = new Map<string, number | null>();
  for (const [point, value] of Object.entries(expected)) {
    if (value !== null && typeof value !== "number") throw new Error(`expected.${point} must be a number or null`);
    values.set(point, value);
  }
  return { unitId, holding: imageOf(holding, "holding"), input: imageOf(input, "input"), expected: values };
}

function close(actual: number, expected: number): boolean {
  return actual === expected || Math.abs(actual - expected) <= RELATIVE_TOLERANCE * Math.abs(expected);
}

// MQTT profiles have message fixtures; edge/test/mqtt.test.ts checks them against a real broker.
const refs = profileRefs(profilesDir).filter(
  (ref) => (parse(readFileSync(join(profilesDir, `${ref}.yaml`), "utf8")) as { protocol?: string }).protocol !== "mqtt",
);
t.ok(refs.length > 0, `found ${refs.length} profiles under ${profilesDir}`);

for (const ref of refs) {
  t.test(ref, async (t) => {
    const fixtureFile = join(fixturesDir, `${ref}.yaml`);
    if (!existsSync(fixtureFile)) {
      t.fail(`fixture ${relative(firmwareConfigDir, fixtureFile)} is missing`);
      return;
    }
    const loaded = loadProfile(ref);
    const { profile } = loaded;
    const fixture = readFixture(fixtureFile);

    const server = await startRegisterServer({
      holding: fixture.holding,
      input: fixture.input,
      unitId: fixture.unitId,
    });
    const connection = new ModbusConnection(loopback(server.port, { id: "fixture", timeoutMs: 1000 }), log);
    t.teardown(async () => {
      await connection.close();
      await server.close();
    });

    const committed: NewReading[][] = [];
    const device = {
      id: "device",
      connection: "fixture",
      unitId: fixture.unitId,
      profile: ref,
      pollIntervalMs: 1000,
      slowEvery: 1,
    } as DeviceConfig;
    const poller = new DevicePoller(device, { connection, profile: loaded, log, commit: (r) => committed.push(r) });
    const planned = poller.state.requestsPerCycle;

    t.equal(await poller.cycle(), true, "one poll cycle succeeds");
    t.ok(
      poller.state.requestsPerCycle > 0,
      `${ref}: the cycle took ${poller.state.requestsPerCycle} Modbus requests (${planned} planned before it; ${server.requests.join(" ")})`,
    );
    const readings = committed.flat();
    const byPoint = new Map(readings.map((r) => [r.point, r]));
    t.equal(byPoint.size, readings.length, "one reading per point");
    // A SunSpec-discovery profile's points are those its discovered chain maps (plus any listed ones).
    const pointIds = profile.sunspec ? [...byPoint.keys()] : profile.points.map((p) => p.id);
    if (!profile.sunspec) t.equal(readings.length, pointIds.length, "a reading for every point of the profile");

    const notInProfile = [...fixture.expected.keys()].filter((id) => !pointIds.includes(id));
    const notExpected = pointIds.filter((id) => !fixture.expected.has(id));
    t.same(notInProfile, [], "every expected key is a point of the profile");
    t.same(notExpected, [], "every point of the profile is in expected");

    for (const id of pointIds) {
      const expected = fixture.expected.get(id);
      const reading = byPoint.get(id);
      if (expected === undefined) continue; // reported above
      if (!reading) {
        t.fail(`${id}: no reading`);
        continue;
      }
      if (expected === null) {
        t.match(reading, { value: null, quality: Quality.QUALITY_NOT_IMPLEMENTED }, `${id} is not implemented`);
        continue;
      }
      t.equal(reading.quality, Quality.QUALITY_GOOD, `${id} has quality GOOD`);
      t.ok(
        reading.value !== null && close(reading.value, expected),
        `${id}: decoded ${String(reading.value)}, expected ${expected}`,
      );
    }
  });
}

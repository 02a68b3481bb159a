/**
 * MQTT devices against a real embedded broker (aedes) and real mqtt.js clients: every MQTT profile
 * decodes its message fixture; garbage lands in the dead-letter table and the device goes on;
 * the broker refuses unauthenticated clients; an edge agent reads an MQTT meter end to end.
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fixturesDir, profilesDir } from "@steinmetz/firmware-config";
import mqtt from "mqtt";
import pino from "pino";
import t from "tap";
import { parse, stringify } from "yaml";
import { startEdgeAgent } from "../src/agent.js";
import { type NewReading, ReadingBuffer } from "../src/buffer/reading-buffer.js";
import { loadSiteFile } from "../src/config/load-site.js";
import { startBroker } from "../src/mqtt/broker.js";
import { MqttDevice, valueAt } from "../src/mqtt/mqtt-device.js";
import { hashPassword, verifyPassword } from "../src/mqtt/password.js";
import { loadMqttProfile } from "../src/profile/load-profile.js";

const log = pino({ level: "silent" });
const user = { username: "meter", password: "s3cret-test-password" };
const broker = await startBroker({
  host: "127.0.0.1",
  port: 0,
  users: [{ username: user.username, passwordHash: hashPassword(user.password) }],
  log,
});
t.teardown(() => broker.close());
const url = `mqtt://127.0.0.1:${broker.port}`;

async function client(options: mqtt.IClientOptions = user) {
  const c = await mqtt.connectAsync(url, { ...options, reconnectPeriod: 0 });
  t.teardown(() => c.endAsync());
  return c;
}

async function waitFor(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const mqttRefs = readdirSync(profilesDir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile() && e.name.endsWith(".yaml"))
  .map((e) => relative(profilesDir, join(e.parentPath, e.name)).replace(/\.yaml$/, ""))
  .filter(
    (ref) =>
      (parse(readFileSync(join(profilesDir, `${ref}.yaml`), "utf8")) as { protocol?: string }).protocol === "mqtt",
  )
  .sort();

t.ok(mqttRefs.length >= 3, `MQTT profiles: ${mqttRefs.join(", ")}`);

for (const ref of mqttRefs) {
  t.test(`${ref} decodes its message fixture`, async (t) => {
    let fixture: {
      vars: Record<string, string>;
      messages: { topic: string; payload: string }[];
      expected: Record<string, number>;
    };
    try {
      fixture = parse(readFileSync(join(fixturesDir, `${ref}.yaml`), "utf8"));
    } catch {
      t.fail(`fixture ${ref}.yaml is missing or unreadable`);
      return;
    }
    const profile = loadMqttProfile(ref);
    const committed: NewReading[] = [];
    const sub = await client();
    const device = new MqttDevice(
      { id: "dev", connection: "mqtt", profile: ref, pollIntervalMs: 1000, slowEvery: 1, vars: fixture.vars },
      {
        client: sub,
        profile,
        log,
        commit: (r) => committed.push(...r),
        deadLetter: () => t.fail("no dead letter expected"),
      },
    );
    device.start();
    t.teardown(() => device.stop());
    await sleep(100); // the subscription reaches the broker
    const pub = await client();
    for (const m of fixture.messages) await pub.publishAsync(m.topic, m.payload, { qos: 1 });
    const expected = Object.keys(fixture.expected).sort();
    t.same(profile.profile.points.map((p) => p.id).sort(), expected, "the fixture expects every point");
    await waitFor("all points", () => new Set(committed.map((r) => r.point)).size === expected.length);
    for (const r of committed) {
      const want = fixture.expected[r.point] as number;
      t.ok(
        Math.abs((r.value as number) - want) <= 1e-9 * Math.max(1, Math.abs(want)),
        `${r.point}: ${r.value} = ${want}`,
      );
    }
    t.equal(device.state.status, "ok");
  });
}

t.test("an MQTT profile's identity takes the device's variables; status changes are signalled", async (t) => {
  const sub = await client();
  let changes = 0;
  const dtu = new MqttDevice(
    {
      id: "hm",
      connection: "mqtt",
      profile: "inverter/opendtu-hoymiles-mqtt",
      pollIntervalMs: 1000,
      slowEvery: 1,
      vars: { prefix: "solar", serial: "114182736455" },
    },
    {
      client: sub,
      profile: loadMqttProfile("inverter/opendtu-hoymiles-mqtt"),
      log,
      commit: () => undefined,
      deadLetter: () => undefined,
      onChange: () => changes++,
    },
  );
  t.same(dtu.identity, { manufacturer: "Hoymiles", model: "", serialNumber: "114182736455", firmware: "" });
  dtu.handle("solar/114182736455/0/power", Buffer.from("312.5"));
  dtu.handle("solar/114182736455/0/power", Buffer.from("313"));
  t.equal(dtu.state.status, "ok");
  t.equal(changes, 1, "one change: unknown to ok");
  const shelly = new MqttDevice(
    { id: "grid", connection: "mqtt", profile: "meter/shelly-pro3em-mqtt", pollIntervalMs: 1000, slowEvery: 1 },
    {
      client: sub,
      profile: loadMqttProfile("meter/shelly-pro3em-mqtt"),
      log,
      commit: () => undefined,
      deadLetter: () => undefined,
    },
  );
  t.equal(shelly.identity, null, "a profile without identity gives none");
});

t.test("garbage payloads become dead letters and the device goes on", async (t) => {
  const buffer = ReadingBuffer.open(join(mkdtempSync(join(tmpdir(), "mqtt-dlq-")), "buffer.sqlite"));
  t.teardown(() => buffer.close());
  const committed: NewReading[] = [];
  let malformed = 0;
  const sub = await client();
  const device = new MqttDevice(
    { id: "shelly", connection: "mqtt", profile: "x", pollIntervalMs: 1000, slowEvery: 1, vars: { prefix: "sh1" } },
    {
      client: sub,
      profile: loadMqttProfile("meter/shelly-pro3em-mqtt"),
      log,
      commit: (r) => committed.push(...r),
      deadLetter: (entry) => buffer.deadLetter(entry),
      onMalformed: () => malformed++,
    },
  );
  device.start();
  t.teardown(() => device.stop());
  await sleep(100);
  const pub = await client();
  const junk = [
    Buffer.from("not json {"),
    Buffer.from('{"unexpected":true}'),
    Buffer.from([0xff, 0x00, 0xfe]),
    Buffer.alloc(0),
  ];
  for (const payload of junk) await pub.publishAsync("sh1/status/em:0", payload, { qos: 1 });
  await pub.publishAsync("sh1/status/em:0", '{"total_act_power": 99.5}', { qos: 1 });
  await waitFor("the good message after the junk", () => committed.length > 0);
  t.equal(malformed, junk.length, "every bad payload counted");
  const letters = buffer.deadLetters(10);
  t.equal(letters.length, junk.length);
  t.same(letters.map((l) => Buffer.from(l.payload)).reverse(), junk, "raw payloads kept byte for byte");
  t.match(letters[letters.length - 1], { source: "shelly", topic: "sh1/status/em:0", error: /not JSON/ });
  t.same(
    committed.map((r) => [r.point, r.value]),
    [["active_power", 99.5]],
    "a partial message yields the points it has",
  );
  t.equal(device.state.status, "ok");
});

t.test("the broker refuses clients without valid credentials", async (t) => {
  await t.rejects(mqtt.connectAsync(url, { reconnectPeriod: 0 }), /Bad username or password|Not authorized/i);
  await t.rejects(
    mqtt.connectAsync(url, { username: user.username, password: "wrong", reconnectPeriod: 0 }),
    /Bad username or password|Not authorized/i,
  );
  t.ok(verifyPassword(user.password, hashPassword(user.password)));
  t.notOk(verifyPassword("x", hashPassword(user.password)));
  t.equal(valueAt({ a: [{ b: 5 }] }, "a.0.b"), 5);
});

t.test("an edge agent with its embedded broker reads an MQTT meter", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "edge-mqtt-"));
  const { writeFileSync } = await import("node:fs");
  const { findFreePort } = await import("@steinmetz/sim");
  const port = await findFreePort();
  const siteFile = join(dir, "site.yaml");
  writeFileSync(
    siteFile,
    stringify({
      site: { name: "MQTT site" },
      mqttBroker: { enabled: true, port, users: [{ username: "shelly", passwordHash: hashPassword("pw-of-shelly") }] },
      connections: [{ id: "local", type: "mqtt", embedded: true }],
      devices: [{ id: "grid", connection: "local", profile: "meter/shelly-pro3em-mqtt", vars: { prefix: "grid" } }],
    }),
  );
  const agent = await startEdgeAgent({
    site: loadSiteFile(siteFile),
    dataDir: dir,
    hubUrl: `127.0.0.1:${await findFreePort()}`, // no hub: readings stay buffered
    insecureDev: true,
    httpPort: 0,
    log,
  });
  t.teardown(() => agent.close());
  await sleep(300);
  const meter = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
    username: "shelly",
    password: "pw-of-shelly",
    reconnectPeriod: 0,
  });
  t.teardown(() => meter.endAsync());
  await meter.publishAsync("grid/status/em:0", '{"total_act_power": -1234.5, "a_voltage": 230.2}', { qos: 1 });
  await waitFor("the meter's readings committed", () => agent.status().buffer.depth === 2);
  t.match(agent.status().devices, [{ id: "grid", state: { status: "ok" } }]);
});

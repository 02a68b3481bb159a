/**
 * The add-device wizard's MQTT step through the real HTTP API of a real agent: the first message
 * of a device on a real broker (aedes, with accounts) decoded with the profile, a refused login,
 * and a device that stays silent.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mqtt from "mqtt";
import pino from "pino";
import t from "tap";
import { startEdgeAgent } from "../src/agent.js";
import { startBroker } from "../src/mqtt/broker.js";
import { hashPassword } from "../src/mqtt/password.js";

const log = pino({ level: "silent" });
const broker = await startBroker({
  host: "127.0.0.1",
  port: 0,
  users: [{ username: "meter", passwordHash: hashPassword("meter secret") }],
  log,
});
t.teardown(() => broker.close());
const dir = mkdtempSync(join(tmpdir(), "edge-mqtt-test-"));
const edge = await startEdgeAgent({ dataDir: dir, insecureDev: true, httpPort: 0, log });
t.teardown(() => edge.close());

const setup = await fetch(`${edge.httpUrl}/api/v1/setup`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ siteName: "MQTT site", username: "anna", password: "long enough password" }),
});
const { csrfToken } = (await setup.json()) as { csrfToken: string };
const cookie = (setup.headers.get("set-cookie") ?? "").split(";")[0] as string;
const mqttTest = async (body: unknown) => {
  const res = await fetch(`${edge.httpUrl}/api/v1/mqtt-test`, {
    method: "POST",
    headers: { "content-type": "application/json", cookie, "x-csrf-token": csrfToken },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const url = `mqtt://127.0.0.1:${broker.port}`;
const device = { profile: "meter/shelly-pro3em-mqtt", vars: { prefix: "shellypro3em-test" } };

t.test("the first message of the device is decoded with the profile's units", async (t) => {
  const publisher = await mqtt.connectAsync(url, { username: "meter", password: "meter secret" });
  t.teardown(() => publisher.endAsync());
  const timer = setInterval(() => {
    publisher.publish(
      "shellypro3em-test/status/em:0",
      JSON.stringify({ total_act_power: -1234.5, a_act_power: -400, total_current: 5.2 }),
    );
  }, 200);
  t.teardown(() => clearInterval(timer));
  const res = await mqttTest({
    connection: { url, username: "meter", password: "meter secret" },
    ...device,
    timeoutMs: 10_000,
  });
  t.equal(res.status, 200);
  t.equal(res.body.topic, "shellypro3em-test/status/em:0");
  t.match(res.body.values, [
    { point: "active_power", value: -1234.5, unit: "W", quality: "good" },
    { point: "active_power_l1", value: -400, unit: "W" },
    { point: "ac_current", value: 5.2, unit: "A" },
  ]);
});

t.test("a refused broker login and a silent device are clear errors", async (t) => {
  const refused = await mqttTest({ connection: { url, username: "meter", password: "wrong" }, ...device });
  t.equal(refused.status, 502, JSON.stringify(refused.body));
  t.equal(refused.body.code, "EDGE_ERR_MQTT");
  const silent = await mqttTest({
    connection: { url, username: "meter", password: "meter secret" },
    ...device,
    timeoutMs: 1000,
  });
  t.equal(silent.status, 502);
  t.equal(silent.body.code, "EDGE_ERR_MQTT_STALE");
  const unknown = await mqttTest({ connection: { id: "nope" }, ...device });
  t.equal(unknown.status, 404);
  t.equal(unknown.body.code, "EDGE_ERR_NOT_FOUND");
});

/**
 * The simulated Shelly Pro 3EM against the edge's embedded broker (aedes) and the edge's MQTT
 * device with the shipped `meter/shelly-pro3em-mqtt` profile, all real: it logs in with its
 * account, publishes in the format the profile decodes (the same fields as the profile's message
 * fixture, taken from a real device), its energy counter integrates the circuit's power over
 * simulated time and survives a restart, and a wrong password gets it nowhere.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fixturesDir } from "@steinmetz/firmware-config";
import { shellyEmDataStatus, shellyEmStatus, startShellyPro3emSim } from "@steinmetz/sim";
import mqtt from "mqtt";
import pino from "pino";
import t from "tap";
import { parse } from "yaml";
import type { NewReading } from "../../edge/src/buffer/reading-buffer.js";
import { startBroker } from "../../edge/src/mqtt/broker.js";
import { MqttDevice } from "../../edge/src/mqtt/mqtt-device.js";
import { hashPassword } from "../../edge/src/mqtt/password.js";
import { loadMqttProfile } from "../../edge/src/profile/load-profile.js";
import { tempDir, waitFor } from "../support/harness.js";

const log = pino({ level: "silent" });
const account = { username: "shelly-heat-pump", password: "a-random-device-password" };
const broker = await startBroker({
  host: "127.0.0.1",
  port: 0,
  users: [
    { username: account.username, passwordHash: hashPassword(account.password) },
    { username: "edge", passwordHash: hashPassword("edge-password") },
  ],
  log,
});
t.teardown(() => broker.close());
const url = `mqtt://127.0.0.1:${broker.port}`;
const PROFILE = "meter/shelly-pro3em-mqtt";

/** The test object tap hands to a subtest callback. */
type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

/** The edge's side: an MQTT device with the Shelly profile, committing what it decodes. */
async function edgeDevice(t: TapTest, prefix: string) {
  const client = await mqtt.connectAsync(url, { username: "edge", password: "edge-password", reconnectPeriod: 0 });
  t.teardown(() => client.endAsync());
  const committed: NewReading[] = [];
  const device = new MqttDevice(
    { id: "heat-pump", connection: "mqtt", profile: PROFILE, pollIntervalMs: 1000, slowEvery: 1, vars: { prefix } },
    {
      client,
      profile: loadMqttProfile(PROFILE),
      log,
      commit: (r) => committed.push(...r),
      deadLetter: (d) => t.fail(`dead letter on ${d.topic}`),
    },
  );
  device.start();
  t.teardown(() => device.stop());
  await sleep(100); // the subscription reaches the broker
  /** The newest value of each point. */
  const latest = () => Object.fromEntries(committed.map((r) => [r.point, r.value as number]));
  return { device, committed, latest };
}

t.test("the payloads carry every field of a real device's messages", async (t) => {
  const fixture = parse(readFileSync(join(fixturesDir, `${PROFILE}.yaml`), "utf8")) as {
    messages: { topic: string; payload: string }[];
  };
  const [em, emdata] = fixture.messages.map((m) => Object.keys(JSON.parse(m.payload) as object));
  const ours = { em: Object.keys(shellyEmStatus(2100, 0)), emdata: Object.keys(shellyEmDataStatus(1000, 0)) };
  t.same(
    em?.filter((k) => !ours.em.includes(k)),
    [],
    "status/em:0 has the fixture's fields",
  );
  t.same(
    emdata?.filter((k) => !ours.emdata.includes(k)),
    [],
    "status/emdata:0 has the fixture's fields",
  );
  const status = shellyEmStatus(2100, 0);
  t.ok(Math.abs(status.total_act_power - 2100) <= 0.2, `total ${status.total_act_power} W`);
  t.equal(status.total_act_power, Math.round((status.a_act_power + status.b_act_power + status.c_act_power) * 10) / 10);
  t.ok(status.a_pf > 0.9 && shellyEmStatus(12, 0).a_pf < 0.6, "power factor under load and in standby");
});

t.test("it logs in to the edge's broker and the edge's profile decodes what it publishes", async (t) => {
  const prefix = "shellypro3em-0cb815fc5e01";
  const { device, latest } = await edgeDevice(t, prefix);
  let simulated = Date.UTC(2026, 0, 15, 6, 0);
  const clock = { speed: 60, now: () => simulated };
  const stateFile = join(tempDir("shelly"), "meter.json");
  const power = (at: number) => (at < Date.UTC(2026, 0, 15, 6, 30) ? 2250 : 12);
  const sim = startShellyPro3emSim({ url, ...account, prefix, clock, powerW: power, intervalMs: 100, stateFile });
  t.teardown(() => sim.close());
  await waitFor("every point decoded", () => Object.keys(latest()).length === 14, 10_000);
  t.equal(device.state.status, "ok");
  t.ok(sim.connected(), "connected with its account");
  const first = latest();
  t.ok(Math.abs((first.active_power as number) - 2250) <= 0.2, `active_power ${first.active_power} W`);
  t.ok(
    Math.abs(
      (first.active_power_l1 as number) + (first.active_power_l2 as number) + (first.active_power_l3 as number) - 2250,
    ) <= 0.2,
    "the phases add up",
  );
  t.ok((first.ac_voltage_l1 as number) > 225 && (first.ac_voltage_l1 as number) < 235, "230 V");
  t.equal(first.energy_exported, 0, "a heat pump gives nothing back");
  const startWh = first.energy_imported as number;
  t.equal(startWh, Math.round(sim.snapshot().importWh * 100) / 100, "the counter as the sim keeps it");

  // Twenty simulated minutes at 2.25 kW: 750 Wh more.
  simulated += 20 * 60_000;
  await waitFor("the heat pump still running", () => sim.snapshot().importWh - startWh > 749, 5000);
  t.ok(Math.abs(sim.snapshot().importWh - startWh - 750) < 0.01, `${sim.snapshot().importWh - startWh} Wh in 20 min`);
  // Past 06:30 the compressor stops: standby.
  simulated += 20 * 60_000;
  await waitFor("standby", () => latest().active_power !== undefined && (latest().active_power as number) < 20, 5000);
  await sim.close();

  const again = startShellyPro3emSim({ url, ...account, prefix, clock, powerW: power, intervalMs: 100, stateFile });
  t.teardown(() => again.close());
  t.ok(again.snapshot().importWh >= sim.snapshot().importWh, "a restarted meter keeps its counter");
  await waitFor("published again", () => again.published() > 0, 5000);
});

t.test("a wrong password gets it nowhere, and it says why", async (t) => {
  const errors: string[] = [];
  const sim = startShellyPro3emSim({
    url,
    username: account.username,
    password: "not-the-password",
    prefix: "shellypro3em-000000000000",
    powerW: () => 100,
    intervalMs: 100,
    onError: (err) => errors.push(err.message),
  });
  t.teardown(() => sim.close());
  await waitFor("the broker's refusal", () => errors.length > 0, 5000);
  t.match(errors[0], /Bad username or password|Not authorized/i);
  t.notOk(sim.connected());
  t.equal(sim.published(), 0, "nothing published");
});

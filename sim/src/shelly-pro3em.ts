import mqtt, { type MqttClient } from "mqtt";
import { type SimClock, simClock } from "./sim-clock.js";
import { readState, writeState } from "./state-file.js";

/** Options of the simulated Shelly Pro 3EM. */
export interface ShellyPro3emSimOptions {
  /** The broker, e.g. `mqtt://127.0.0.1:1883` (the edge's embedded one). */
  url: string;
  username?: string;
  password?: string;
  /** The device's MQTT topic prefix (its device id), e.g. `shellypro3em-0cb815fc5e01`. */
  prefix?: string;
  /**
   * Active power in W of the measured circuit at simulated time `t` (the three phases together;
   * positive = drawn through the meter, as Shelly and the meter nature count it).
   */
  powerW: (t: number) => number;
  /** Simulated time shared with the site's other devices (default: real time). */
  clock?: SimClock;
  /** Real ms between two `status/em:0` messages (default 1000). */
  intervalMs?: number;
  /** Real ms between two `status/emdata:0` messages (default 10,000; one is sent at every connect). */
  energyEveryMs?: number;
  /** File that keeps the energy counters across restarts. */
  stateFile?: string;
  /** Connection errors (the client reconnects by itself every 2 s). */
  onError?: (err: Error) => void;
}

/** A running Shelly Pro 3EM simulator. */
export interface ShellyPro3emSim {
  readonly prefix: string;
  /** True while connected to the broker. */
  connected(): boolean;
  /** Status messages published so far. */
  published(): number;
  /** Power (W) and energy counters (Wh) as last published. */
  snapshot(): { powerW: number; importWh: number; exportWh: number };
  close(): Promise<void>;
}

/** `status/em:0` of a Shelly Pro 3EM (Gen2 API, EM component). */
export interface ShellyEmStatus {
  id: 0;
  a_current: number;
  a_voltage: number;
  a_act_power: number;
  a_aprt_power: number;
  a_pf: number;
  a_freq: number;
  b_current: number;
  b_voltage: number;
  b_act_power: number;
  b_aprt_power: number;
  b_pf: number;
  b_freq: number;
  c_current: number;
  c_voltage: number;
  c_act_power: number;
  c_aprt_power: number;
  c_pf: number;
  c_freq: number;
  n_current: null;
  total_current: number;
  total_act_power: number;
  total_aprt_power: number;
  user_calibrated_phase: string[];
}

/** `status/emdata:0` of a Shelly Pro 3EM (Gen2 API, EMData component), energies in Wh. */
export interface ShellyEmDataStatus {
  id: 0;
  a_total_act_energy: number;
  a_total_act_ret_energy: number;
  b_total_act_energy: number;
  b_total_act_ret_energy: number;
  c_total_act_energy: number;
  c_total_act_ret_energy: number;
  total_act: number;
  total_act_ret: number;
}

/** How the circuit's power is split over the three phases (a motor load is nearly balanced). */
const PHASE_SHARE = [0.335, 0.328, 0.337] as const;
const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * The messages a Shelly Pro 3EM publishes for a circuit drawing `powerW` at simulated time `t`:
 * per-phase voltage, current, active and apparent power and power factor (0.95 under load, lower
 * in standby), and the totals. Deterministic in its inputs.
 */
export function shellyEmStatus(powerW: number, t: number): ShellyEmStatus {
  const pf = Math.abs(powerW) >= 100 ? 0.95 : 0.55;
  const freq = round(50 + 0.02 * Math.sin(t / 3_100), 2);
  const phases = PHASE_SHARE.map((share, i) => {
    const voltage = round(230 + 1.5 * Math.sin(t / 9_000 + i * 2.1), 1);
    const act = round(powerW * share, 1);
    const aprt = round(Math.abs(act) / pf, 1);
    return { voltage, act, aprt, current: round(aprt / voltage, 3), pf: round(Math.sign(act || 1) * pf, 2) };
  });
  const [a, b, c] = phases as [(typeof phases)[0], (typeof phases)[0], (typeof phases)[0]];
  return {
    id: 0,
    a_current: a.current,
    a_voltage: a.voltage,
    a_act_power: a.act,
    a_aprt_power: a.aprt,
    a_pf: a.pf,
    a_freq: freq,
    b_current: b.current,
    b_voltage: b.voltage,
    b_act_power: b.act,
    b_aprt_power: b.aprt,
    b_pf: b.pf,
    b_freq: freq,
    c_current: c.current,
    c_voltage: c.voltage,
    c_act_power: c.act,
    c_aprt_power: c.aprt,
    c_pf: c.pf,
    c_freq: freq,
    n_current: null,
    total_current: round(a.current + b.current + c.current, 3),
    total_act_power: round(a.act + b.act + c.act, 1),
    total_aprt_power: round(a.aprt + b.aprt + c.aprt, 1),
    user_calibrated_phase: [],
  };
}

/** `status/emdata:0` for the lifetime counters `importWh` and `exportWh`, split over the phases. */
export function shellyEmDataStatus(importWh: number, exportWh: number): ShellyEmDataStatus {
  const [a, b, c] = PHASE_SHARE;
  return {
    id: 0,
    a_total_act_energy: round(importWh * a, 2),
    a_total_act_ret_energy: round(exportWh * a, 2),
    b_total_act_energy: round(importWh * b, 2),
    b_total_act_ret_energy: round(exportWh * b, 2),
    c_total_act_energy: round(importWh * c, 2),
    c_total_act_ret_energy: round(exportWh * c, 2),
    total_act: round(importWh, 2),
    total_act_ret: round(exportWh, 2),
  };
}

/**
 * Starts a simulated Shelly Pro 3EM (Gen2) with "generic status update over MQTT" on: it logs in
 * to the broker, announces `<prefix>/online` (retained, "false" as its last will), and publishes
 * `<prefix>/status/em:0` every `intervalMs` and `<prefix>/status/emdata:0` every `energyEveryMs`
 * and at each connect, in the format of Shelly's Gen2 API. The energy counters integrate the
 * circuit's power over simulated time, also while the broker is away, and never go back.
 */
export function startShellyPro3emSim(options: ShellyPro3emSimOptions): ShellyPro3emSim {
  const prefix = options.prefix ?? "shellypro3em-0cb815fc5e01";
  const clock = options.clock ?? simClock();
  const saved = readState(options.stateFile, ["importWh", "exportWh"]);
  let importWh = saved.importWh ?? 1_203_456.78;
  let exportWh = saved.exportWh ?? 0;
  let lastT = clock.now();
  let powerW = options.powerW(lastT);
  let published = 0;
  let lastEnergyAt = Number.NEGATIVE_INFINITY;
  let closed = false;
  const energyEveryMs = options.energyEveryMs ?? 10_000;

  const client: MqttClient = mqtt.connect(options.url, {
    username: options.username,
    password: options.password,
    clientId: prefix,
    reconnectPeriod: 2000,
    connectTimeout: 5000,
    will: { topic: `${prefix}/online`, payload: Buffer.from("false"), qos: 0, retain: true },
  });
  client.on("error", (err) => options.onError?.(err));

  const publish = (topic: string, payload: unknown) => {
    client.publish(`${prefix}/${topic}`, JSON.stringify(payload), { qos: 0 });
    published++;
  };

  /** Advances the counters to now (trapezoid over the interval that ended) and publishes. */
  const tick = (forceEnergy = false) => {
    const t = clock.now();
    const next = options.powerW(t);
    const dtHours = Math.max(0, t - lastT) / 3_600_000;
    const mean = ((powerW + next) / 2) * dtHours;
    if (mean > 0) importWh += mean;
    else exportWh -= mean;
    lastT = Math.max(lastT, t);
    powerW = next;
    writeState(options.stateFile, { importWh, exportWh });
    if (!client.connected) return;
    publish("status/em:0", shellyEmStatus(powerW, t));
    const real = Date.now();
    if (forceEnergy || real - lastEnergyAt >= energyEveryMs) {
      publish("status/emdata:0", shellyEmDataStatus(importWh, exportWh));
      lastEnergyAt = real;
    }
  };

  client.on("connect", () => {
    client.publish(`${prefix}/online`, "true", { qos: 0, retain: true });
    tick(true);
  });
  const timer = setInterval(() => tick(), options.intervalMs ?? 1000);

  return {
    prefix,
    connected: () => client.connected,
    published: () => published,
    snapshot: () => ({ powerW, importWh, exportWh }),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      if (client.connected) client.publish(`${prefix}/online`, "false", { qos: 0, retain: true });
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([
        client.endAsync(),
        new Promise<void>((resolve) => {
          timeout = setTimeout(() => {
            client.end(true);
            resolve();
          }, 2000);
        }),
      ]);
      clearTimeout(timeout);
    },
  };
}

import { isDeepStrictEqual } from "node:util";
import type { MqttClient } from "mqtt";
import type { Logger } from "pino";
import { DevicePoller } from "./acquisition/device-poller.js";
import { ModbusConnection } from "./acquisition/modbus-connection.js";
import type { DeadLetter, NewReading } from "./buffer/reading-buffer.js";
import { BUFFER_DEFAULTS } from "./buffer/types.js";
import type { LoadedSite } from "./config/load-site.js";
import type { ConnectionConfig, DeviceConfig } from "./config/site-schema.js";
import type { AppliedChange } from "./http/deps.js";
import type { EdgeMetrics } from "./metrics.js";
import type { MqttDevice } from "./mqtt/mqtt-device.js";
import { type MqttSite, startMqttSite } from "./mqtt/mqtt-site.js";
import type { LoadedProfile } from "./profile/load-profile.js";

/** What the running site needs from the agent. */
export interface SiteRuntimeDeps {
  log: Logger;
  metrics: EdgeMetrics;
  clockSynced: () => boolean;
  /** Takes one cycle's readings of one device (the agent's commit path). */
  commit: (device: string, readings: NewReading[]) => void;
  deadLetter: (entry: DeadLetter) => void;
  /** A device left the configuration or changed its profile: its latest values are forgotten. */
  forget: (device: string) => void;
  /**
   * The device inventory changed: a configuration was applied (devices added, removed or
   * restarted), a device's status changed, or a SunSpec device was discovered.
   */
  onInventoryChange?: () => void;
}

/** The site of an appliance before first-run setup: no connections, no devices. */
export function emptySite(): LoadedSite {
  return {
    config: { site: { name: "" }, connections: [], devices: [] },
    profiles: new Map(),
    mqttProfiles: new Map(),
    buffer: { ...BUFFER_DEFAULTS },
  };
}

interface RunningConnection {
  config: ConnectionConfig;
  connection: ModbusConnection;
}

interface RunningPoller {
  config: DeviceConfig;
  profile: LoadedProfile;
  poller: DevicePoller;
}

/** The MQTT part of a site: the broker section, MQTT connections, their devices and profiles. */
function mqttPart(site: LoadedSite): unknown {
  const connections = site.config.connections.filter((c) => c.type === "mqtt");
  const ids = new Set(connections.map((c) => c.id));
  const devices = site.config.devices.filter((d) => ids.has(d.connection));
  return {
    broker: site.config.mqttBroker ?? null,
    connections,
    devices,
    profiles: devices.map((d) => site.mqttProfiles.get(d.profile)?.profile),
  };
}

const hasMqtt = (site: LoadedSite) =>
  site.config.mqttBroker?.enabled === true || site.config.connections.some((c) => c.type === "mqtt");

/**
 * The acquisition side of the running site: one shared Modbus connection per configured link,
 * one poller per Modbus device, and the MQTT side (embedded broker, clients, devices). `apply`
 * replaces it with another site by difference: a changed connection is closed and reopened with
 * all its devices, a changed device (config or profile) is restarted, added devices start,
 * removed ones stop, and unchanged devices keep their poller and keep polling. The MQTT side is
 * restarted as a whole when anything of it changed.
 */
export class SiteRuntime {
  private site: LoadedSite = emptySite();
  private readonly connections = new Map<string, RunningConnection>();
  private readonly pollers = new Map<string, RunningPoller>();
  private mqtt: MqttSite | null = null;

  constructor(private readonly deps: SiteRuntimeDeps) {}

  /** The site running now (an empty one before the first `apply`). */
  get current(): LoadedSite {
    return this.site;
  }

  /** Every running device: Modbus pollers, then MQTT devices. */
  devices(): (DevicePoller | MqttDevice)[] {
    return [...[...this.pollers.values()].map((p) => p.poller), ...(this.mqtt?.devices ?? [])];
  }

  /** The poller of a Modbus device. */
  poller(deviceId: string): DevicePoller | undefined {
    return this.pollers.get(deviceId)?.poller;
  }

  /** The shared connection of a Modbus link. */
  connection(connectionId: string): ModbusConnection | undefined {
    return this.connections.get(connectionId)?.connection;
  }

  /** The agent's client of an MQTT connection. */
  mqttClient(connectionId: string): MqttClient | undefined {
    return this.mqtt?.client(connectionId);
  }

  /** Makes `next` the running site (see the class comment); returns what it changed. */
  async apply(next: LoadedSite): Promise<AppliedChange> {
    const previous = this.site;
    const reopened = new Set<string>();
    const restarted: string[] = [];

    const nextConnections = new Map(
      next.config.connections.filter((c) => c.type !== "mqtt").map((c) => [c.id, c] as const),
    );
    const changedConnections = [...this.connections].filter(
      ([id, running]) => !isDeepStrictEqual(nextConnections.get(id), running.config),
    );
    const changedIds = new Set(changedConnections.map(([id]) => id));
    const nextDevices = new Map(
      next.config.devices.filter((d) => nextConnections.has(d.connection)).map((d) => [d.id, d] as const),
    );

    const stopping = [...this.pollers].filter(([id, running]) => {
      const device = nextDevices.get(id);
      return (
        device === undefined ||
        changedIds.has(running.config.connection) ||
        !isDeepStrictEqual(device, running.config) ||
        !isDeepStrictEqual(next.profiles.get(device.profile)?.profile, running.profile.profile)
      );
    });
    await Promise.all(stopping.map(([, running]) => running.poller.stop()));
    for (const [id] of stopping) this.pollers.delete(id);
    await Promise.all(changedConnections.map(([, running]) => running.connection.close()));
    for (const [id] of changedConnections) this.connections.delete(id);

    for (const [id, config] of nextConnections) {
      if (this.connections.has(id)) continue;
      const connection = new ModbusConnection(config, this.deps.log.child({ component: "modbus", connection: id }));
      this.connections.set(id, { config, connection });
    }
    for (const [id, device] of nextDevices) {
      if (this.pollers.has(id)) continue;
      const profile = next.profiles.get(device.profile) as LoadedProfile;
      const poller = this.newPoller(device, profile, this.connections.get(device.connection)?.connection);
      this.pollers.set(id, { config: device, profile, poller });
      poller.start();
      reopened.add(id);
    }

    if (!isDeepStrictEqual(mqttPart(previous), mqttPart(next))) {
      const before = new Set(this.mqtt?.devices.map((d) => d.device.id));
      await this.mqtt?.close();
      this.mqtt = null;
      if (hasMqtt(next)) {
        try {
          this.mqtt = await startMqttSite(next, {
            log: this.deps.log,
            clockSynced: this.deps.clockSynced,
            commit: this.deps.commit,
            deadLetter: this.deps.deadLetter,
            onMalformed: (device) => this.deps.metrics.mqttMalformed.inc({ device }),
            onChange: this.deps.onInventoryChange,
          });
        } catch (err) {
          this.deps.log.error({ err, component: "mqtt" }, "MQTT side could not be started; its devices are not read");
        }
      }
      for (const d of this.mqtt?.devices ?? []) if (before.has(d.device.id)) reopened.add(d.device.id);
      restarted.push("mqtt");
    }
    this.site = next;

    const before = new Map(previous.config.devices.map((d) => [d.id, d] as const));
    const after = new Set(next.config.devices.map((d) => d.id));
    const added = [...after].filter((id) => !before.has(id));
    const removed = [...before.keys()].filter((id) => !after.has(id));
    for (const id of removed) this.deps.forget(id);
    for (const device of next.config.devices) {
      if (before.get(device.id)?.profile !== device.profile && before.has(device.id)) this.deps.forget(device.id);
    }
    this.deps.onInventoryChange?.();
    return {
      reopened: [...reopened].filter((id) => before.has(id) && after.has(id)),
      added,
      removed,
      restarted,
    };
  }

  /** Stops reading Modbus devices (the MQTT side keeps its subscriptions until `close`). */
  async stopPolling(): Promise<void> {
    await Promise.all([...this.pollers.values()].map((p) => p.poller.stop()));
  }

  /** Stops every device and closes the connections and the MQTT side. */
  async close(): Promise<void> {
    await this.stopPolling();
    await this.mqtt?.close();
    this.mqtt = null;
    await Promise.all([...this.connections.values()].map((c) => c.connection.close()));
  }

  private newPoller(device: DeviceConfig, profile: LoadedProfile, connection: ModbusConnection | undefined) {
    const { metrics } = this.deps;
    return new DevicePoller(device, {
      connection: connection as ModbusConnection,
      profile,
      log: this.deps.log.child({ device: device.id }),
      clockSynced: this.deps.clockSynced,
      commit: (readings) => this.deps.commit(device.id, readings),
      onCycle: (ok, durationMs, overran) => {
        metrics.pollCycles.inc({ device: device.id, result: ok ? "ok" : "failed" });
        if (ok) metrics.pollDuration.observe({ device: device.id }, durationMs / 1000);
        if (overran) metrics.pollOverruns.inc({ device: device.id });
      },
      onChange: this.deps.onInventoryChange,
    });
  }
}

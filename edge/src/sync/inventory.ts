import { EventEmitter } from "node:events";
import { type InventoryDevice, DeviceState as WireDeviceState } from "@steinmetz/proto";
import type { DeviceState } from "../acquisition/device-poller.js";
import type { SiteRuntime } from "../site-runtime.js";

const WIRE_STATE: Record<DeviceState["status"], WireDeviceState> = {
  ok: WireDeviceState.DEVICE_STATE_OK,
  fault: WireDeviceState.DEVICE_STATE_FAULT,
  unknown: WireDeviceState.DEVICE_STATE_UNKNOWN,
};

/** Longest error message sent; a device's words beyond it are cut. */
const MAX_MESSAGE = 1000;

/**
 * A device's string as sent: NUL characters (a register map's padding inside a SunSpec string,
 * say) dropped, other control characters (line breaks) as spaces, at most `max` characters,
 * never cutting a character in two.
 */
const clean = (text: string, max = 100) =>
  Array.from(text.replace(/\0/g, "").replace(/\p{Cc}+/gu, " "))
    .slice(0, max)
    .join("")
    .trim();

/**
 * Every device configured on the edge as the hub's inventory sees it: profile and class, the
 * identity the device gave (SunSpec common model 1 once discovered, or its MQTT profile's),
 * state with the time it began and the fault's code and words, and the points it reports. A
 * configured device that is not running (its MQTT side failed to start) is listed as unknown.
 */
export function inventoryOf(runtime: SiteRuntime): InventoryDevice[] {
  const site = runtime.current;
  const running = new Map(runtime.devices().map((d) => [d.device.id, d] as const));
  return site.config.devices.map((config): InventoryDevice => {
    const modbus = site.profiles.get(config.profile);
    const mqtt = site.mqttProfiles.get(config.profile);
    const device = running.get(config.id);
    const poller = runtime.poller(config.id);
    const points = poller ? poller.pointsRead : (modbus?.profile.points ?? mqtt?.profile.points ?? []);
    const state = device?.state;
    const fault = state?.status === "fault" ? state.lastError : null;
    return {
      deviceId: config.id,
      profile: config.profile,
      deviceClass: (modbus ?? mqtt)?.profile.class ?? config.profile.split("/")[0] ?? "",
      manufacturer: clean(device?.identity?.manufacturer ?? ""),
      model: clean(device?.identity?.model ?? ""),
      serialNumber: clean(device?.identity?.serialNumber ?? ""),
      firmware: clean(device?.identity?.firmware ?? ""),
      state: WIRE_STATE[state?.status ?? "unknown"],
      stateSinceMs: state?.since ?? 0,
      lastErrorCode: fault?.code ?? "",
      lastErrorMessage: clean(fault?.message ?? "", MAX_MESSAGE),
      points: [...new Set(points.map((p) => p.id))],
    };
  });
}

/**
 * The device inventory the forwarder reports: `snapshot()` takes it as it is now, `changed()`
 * (called by the site on every configuration applied, status transition and finished discovery)
 * tells the forwarder to report it again.
 */
export class DeviceInventory extends EventEmitter<{ changed: [] }> {
  constructor(private readonly take: () => InventoryDevice[]) {
    super();
  }

  /** The inventory now. */
  snapshot(): InventoryDevice[] {
    return this.take();
  }

  /** Signals that the inventory may have changed. */
  changed(): void {
    this.emit("changed");
  }
}

import { Quality } from "@steinmetz/proto";
import type { LoadedSite } from "../config/load-site.js";
import type { LiveValues } from "../live-values.js";
import type { Nature } from "../profile/profile-schema.js";

/** The quality words the API uses. */
export const QUALITY_WORDS: Record<number, string> = {
  [Quality.QUALITY_UNSPECIFIED]: "unknown",
  [Quality.QUALITY_GOOD]: "good",
  [Quality.QUALITY_NOT_IMPLEMENTED]: "not-implemented",
  [Quality.QUALITY_STALE]: "stale",
  [Quality.QUALITY_COMM_ERROR]: "comm-error",
  [Quality.QUALITY_OUT_OF_RANGE]: "out-of-range",
};

/** One point's current value as the live view shows it. */
export interface PointValue {
  point: string;
  value: number | null;
  unit: string;
  quality: string;
  ts: number;
}

/**
 * The site's power flow in W. pv ≥ 0 is production; grid > 0 import, < 0 export; battery > 0
 * discharging, < 0 charging (the natures' sign conventions); house is what the site consumes.
 * null where the site has no such device or no good value yet.
 */
export interface PowerFlow {
  pvW: number | null;
  gridW: number | null;
  batteryW: number | null;
  socPct: number | null;
  houseW: number | null;
}

/** What `GET /api/v1/live` sends once per second. */
export interface LiveSnapshot {
  ts: number;
  flow: PowerFlow;
  devices: { id: string; class: string; profile: string; status: string; values: PointValue[] }[];
}

/** The unit of a point in its nature; repeated points (`dc_power_1`) take their base point's. */
export function unitOf(nature: Nature, point: string): string {
  return nature.points[point]?.unit ?? nature.points[point.replace(/_\d+$/, "")]?.unit ?? "";
}

/** The nature and class of a configured device's profile (Modbus or MQTT). */
export function natureOf(site: LoadedSite, profile: string): Nature | undefined {
  return (site.profiles.get(profile) ?? site.mqttProfiles.get(profile))?.nature;
}

/**
 * Builds the live snapshot: every configured device with its state and latest values, and the
 * power flow summed over the devices of each class (inverters' `active_power`, grid meters'
 * `active_power` — not those of `role: consumer` —, batteries' `battery_power` and mean `soc`).
 */
export function liveSnapshot(
  site: LoadedSite,
  live: LiveValues,
  statusOf: (deviceId: string) => string,
  now = Date.now(),
): LiveSnapshot {
  const sums = { inverter: [] as number[], meter: [] as number[], battery: [] as number[], soc: [] as number[] };
  const devices = site.config.devices.map((device) => {
    const nature = natureOf(site, device.profile);
    const cls = nature?.class ?? device.profile.split("/")[0] ?? "";
    const values = [...live.of(device.id)].map(([point, v]) => ({
      point,
      value: v.value,
      unit: nature ? unitOf(nature, point) : "",
      quality: QUALITY_WORDS[v.quality] ?? "unknown",
      ts: v.ts,
    }));
    const good = (point: string) => {
      const v = live.of(device.id).get(point);
      return v && v.quality === Quality.QUALITY_GOOD && v.value !== null ? v.value : undefined;
    };
    const power = good(cls === "battery" ? "battery_power" : "active_power");
    // a consumer meter measures a load inside the site: part of the house, not the grid
    const counted = cls === "inverter" || cls === "battery" || (cls === "meter" && device.role !== "consumer");
    if (power !== undefined && counted) sums[cls as "inverter" | "meter" | "battery"].push(power);
    const soc = cls === "battery" ? good("soc") : undefined;
    if (soc !== undefined) sums.soc.push(soc);
    return { id: device.id, class: cls, profile: device.profile, status: statusOf(device.id), values };
  });
  const sum = (list: number[]) => (list.length === 0 ? null : list.reduce((a, b) => a + b, 0));
  const pvW = sum(sums.inverter);
  const gridW = sum(sums.meter);
  const batteryW = sum(sums.battery);
  const socPct = sums.soc.length === 0 ? null : (sum(sums.soc) as number) / sums.soc.length;
  const houseW = pvW === null && gridW === null ? null : (pvW ?? 0) + (gridW ?? 0) + (batteryW ?? 0);
  return { ts: now, flow: { pvW, gridW, batteryW, socPct, houseW }, devices };
}

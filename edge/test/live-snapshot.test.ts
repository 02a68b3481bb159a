/**
 * The dashboard's power flow from the latest values: PV from the inverters, grid from the grid
 * meters only (a meter with `role: consumer` measures a load inside the house), battery power and
 * state of charge, house = PV + grid + battery.
 */
import { Quality } from "@steinmetz/proto";
import t from "tap";
import type { LoadedSite } from "../src/config/load-site.js";
import { liveSnapshot } from "../src/http/live-snapshot.js";
import { LiveValues } from "../src/live-values.js";

const nature = (cls: string, points: string[]) => ({
  nature: { class: cls, points: Object.fromEntries(points.map((p) => [p, { unit: "W", description: p }])) },
});
const site = {
  config: {
    devices: [
      { id: "inv", profile: "inverter/x" },
      { id: "grid", profile: "meter/x" },
      { id: "heat-pump", profile: "meter/y", role: "consumer" },
      { id: "bat", profile: "battery/x" },
    ],
  },
  profiles: new Map([
    ["inverter/x", nature("inverter", ["active_power"])],
    ["meter/x", nature("meter", ["active_power"])],
    ["battery/x", nature("battery", ["battery_power", "soc"])],
  ]),
  mqttProfiles: new Map([["meter/y", nature("meter", ["active_power"])]]),
} as unknown as LoadedSite;

t.test("a consumer meter is part of the house, not the grid", async (t) => {
  const live = new LiveValues();
  const good = (deviceId: string, point: string, value: number) => ({
    deviceId,
    point,
    value,
    ts: 1,
    quality: Quality.QUALITY_GOOD,
    clockSynced: true,
  });
  live.record([good("inv", "active_power", 4000)]);
  live.record([good("grid", "active_power", -1200)]);
  live.record([good("heat-pump", "active_power", 1500)]);
  live.record([good("bat", "battery_power", -800), good("bat", "soc", 55)]);
  const { flow } = liveSnapshot(site, live, () => "ok", 2);
  t.same(flow, { pvW: 4000, gridW: -1200, batteryW: -800, socPct: 55, houseW: 2000 });
});

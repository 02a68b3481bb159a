import { join } from "node:path";
import { BatteryModel, type BatteryModelOptions } from "./battery-model.js";
import { type ShellyPro3emSim, type ShellyPro3emSimOptions, startShellyPro3emSim } from "./shelly-pro3em.js";
import { type SimClock, simClock } from "./sim-clock.js";
import { type SiteFlow, SitePower } from "./site-power.js";
import { type SunSpecBatterySim, startSunSpecBatterySim } from "./sunspec-battery.js";
import { type SunSpecInverterSim, startSunSpecInverterSim } from "./sunspec-inverter.js";

/** Options of a whole simulated site. */
export interface SimSiteOptions {
  /** Address the Modbus servers listen on; loopback by default. */
  host?: string;
  /** Port of the inverter (with the grid meter behind it); 0 or unset picks a free one. */
  inverterPort?: number;
  /** Port of the battery; 0 or unset picks a free one. */
  batteryPort?: number;
  /** Simulated seconds per real second. */
  speed?: number;
  /** Wall clock in ms; injected by tests. */
  now?: () => number;
  /** Directory of the state files (`inverter.json`, `battery.json`, `heat-pump-meter.json`); none without. */
  dataDir?: string;
  /** Serial number of the inverter (SunSpec model 1). */
  inverterSerial?: string;
  /** Battery size and limits. */
  battery?: Omit<BatteryModelOptions, "stateFile">;
}

/** A running simulated site. */
export interface SimSite {
  readonly clock: SimClock;
  readonly power: SitePower;
  readonly batteryModel: BatteryModel;
  /** The PV inverter with model 123 controls and the grid meter (models 1 + 203) behind it. */
  readonly inverter: SunSpecInverterSim;
  readonly battery: SunSpecBatterySim;
  /** The flow now. */
  flow(): SiteFlow;
  /**
   * Starts the Shelly Pro 3EM on the heat pump's circuit, publishing to the broker at `url`
   * (usually the edge's embedded one, so it starts once the edge runs); closed with the site.
   */
  startHeatPumpMeter(options: Omit<ShellyPro3emSimOptions, "powerW" | "clock" | "stateFile">): ShellyPro3emSim;
  close(): Promise<void>;
}

/**
 * Starts the simulated PV site the demo shows: one simulated clock drives the sun (PV inverter),
 * the house load (household and heat pump) and a battery that charges from the surplus and
 * discharges into the deficit, so the grid meter behind the inverter reads load − PV − battery
 * discharge. The inverter (SunSpec 1, 103, 123 and the meter's 1, 203) and the battery (SunSpec
 * 1, 124, 713, 802) are Modbus TCP servers of their own; the heat pump's Shelly Pro 3EM publishes
 * over MQTT once `startHeatPumpMeter` is called.
 */
export async function startSimSite(options: SimSiteOptions = {}): Promise<SimSite> {
  const host = options.host ?? "127.0.0.1";
  const clock = simClock({ speed: options.speed, now: options.now });
  const file = (name: string) => (options.dataDir ? join(options.dataDir, name) : undefined);
  const batteryModel = new BatteryModel({ ...options.battery, stateFile: file("battery.json") });
  const power = new SitePower({ battery: batteryModel });
  const inverter = await startSunSpecInverterSim({
    host,
    port: options.inverterPort,
    clock,
    now: options.now,
    stateFile: file("inverter.json"),
    serialNumber: options.inverterSerial,
    controls: true,
    meter: true,
    gridPowerW: (t, acW) => power.at(t, acW).gridW,
  });
  let battery: SunSpecBatterySim;
  try {
    battery = await startSunSpecBatterySim({
      host,
      port: options.batteryPort,
      state: () => {
        power.at(clock.now());
        return batteryModel.state();
      },
    });
  } catch (err) {
    await inverter.close();
    throw err;
  }
  const meters: ShellyPro3emSim[] = [];
  return {
    clock,
    power,
    batteryModel,
    inverter,
    battery,
    flow: () => power.at(clock.now()),
    startHeatPumpMeter(meterOptions) {
      const meter = startShellyPro3emSim({
        ...meterOptions,
        clock,
        stateFile: file("heat-pump-meter.json"),
        powerW: (t) => power.at(t).heatPumpW,
      });
      meters.push(meter);
      return meter;
    },
    async close() {
      await Promise.all(meters.map((m) => m.close()));
      await battery.close();
      await inverter.close();
    },
  };
}

import type { BatteryModel } from "./battery-model.js";
import { heatPumpLoad, householdLoad } from "./house-load.js";

/** The site's power flow at one instant, in W. */
export interface SiteFlow {
  /** Simulated time (ms since the epoch). */
  t: number;
  /** PV inverter AC power, positive when feeding in. */
  pvW: number;
  /** The house's whole load (household and heat pump). */
  loadW: number;
  /** The heat pump's share of `loadW`. */
  heatPumpW: number;
  /** Battery power, positive while discharging (battery nature). */
  batteryW: number;
  /** Battery state of charge in %; null without a battery. */
  socPct: number | null;
  /** Power at the grid connection point, positive = import (meter nature): load − PV − battery discharge. */
  gridW: number;
}

/** Options of `SitePower`. */
export interface SitePowerOptions {
  /** The site's battery; without it the grid takes every difference. */
  battery?: BatteryModel;
  /** Household load without the heat pump in W at simulated time t (default `householdLoad`). */
  householdW?: (t: number) => number;
  /** Heat pump circuit in W at simulated time t (default `heatPumpLoad`). */
  heatPumpW?: (t: number) => number;
  /**
   * Grid import the battery's controller aims at while it can (many storage systems keep a small
   * import so they never feed the grid from the battery), in W.
   */
  targetImportW?: number;
}

/**
 * The power balance of a simulated site: PV (reported by the inverter), the house load, and a
 * battery that charges from the surplus and discharges into the deficit within its limits, so
 * that the grid meter always shows load − PV − battery discharge. Every simulated device asks it
 * for the same simulated time, so their readings add up. `at` advances the battery to `t` (never
 * backwards) and returns the flow at `t`.
 */
export class SitePower {
  private last: SiteFlow | null = null;
  private pvW = 0;
  private readonly household: (t: number) => number;
  private readonly heatPump: (t: number) => number;
  private readonly targetImportW: number;

  constructor(private readonly options: SitePowerOptions = {}) {
    this.household = options.householdW ?? householdLoad;
    this.heatPump = options.heatPumpW ?? heatPumpLoad;
    this.targetImportW = options.targetImportW ?? 30;
  }

  /**
   * The flow at simulated time `t`. The inverter passes the AC power it serves at `t` (`pvW`);
   * other devices pass nothing and see the PV power last reported.
   */
  at(t: number, pvW?: number): SiteFlow {
    if (pvW !== undefined) this.pvW = pvW;
    const last = this.last;
    if (last && t <= last.t && (pvW === undefined || pvW === last.pvW)) return last;
    const at = last ? Math.max(t, last.t) : t;
    const dtHours = last ? (at - last.t) / 3_600_000 : 0;
    const heatPumpW = this.heatPump(at);
    const loadW = this.household(at) + heatPumpW;
    const battery = this.options.battery;
    battery?.step(dtHours, loadW - this.pvW - this.targetImportW);
    const state = battery?.state();
    const batteryW = state?.powerW ?? 0;
    this.last = {
      t: at,
      pvW: this.pvW,
      loadW,
      heatPumpW,
      batteryW,
      socPct: state ? state.socPct : null,
      gridW: loadW - this.pvW - batteryW,
    };
    return this.last;
  }
}

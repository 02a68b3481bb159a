import { readState, writeState } from "./state-file.js";

/** Options of a simulated battery. */
export interface BatteryModelOptions {
  /** Usable capacity in Wh. */
  capacityWh?: number;
  /** Largest charge power in W. */
  maxChargeW?: number;
  /** Largest discharge power in W. */
  maxDischargeW?: number;
  /** The battery does not discharge below this state of charge (backup reserve), in %. */
  minReservePct?: number;
  /** State of charge at the first start, in %. */
  initialSocPct?: number;
  /** File that keeps the stored energy and the lifetime counters across restarts. */
  stateFile?: string;
}

/** SunSpec charge status (`ChaSt` of models 124 and 802). */
export type ChargeStatus = 2 | 3 | 4 | 5 | 6;
/** `ChaSt` values: empty, discharging, charging, full, holding. */
export const CHARGE_STATUS = { empty: 2, discharging: 3, charging: 4, full: 5, holding: 6 } as const;

/** What a battery shows at one instant. */
export interface BatteryState {
  /** DC power in W, positive while discharging, negative while charging (the battery nature's sign). */
  powerW: number;
  socPct: number;
  /** Energy stored now, in Wh. */
  storedWh: number;
  /** Energy above the reserve, available for discharge, in Wh. */
  availableWh: number;
  /** Lifetime energy charged and discharged, in Wh (counters, never decrease). */
  chargedWh: number;
  dischargedWh: number;
  /** DC voltage at the terminals in V (a 16-cell LFP pack: 49–54 V, lower while discharging). */
  voltageV: number;
  /** DC current in A, same sign as `powerW`. */
  currentA: number;
  status: ChargeStatus;
  capacityWh: number;
  maxChargeW: number;
  maxDischargeW: number;
  minReservePct: number;
}

/** Internal resistance of the pack in ohm (voltage drop under load). */
const RESISTANCE_OHM = 0.015;

/**
 * A battery's energy balance, without a protocol: `step` moves the energy of the interval that
 * just ended at the power set before, then takes the new power request, limited by the charge and
 * discharge limits, a full battery and the reserve. No losses, no taper: simple and predictable.
 */
export class BatteryModel {
  readonly capacityWh: number;
  readonly maxChargeW: number;
  readonly maxDischargeW: number;
  readonly minReservePct: number;
  private storedWh: number;
  private chargedWh: number;
  private dischargedWh: number;
  private powerW = 0;

  constructor(private readonly options: BatteryModelOptions = {}) {
    this.capacityWh = options.capacityWh ?? 10_000;
    this.maxChargeW = options.maxChargeW ?? 5000;
    this.maxDischargeW = options.maxDischargeW ?? 5000;
    this.minReservePct = options.minReservePct ?? 10;
    const saved = readState(options.stateFile, ["storedWh", "chargedWh", "dischargedWh"]);
    const initial = (this.capacityWh * (options.initialSocPct ?? 50)) / 100;
    this.storedWh = Math.min(this.capacityWh, Math.max(0, saved.storedWh ?? initial));
    this.chargedWh = saved.chargedWh ?? 1_850_000;
    this.dischargedWh = saved.dischargedWh ?? 1_790_000;
  }

  private get reserveWh(): number {
    return (this.capacityWh * this.minReservePct) / 100;
  }

  /**
   * Moves the energy of the last `dtHours` at the power set before (never below the reserve, never
   * above full), then sets the power for what follows from `requestW` (positive: discharge into
   * the house, negative: charge from the surplus).
   */
  step(dtHours: number, requestW: number): void {
    if (dtHours > 0 && this.powerW > 0) {
      const moved = Math.min(this.powerW * dtHours, Math.max(0, this.storedWh - this.reserveWh));
      this.storedWh -= moved;
      this.dischargedWh += moved;
    } else if (dtHours > 0 && this.powerW < 0) {
      const moved = Math.min(-this.powerW * dtHours, this.capacityWh - this.storedWh);
      this.storedWh += moved;
      this.chargedWh += moved;
    }
    let power = Math.round(Math.min(this.maxDischargeW, Math.max(-this.maxChargeW, requestW)));
    if (power > 0 && this.storedWh <= this.reserveWh + 1) power = 0;
    if (power < 0 && this.storedWh >= this.capacityWh - 1) power = 0;
    this.powerW = power;
    if (dtHours > 0) writeState(this.options.stateFile, this.toJSON());
  }

  /** The battery now. */
  state(): BatteryState {
    const socPct = (this.storedWh / this.capacityWh) * 100;
    const openCircuitV = 49 + (5 * socPct) / 100;
    const currentA = this.powerW / openCircuitV;
    const full = this.storedWh >= this.capacityWh - 1;
    const empty = this.storedWh <= this.reserveWh + 1;
    const status: ChargeStatus =
      this.powerW > 0
        ? CHARGE_STATUS.discharging
        : this.powerW < 0
          ? CHARGE_STATUS.charging
          : full
            ? CHARGE_STATUS.full
            : empty
              ? CHARGE_STATUS.empty
              : CHARGE_STATUS.holding;
    return {
      powerW: this.powerW,
      socPct,
      storedWh: this.storedWh,
      availableWh: Math.max(0, this.storedWh - this.reserveWh),
      chargedWh: this.chargedWh,
      dischargedWh: this.dischargedWh,
      voltageV: openCircuitV - currentA * RESISTANCE_OHM,
      currentA,
      status,
      capacityWh: this.capacityWh,
      maxChargeW: this.maxChargeW,
      maxDischargeW: this.maxDischargeW,
      minReservePct: this.minReservePct,
    };
  }

  /** The part of the state kept across restarts. */
  toJSON(): { storedWh: number; chargedWh: number; dischargedWh: number } {
    return { storedWh: this.storedWh, chargedWh: this.chargedWh, dischargedWh: this.dischargedWh };
  }
}

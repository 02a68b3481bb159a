import type { CommandStore } from "./store.js";

/**
 * The power limits the hub set on this site's inverters (a grid operator's curtailment, approved
 * at the hub) and the rule that keeps them: **the hub's limit is a ceiling**. While it holds — until
 * its revert timeout passes or the hub releases it — a flow or an installer action may lower an
 * inverter's `power_limit_pct` further (a zero-export flow keeps working below it) but not raise
 * it above the hub's value nor disable the limit (`power_limit_enabled` 0): such a write is
 * refused (`EDGE_ERR_WRITE_REFUSED`, reason `limited-by-hub`), logged and listed as a conflict in
 * the status API. A newer hub command replaces the older one.
 */

/** A hub limit on one device. */
export interface HubLimit {
  deviceId: string;
  limitPct: number;
  commandId: string;
  /** When it falls back (ms since epoch); null: until released. */
  until: number | null;
}

/** A write that met the hub's limit. */
export interface LimitConflict {
  at: number;
  deviceId: string;
  point: string;
  value: number;
  /** Who wrote (a Node-RED node, the installer UI). */
  source: string;
  limitPct: number;
  commandId: string;
}

const CONFLICTS_KEPT = 20;

/**
 * The limits in force after a restart, from the stored commands: per device the newest command
 * that succeeded on it (a limit still within its revert timeout, or none after a release).
 */
export function restoreHubLimits(store: CommandStore, limits: HubLimits, now = Date.now()): void {
  const decided = new Set<string>();
  for (const c of store.recent(1000)) {
    if (c.state !== "succeeded" || (c.type !== "power_limit" && c.type !== "power_limit_release")) continue;
    const devices = Object.keys((c.result as { written?: Record<string, unknown> } | null)?.written ?? {});
    for (const deviceId of devices) {
      if (decided.has(deviceId)) continue;
      decided.add(deviceId);
      if (c.type === "power_limit_release") continue;
      const { limitPct, revertTimeoutS } = c.payload as { limitPct: number; revertTimeoutS: number };
      const until = revertTimeoutS > 0 ? c.at + revertTimeoutS * 1000 : null;
      if (until === null || until > now) limits.set({ deviceId, limitPct, commandId: c.id, until });
    }
  }
}

export class HubLimits {
  private readonly limits = new Map<string, HubLimit>();
  private readonly conflicts: LimitConflict[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  set(limit: HubLimit): void {
    this.limits.set(limit.deviceId, limit);
  }

  release(deviceId: string): void {
    this.limits.delete(deviceId);
  }

  /** The limit in force on a device, if any. */
  of(deviceId: string): HubLimit | undefined {
    const limit = this.limits.get(deviceId);
    if (limit && limit.until !== null && limit.until <= this.now()) {
      this.limits.delete(deviceId);
      return undefined;
    }
    return limit;
  }

  active(): HubLimit[] {
    return [...this.limits.keys()].flatMap((id) => this.of(id) ?? []);
  }

  /**
   * The hub limit a write would break (a limit above the hub's, or the limit disabled), recorded
   * as a conflict; undefined when the write keeps within it.
   */
  breaks(deviceId: string, point: string, value: number, source: string): HubLimit | undefined {
    const limit = this.of(deviceId);
    if (!limit) return undefined;
    const breaking =
      (point === "power_limit_pct" && value > limit.limitPct) || (point === "power_limit_enabled" && value === 0);
    if (!breaking) return undefined;
    this.conflicts.unshift({
      at: this.now(),
      deviceId,
      point,
      value,
      source,
      limitPct: limit.limitPct,
      commandId: limit.commandId,
    });
    this.conflicts.length = Math.min(this.conflicts.length, CONFLICTS_KEPT);
    return limit;
  }

  /** The newest conflicts, newest first. */
  recentConflicts(): LimitConflict[] {
    return [...this.conflicts];
  }
}

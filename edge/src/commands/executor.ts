import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { parse } from "yaml";
import type { WriteResult } from "../acquisition/writes.js";
import { EdgeError, WriteRefusedError } from "../errors.js";
import type { FlowDevice } from "../node-red/flow-api.js";
import type { HubLimits } from "./limits.js";
import type { EdgeCommandState } from "./store.js";

/** What a hub command asks, decoded from the wire. */
export type CommandAction =
  | { type: "power_limit"; devices: string[]; limitPct: number; revertTimeoutS: number }
  | { type: "power_limit_release"; devices: string[] }
  | { type: "diagnostics" }
  | { type: "apply_configuration"; yaml: string; baseVersion: number };

/** How running a command ended. */
export interface CommandOutcome {
  state: Exclude<EdgeCommandState, "received">;
  detail: string;
  result: unknown;
}

/** What the executor works with: the agent's devices and its write path (the one flows use). */
export interface CommandExecutorDeps {
  devices(): FlowDevice[];
  write(deviceId: string, point: string, value: number, options: { source: string }): Promise<WriteResult>;
  /** The edge's status document (diagnostics). */
  status(): unknown;
  /**
   * Checks and applies a site configuration like the file (the configuration store: history
   * author "hub", without a restart); refuses one made to another version than the current.
   */
  applyConfiguration(
    config: unknown,
    baseVersion: number,
    comment: string,
  ): Promise<{ version: number; applied: unknown }>;
  limits: HubLimits;
  log: Logger;
  now?: () => number;
}

/** How long a command waits for inverters still being discovered. */
const DISCOVERY_WAIT_MS = 30_000;
const NOT_READY = "not ready";

const refused = (detail: string): CommandOutcome => ({
  state: "rejected",
  detail: `EDGE_ERR_COMMAND_REFUSED: ${detail}`,
  result: null,
});

/**
 * Runs the hub's commands on the site's devices. A power limit goes to each target inverter
 * (the ones named, or every inverter of the site) through the agent's `PointWriter`s: the revert
 * timeout first, then `power_limit_pct`, then
 * `power_limit_enabled` 1 (the order SunSpec model 123 wants); each write is checked against the
 * profile's bounds and read back. Everything is checked before the first write — an unknown
 * device, one that is no inverter, a point it cannot write, a value outside the profile's bounds
 * — and refused as a whole (`rejected`, nothing written). A write that fails once writing began
 * makes the command `failed`, with what was written on each device in its result. A release sets
 * 100 % and disables the limit. The limits the hub set are kept as ceilings (`HubLimits`).
 */
export class CommandExecutor {
  private readonly now: () => number;

  constructor(private readonly deps: CommandExecutorDeps) {
    this.now = deps.now ?? Date.now;
  }

  /**
   * Runs a command. Inverters whose model chain is still being discovered (the agent just
   * started) are waited for, up to 30 s and never past `notAfter`.
   */
  async run(commandId: string, action: CommandAction, notAfter = Number.POSITIVE_INFINITY): Promise<CommandOutcome> {
    if (action.type === "diagnostics") {
      return { state: "succeeded", detail: "status reported", result: this.deps.status() };
    }
    if (action.type === "apply_configuration") return this.configure(commandId, action.yaml, action.baseVersion);
    let targets = this.targets(action.devices);
    const waitUntil = Math.min(this.now() + DISCOVERY_WAIT_MS, notAfter);
    while (targets === NOT_READY && this.now() < waitUntil) {
      await sleep(200);
      targets = this.targets(action.devices);
    }
    if (targets === NOT_READY) targets = "an inverter's model chain is still not discovered; try again";
    if (typeof targets === "string") return refused(targets);
    const release = action.type === "power_limit_release";
    const plan: Array<{ deviceId: string; point: string; value: number }> = [];
    for (const device of targets) {
      const writable = new Map(device.points.filter((p) => p.write).map((p) => [p.id, p.write] as const));
      const pct = writable.get("power_limit_pct");
      if (!pct) return refused(`${device.id}: power_limit_pct is not writable (profile ${device.profile})`);
      const value = release ? 100 : (action as { limitPct: number }).limitPct;
      if ((pct.min !== null && value < pct.min) || (pct.max !== null && value > pct.max)) {
        return refused(
          `${device.id}: ${value} % is outside the profile's bounds ${pct.min ?? "-∞"}..${pct.max ?? "∞"}`,
        );
      }
      if (pct.refuse.includes(value)) return refused(`${device.id}: ${value} % is refused as unsafe by the profile`);
      if (!release) {
        const revert = writable.get("power_limit_revert_timeout");
        if (!revert)
          return refused(`${device.id}: power_limit_revert_timeout is not writable (profile ${device.profile})`);
        const s = action.revertTimeoutS;
        if ((revert.min !== null && s < revert.min) || (revert.max !== null && s > revert.max)) {
          return refused(
            `${device.id}: a revert timeout of ${s} s is outside the profile's bounds ${revert.min ?? 0}..${revert.max ?? "∞"}`,
          );
        }
        plan.push({ deviceId: device.id, point: "power_limit_revert_timeout", value: s });
      }
      plan.push({ deviceId: device.id, point: "power_limit_pct", value });
      if (writable.has("power_limit_enabled")) {
        plan.push({ deviceId: device.id, point: "power_limit_enabled", value: release ? 0 : 1 });
      }
    }
    const written: Record<string, Record<string, { value: number; readBack: number | null }>> = {};
    for (const step of plan) {
      try {
        const r = await this.deps.write(step.deviceId, step.point, step.value, { source: `hub-command:${commandId}` });
        const device = written[step.deviceId] ?? {};
        device[step.point] = { value: r.value, readBack: r.readBack };
        written[step.deviceId] = device;
      } catch (err) {
        const code = err instanceof EdgeError ? err.code : "EDGE_ERR_INTERNAL";
        const detail = `${code}: ${step.deviceId}/${step.point}: ${(err as Error).message}`;
        // refused before anything was sent to any device: nothing changed
        if (err instanceof WriteRefusedError && Object.keys(written).length === 0) {
          return { state: "rejected", detail, result: { written } };
        }
        return { state: "failed", detail, result: { written } };
      }
    }
    for (const device of targets) {
      if (release) this.deps.limits.release(device.id);
      else {
        const { limitPct, revertTimeoutS } = action as { limitPct: number; revertTimeoutS: number };
        this.deps.limits.set({
          deviceId: device.id,
          limitPct,
          commandId,
          until: this.now() + revertTimeoutS * 1000,
        });
      }
    }
    const what = release ? "power limit released" : `power limited to ${(action as { limitPct: number }).limitPct} %`;
    return { state: "succeeded", detail: `${what} on ${targets.map((d) => d.id).join(", ")}`, result: { written } };
  }

  /** A configuration from the hub: refused when it is no YAML, does not check, or is stale. */
  private async configure(commandId: string, yaml: string, baseVersion: number): Promise<CommandOutcome> {
    let config: unknown;
    try {
      config = parse(yaml);
    } catch (err) {
      return {
        state: "rejected",
        detail: `EDGE_ERR_CONFIG_INVALID: not YAML: ${(err as Error).message}`,
        result: null,
      };
    }
    try {
      const applied = await this.deps.applyConfiguration(config, baseVersion, `hub command ${commandId}`);
      return { state: "succeeded", detail: `configuration version ${applied.version} applied`, result: applied };
    } catch (err) {
      const code = err instanceof EdgeError ? err.code : "EDGE_ERR_INTERNAL";
      const refusedHere = code === "EDGE_ERR_CONFIG_INVALID" || code === "EDGE_ERR_CONFIG_CONFLICT";
      return { state: refusedHere ? "rejected" : "failed", detail: `${code}: ${(err as Error).message}`, result: null };
    }
  }

  /** The inverters a command acts on, or why it cannot. */
  private targets(ids: readonly string[]): FlowDevice[] | string {
    const devices = this.deps.devices().filter((d) => !d.virtual);
    if (ids.length === 0) {
      const inverters = devices.filter((d) => d.class === "inverter");
      if (inverters.some((d) => !d.ready)) return NOT_READY;
      return inverters.length > 0 ? inverters : "the site has no inverter";
    }
    const found: FlowDevice[] = [];
    for (const id of ids) {
      const device = devices.find((d) => d.id === id);
      if (!device) return `no device "${id}" on this edge`;
      if (device.class !== "inverter") return `${id} is a ${device.class}, not an inverter`;
      if (!device.ready) return NOT_READY;
      found.push(device);
    }
    return found;
  }
}

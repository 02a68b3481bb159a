import type { MqttClient } from "mqtt";
import type { Logger } from "pino";
import type { ModbusConnection } from "../acquisition/modbus-connection.js";
import type { EdgeStatus } from "../agent.js";
import type { RollupPeriod, RollupPoint } from "../buffer/rollups.js";
import type { LoadedSite } from "../config/load-site.js";
import type { LiveValues } from "../live-values.js";
import type { EdgeMetrics } from "../metrics.js";

/** One stored version of the site configuration. */
export interface ConfigVersionInfo {
  version: number;
  /** ISO time it was written. */
  at: string;
  /** Username of whoever saved it ("file" for the file found at start, "setup" for first run). */
  author: string;
  comment: string;
}

/** What applying a configuration changed in the running agent. */
export interface AppliedChange {
  /** Devices stopped and started again (changed, or on a changed connection). */
  reopened: string[];
  added: string[];
  removed: string[];
  /** Other parts restarted: "mqtt", "sync". */
  restarted: string[];
}

/**
 * The site configuration as the UI edits it: every change is validated with the file's schema,
 * written atomically, applied to the running agent without a restart and kept as a version.
 */
export interface ConfigControl {
  /** The active configuration as stored (no defaults filled in); `version` 0 = none yet (fresh appliance). */
  current(): { version: number; config: unknown };
  /**
   * Validates, writes and applies `config`. `baseVersion` (from If-Match) must equal the current
   * version. Throws `EDGE_ERR_CONFIG_INVALID` (a `ConfigInvalidError` with `problems`) leaving
   * everything unchanged, `EDGE_ERR_CONFIG_CONFLICT` when `baseVersion` is stale.
   */
  apply(
    config: unknown,
    options: { baseVersion?: number; author: string; comment?: string },
  ): Promise<ConfigVersionInfo & { applied: AppliedChange }>;
  /** Every stored version, newest first. */
  versions(): ConfigVersionInfo[];
  /** One stored version with its YAML text; `EDGE_ERR_NOT_FOUND` when unknown. */
  version(version: number): ConfigVersionInfo & { yaml: string };
  /** Applies an earlier version again as a new version (comment says which). */
  rollback(version: number, author: string): Promise<ConfigVersionInfo & { applied: AppliedChange }>;
}

/** The edge's certificate for the hub link, as the settings page shows it. */
export interface TlsState {
  /** True when mutual TLS files are installed and valid. */
  enrolled: boolean;
  insecureDev: boolean;
  edgeId: string;
  fingerprint: string | null;
  notAfter: string | null;
  hubUrl: string | null;
}

/** Installing a certificate bundle for the hub link. */
export interface TlsControl {
  state(): TlsState;
  /**
   * Checks and installs the PEM files (CA certificate, edge certificate, edge key) into the TLS
   * directory atomically and restarts the link with them. `EDGE_ERR_TLS` when they do not belong
   * together or to this edge.
   */
  install(bundle: { ca: string; cert: string; key: string }): Promise<TlsState>;
}

/** What the HTTP server reads from and does to the running agent. */
export interface EdgeHttpDeps {
  log: Logger;
  metrics: EdgeMetrics;
  /** Holds users.json (installer and viewer accounts). */
  dataDir: string;
  /** The agent's status document (site, devices, buffer, sync). */
  status: () => EdgeStatus;
  /** False while starting or shutting down. */
  ready: () => boolean;
  /** The running site (devices, profiles); empty site before first-run setup. */
  site: () => LoadedSite;
  /** Latest value of every point of every device. */
  live: LiveValues;
  /** Local 1-minute / 15-minute rollups of the buffer. */
  rollups: (query: {
    deviceId: string;
    point: string;
    period: RollupPeriod;
    from: number;
    to: number;
  }) => RollupPoint[];
  config: ConfigControl;
  tls: TlsControl;
  /** The agent's shared connection of a configured Modbus link (test reads go through it). */
  modbusConnection: (connectionId: string) => ModbusConnection | undefined;
  /** The agent's client of a configured MQTT connection (first-message tests go through it). */
  mqttClient: (connectionId: string) => MqttClient | undefined;
  clockSynced: () => boolean;
}

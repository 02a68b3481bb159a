/** Shapes of the edge's HTTP API (see the installer UI contract). */

/** A user's role: installers change things, viewers only look. */
export type Role = "installer" | "viewer";

/** A logged-in user. */
export interface User {
  username: string;
  role: Role;
}

/** GET /api/v1/session. */
export interface Session {
  setupRequired: boolean;
  user: User | null;
  csrfToken: string | null;
  site: string;
}

/** Quality of one reading. */
export type Quality = "good" | "not-implemented" | "stale" | "comm-error" | "out-of-range";

/** A device's health. */
export type DeviceStatus = "unknown" | "ok" | "fault";

/** A device class (nature). */
export type DeviceClass = "inverter" | "meter" | "battery";

/** One decoded value. */
export interface PointValue {
  point: string;
  value: number | null;
  unit: string;
  quality: Quality;
  ts?: number;
}

/** The power flow of the site in W (null: no such device). */
export interface Flow {
  pvW: number | null;
  gridW: number | null;
  batteryW: number | null;
  socPct: number | null;
  houseW: number | null;
}

/** One `snapshot` event of GET /api/v1/live. */
export interface LiveSnapshot {
  ts: number;
  flow: Flow;
  devices: { id: string; class: DeviceClass; profile: string; status: DeviceStatus; values: PointValue[] }[];
}

/** An error with its stable code. */
export interface CodedError {
  code: string;
  message: string;
}

/** A device's poll state in GET /api/v1/status. */
export interface DeviceState {
  status: DeviceStatus;
  since: number;
  lastError: CodedError | null;
  lastCycleMs: number | null;
  requestsPerCycle: number;
  cycles: number;
  failedCycles: number;
  overruns: number;
}

/** GET /api/v1/status. */
export interface EdgeStatus {
  edgeId: string;
  site: string;
  version: string;
  devices: { id: string; profile: string; state: DeviceState }[];
  buffer: {
    depth: number;
    oldestAgeMs: number | null;
    nextSeq: number;
    bytes: number;
    limits: { maxRows?: number; maxBytes?: number; ttlMs?: number; minFreeBytes?: number; policy?: string };
    evicted: Record<string, number>;
    pendingGaps: number;
    recovered: unknown;
  };
  sync: {
    connected: boolean;
    hubUrl: string;
    hubCommittedSeq: number;
    lastAckAt: number | null;
    lastError: CodedError | null;
    reconnects: number;
    inflightBatches: number;
    backfillBelow: number | null;
    backfillBatchSize: number;
    sendRate?: number;
    ackedTotal?: number;
    enabled?: boolean;
  };
  gaps?: { from: number; to: number; reason: string; reported: boolean }[];
  /** The embedded Node-RED editor: its port (at the edge's own host); null or absent when it does not run. */
  nodeRed?: { port: number } | null;
  /** Commands from the hub, the power limits it holds, and writes that met them. */
  commands?: {
    recent: HubCommand[];
    hubLimits: { deviceId: string; limitPct: number; commandId: string; until: number | null }[];
    conflicts: {
      at: number;
      deviceId: string;
      point: string;
      value: number;
      source: string;
      limitPct: number;
      commandId: string;
    }[];
  };
}

/** A command from the hub as the edge keeps it. */
export interface HubCommand {
  id: string;
  type: string;
  payload: Record<string, unknown>;
  notAfter: number;
  receivedAt: number;
  state: "received" | "succeeded" | "failed" | "expired" | "rejected";
  detail: string;
  at: number;
}

/** One row of GET /api/v1/rollups. */
export interface RollupRow {
  t: number;
  count: number;
  avg: number | null;
  min: number | null;
  max: number | null;
  last: number | null;
}

/** One entry of GET /api/v1/profiles. */
export interface ProfileInfo {
  ref: string;
  class: DeviceClass;
  brand: string;
  product: string;
  protocol: string;
  transport: "modbus" | "mqtt";
  vars: string[];
  defaults: { port?: number; unitId?: number };
}

/** A Modbus link as the scan and the test read take it. */
export type ModbusTransport =
  | { type: "tcp" | "rtu-over-tcp"; host: string; port: number }
  | { type: "rtu"; path: string; baudRate: number; parity: "none" | "even" | "odd" };

/** One logical SunSpec device found by a scan. */
export interface ScanFinding {
  manufacturer: string;
  model: string;
  version?: string;
  serialNumber: string;
  class: DeviceClass;
  suggestedProfile: string;
  values?: Record<string, number | null>;
}

/** POST /api/v1/scan. */
export interface ScanResult {
  units: { unitId: number; answers: boolean; sunspec: null | { base: number; devices: ScanFinding[] } }[];
}

/** POST /api/v1/test-read and /api/v1/mqtt-test. */
export interface TestReadResult {
  durationMs?: number;
  requests?: number;
  topic?: string;
  values: PointValue[];
}

/** A connection in the site configuration. */
export interface ConnectionConfig {
  id: string;
  type: "tcp" | "rtu-over-tcp" | "rtu" | "mqtt";
  host?: string;
  port?: number;
  path?: string;
  baudRate?: number;
  parity?: "none" | "even" | "odd";
  url?: string;
  embedded?: boolean;
  username?: string;
  password?: string;
  timeoutMs?: number;
  [key: string]: unknown;
}

/** A device in the site configuration. */
export interface DeviceConfig {
  id: string;
  connection: string;
  unitId?: number;
  profile: string;
  pollIntervalMs?: number;
  vars?: Record<string, string>;
  [key: string]: unknown;
}

/** The site configuration document (same shape as the YAML file). */
export interface SiteConfig {
  site: { name: string };
  hub?: { url?: string };
  connections: ConnectionConfig[];
  devices: DeviceConfig[];
  mqttBroker?: { enabled?: boolean; [key: string]: unknown };
  [key: string]: unknown;
}

/** GET /api/v1/config. */
export interface ConfigDoc {
  version: number;
  config: SiteConfig;
}

/** A stored configuration version. */
export interface ConfigVersion {
  version: number;
  at: string;
  author: string;
  comment: string;
}

/** GET /api/v1/tls. */
export interface TlsState {
  enrolled: boolean;
  insecureDev: boolean;
  edgeId: string;
  fingerprint: string | null;
  notAfter: string | null;
  hubUrl: string | null;
}

/** GET /api/v1/time. */
export interface TimeState {
  now: string | number;
  clockSynced: boolean;
  timeZone: string;
}

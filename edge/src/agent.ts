import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isDeepStrictEqual } from "node:util";
import { GapReason } from "@steinmetz/proto";
import type { Logger } from "pino";
import type { DeviceState } from "./acquisition/device-poller.js";
import { CommitBatcher } from "./buffer/commit-batcher.js";
import { type BufferStats, type NewReading, ReadingBuffer } from "./buffer/reading-buffer.js";
import { systemClockSync } from "./clock.js";
import { CommandExecutor } from "./commands/executor.js";
import { type HubLimit, HubLimits, type LimitConflict, restoreHubLimits } from "./commands/limits.js";
import { CommandStore, type StoredCommand } from "./commands/store.js";
import { ConfigStore } from "./config/config-store.js";
import type { LoadedSite } from "./config/load-site.js";
import type { AppliedChange, ConfigVersionInfo, EdgeHttpDeps } from "./http/deps.js";
import { buildEdgeHttp } from "./http/server.js";
import { LiveValues } from "./live-values.js";
import { createEdgeMetrics } from "./metrics.js";
import { type EdgeFlowApi, FlowApi } from "./node-red/flow-api.js";
import { type EmbeddedNodeRed, startNodeRed } from "./node-red/runtime.js";
import { emptySite, SiteRuntime } from "./site-runtime.js";
import { CommandChannel } from "./sync/command-channel.js";
import type { ForwarderOptions } from "./sync/forwarder.js";
import { HubLink, type SyncStatus } from "./sync/hub-link.js";
import { DeviceInventory, inventoryOf } from "./sync/inventory.js";
import { probeEdgeTls } from "./sync/tls.js";
import { AGENT_VERSION } from "./version.js";

/** How to run an edge agent. */
export interface EdgeAgentOptions {
  /**
   * The site to run (library callers and tests). Without it the agent reads `configFile`; a
   * missing file starts an unconfigured appliance (no devices, no link, HTTP up for setup).
   */
  site?: LoadedSite;
  /**
   * The active site file, rewritten by configuration changes (default `<dataDir>/site.yaml`).
   * When `site` is given too and the file holds another configuration, the file follows `site`.
   */
  configFile?: string;
  /** Holds the buffer (and with it the edge identity and seq high-water mark) and the configuration history. */
  dataDir: string;
  /** host:port of the hub's gRPC endpoint; overrides the configuration's `hub.url` (HUB_URL). */
  hubUrl?: string;
  /**
   * Mutual TLS: the directory with `ca.crt`, `edge.crt` and `edge.key` (`npm run hub -- pki issue`,
   * or installed through the settings page; default `<dataDir>/tls`); the certificate's CN is this
   * edge's id. Without valid files there the link stays off, unless `insecureDev`.
   */
  tlsDir?: string;
  /** Plaintext link to the hub, edge id taken on trust (development only; used when no certificate is installed). */
  insecureDev: boolean;
  httpHost?: string;
  /** 0 picks a free port. */
  httpPort?: number;
  log: Logger;
  clockSynced?: () => boolean;
  /**
   * The embedded Node-RED (flows for technicians), on its own port at `httpHost`. Runs when this
   * is given and `enabled` is not false (`npm run edge` gives it unless `--no-node-red`). Port 0
   * picks a free one; `httpNodeRoot` (e.g. "/endpoints") turns on flows' HTTP-in endpoints.
   * Node-RED is one per process and cannot restart: a second agent in the same process (or one
   * started after another closed) runs without it, logging `EDGE_ERR_NODE_RED`, as when its port
   * is taken. Acquisition and sync never depend on it.
   */
  nodeRed?: { enabled?: boolean; port?: number; httpNodeRoot?: string };
  /** Tuning of the forwarder (tests shorten the backoff). */
  sync?: Pick<
    ForwarderOptions,
    "batch" | "window" | "ackTimeoutMs" | "backoff" | "compression" | "inventoryDebounceMs"
  >;
}

/** A running edge agent. */
export interface EdgeAgent {
  /** This edge's id (it changes once: when an appliance on a generated id installs its first certificate). */
  readonly edgeId: string;
  readonly httpUrl: string;
  status(): EdgeStatus;
  /** What the HTTP layer sees of the agent (configuration, certificate, live values). */
  readonly deps: EdgeHttpDeps;
  /** The running site's acquisition side (tests look at pollers and connections). */
  readonly runtime: SiteRuntime;
  /** What Node-RED flows see of the agent (also usable without Node-RED). */
  readonly flowApi: EdgeFlowApi;
  /** URL of the embedded Node-RED editor and admin API; null when it is not running. */
  readonly nodeRedUrl: string | null;
  /**
   * Stops polling and keeps forwarding until the buffer is empty or `timeoutMs` passed (e.g.
   * before a planned shutdown or an update); resolves with the readings still buffered.
   */
  drain(timeoutMs: number): Promise<number>;
  close(): Promise<void>;
}

/** A gap in the readings as the status page lists it. */
export interface GapStatus {
  /** Acquisition time range of the readings given up (ms since epoch); null when unknown. */
  from: number | null;
  to: number | null;
  /** buffer_full, ttl, disk_low, rejected or buffer_corrupt. */
  reason: string;
  /** True once the hub stored the gap record. */
  reported: boolean;
  firstSeq: number;
  lastSeq: number;
  /** Readings given up; 0 when unknown (a lost buffer). */
  count: number;
}

/** The document at GET /api/v1/status. */
export interface EdgeStatus {
  edgeId: string;
  /** The site's name; empty before first-run setup. */
  site: string;
  /** Version of the configuration in force; 0 before first-run setup. */
  configVersion: number;
  version: string;
  devices: { id: string; profile: string; class: string; state: DeviceState }[];
  buffer: { depth: number; oldestAgeMs: number | null; nextSeq: number } & Pick<
    BufferStats,
    "bytes" | "limits" | "evicted" | "pendingGaps" | "recovered"
  >;
  sync: SyncStatus;
  /** The newest 50 gap records, newest first. */
  gaps: GapStatus[];
  /**
   * Commands from the hub: the newest 20 with their outcome, the power limits the hub holds on
   * inverters (ceilings for flows), and the newest writes that met them.
   */
  commands: { recent: StoredCommand[]; hubLimits: HubLimit[]; conflicts: LimitConflict[] };
  /** The embedded Node-RED's port (the UI links to its editor on the host it was loaded from); null when off. */
  nodeRed: { port: number } | null;
}

const GAP_REASONS: Partial<Record<GapReason, string>> = {
  [GapReason.GAP_REASON_BUFFER_FULL]: "buffer_full",
  [GapReason.GAP_REASON_TTL]: "ttl",
  [GapReason.GAP_REASON_DISK_LOW]: "disk_low",
  [GapReason.GAP_REASON_REJECTED]: "rejected",
  [GapReason.GAP_REASON_BUFFER_CORRUPT]: "buffer_corrupt",
};

/**
 * Starts the edge: reads and checks the site configuration (before anything connects), opens the
 * buffer, starts the site (shared Modbus connections, pollers, the MQTT side), the link to the
 * hub and the HTTP server. Readings of all devices go through one commit path (latest values,
 * then the commit batcher). Configuration changes (`deps.config`) are applied while running
 * without a restart. `close()` stops acquisition first, commits what is waiting, lets the
 * forwarder drain what is in flight, then closes the buffer.
 */
export async function startEdgeAgent(options: EdgeAgentOptions): Promise<EdgeAgent> {
  const { log } = options;
  mkdirSync(options.dataDir, { recursive: true });
  let applySite: (site: LoadedSite, info: ConfigVersionInfo) => Promise<AppliedChange> = async () => {
    throw new Error("the agent is not started yet");
  };
  const store = ConfigStore.open({
    file: options.configFile ?? join(options.dataDir, "site.yaml"),
    historyDir: join(options.dataDir, "config-history"),
    site: options.site,
    log: log.child({ component: "config" }),
    apply: (site, info) => applySite(site, info),
  });
  const initial = store.site();
  if (!initial) log.warn("no site configuration yet: the agent waits for first-run setup");

  const tlsDir = options.tlsDir ?? join(options.dataDir, "tls");
  const probed = probeEdgeTls(tlsDir);
  if (probed.problem)
    log.error({ code: "EDGE_ERR_TLS", problem: probed.problem }, "certificate for the hub link unusable");
  const buffer = ReadingBuffer.open(join(options.dataDir, "buffer.sqlite"), {
    ...(initial?.buffer ?? {}),
    edgeId: probed.tls?.edgeId,
    log: log.child({ component: "buffer" }),
  });
  const metrics = createEdgeMetrics();
  const clockSynced = options.clockSynced ?? systemClockSync();
  const batcher = new CommitBatcher(buffer, log.child({ component: "buffer" }));
  const live = new LiveValues();
  const commit = (device: string, readings: NewReading[]) => {
    live.record(readings);
    batcher.submit(readings);
    metrics.readingsCommitted.inc({ device }, readings.length);
  };
  // The inventory reads the running site; the site signals its changes (reported to the hub).
  const inventory = new DeviceInventory(() => inventoryOf(runtime));
  const runtime = new SiteRuntime({
    log,
    metrics,
    clockSynced,
    commit,
    deadLetter: (entry) => buffer.deadLetter(entry),
    forget: (device) => live.forget(device),
    onInventoryChange: () => inventory.changed(),
  });
  // the hub's power limits hold as ceilings for flows (commands/limits.ts)
  const hubLimits = new HubLimits();
  const flowApi = new FlowApi({ log: log.child({ component: "node-red" }), runtime, commit, clockSynced, hubLimits });
  const commandStore = CommandStore.open(join(options.dataDir, "commands.sqlite"));
  restoreHubLimits(commandStore, hubLimits);
  const commandLog = log.child({ component: "commands" });
  const commands = new CommandChannel({
    store: commandStore,
    executor: new CommandExecutor({
      devices: () => flowApi.devices(),
      write: (device, point, value, writeOptions) => flowApi.write(device, point, value, writeOptions),
      status: () => status(),
      applyConfiguration: async (config, baseVersion, comment) => {
        const { version, applied } = await store.apply(config, { baseVersion, author: "hub", comment });
        return { version, applied };
      },
      limits: hubLimits,
      log: commandLog,
    }),
    edgeId: () => buffer.edgeId,
    log: commandLog,
  });
  batcher.onCommitted = (readings, firstSeq) => flowApi.committed(readings, firstSeq);
  const hubUrlOf = (site: LoadedSite | null) => options.hubUrl ?? site?.config.hub?.url ?? null;
  const link = new HubLink({
    buffer,
    log,
    metrics,
    agentVersion: AGENT_VERSION,
    clockSynced,
    hubUrl: hubUrlOf(initial),
    tlsDir,
    tls: probed.tls,
    tlsProblem: probed.problem,
    insecureDev: options.insecureDev,
    inventory,
    commands,
    configVersion: () => store.current().version,
    tuning: options.sync,
  });

  let closing = false;
  applySite = async (site, info) => {
    if (closing) return { reopened: [], added: [], removed: [], restarted: [] };
    const applied = await runtime.apply(site);
    if (await link.setHubUrl(hubUrlOf(site))) applied.restarted.push("sync");
    if (!isDeepStrictEqual(site.buffer, buffer.stats().limits) && !buffer.updateLimits(site.buffer)) {
      applied.restarted.push("buffer-needs-restart");
    }
    log.info({ version: info.version, author: info.author, ...applied }, "site configuration applied");
    inventory.changed(); // the report carries the new version to the hub
    return applied;
  };

  const classOf = (ref: string) =>
    runtime.current.profiles.get(ref)?.profile.class ??
    runtime.current.mqttProfiles.get(ref)?.profile.class ??
    ref.split("/")[0] ??
    "";
  let ready = false;
  // started after the HTTP server; the status names it once it runs
  let nodeRed: EmbeddedNodeRed | null = null;
  const status = (): EdgeStatus => {
    const stats = buffer.stats();
    return {
      edgeId: buffer.edgeId,
      site: runtime.current.config.site.name,
      configVersion: store.current().version,
      version: AGENT_VERSION,
      devices: runtime.devices().map((p) => ({
        id: p.device.id,
        profile: p.device.profile,
        class: classOf(p.device.profile),
        state: p.state,
      })),
      buffer: {
        depth: stats.depth,
        oldestAgeMs: stats.oldestTs === null ? null : Date.now() - stats.oldestTs,
        nextSeq: stats.nextSeq,
        bytes: stats.bytes,
        limits: stats.limits,
        evicted: stats.evicted,
        pendingGaps: stats.pendingGaps,
        recovered: stats.recovered,
      },
      sync: link.state(),
      gaps: buffer.recentGaps(50).map((g) => ({
        from: g.fromTs || null,
        to: g.toTs || null,
        reason: GAP_REASONS[g.reason] ?? "unknown",
        reported: g.reported,
        firstSeq: g.firstSeq,
        lastSeq: g.lastSeq,
        count: g.count,
      })),
      nodeRed: nodeRed ? { port: nodeRed.port } : null,
      commands: {
        recent: commandStore.recent(20),
        hubLimits: hubLimits.active(),
        conflicts: hubLimits.recentConflicts(),
      },
    };
  };
  metrics.observeBuffer(() => buffer.stats());
  metrics.gauge("edge_sync_connected", "1 while a sync session with the hub is up", (g) =>
    g.set(link.state().connected ? 1 : 0),
  );
  metrics.gauge(
    "edge_device_up",
    "1 when the device's last poll succeeded",
    (g) => {
      g.reset();
      for (const p of runtime.devices()) g.set({ device: p.device.id }, p.state.status === "ok" ? 1 : 0);
    },
    ["device"],
  );

  const deps: EdgeHttpDeps = {
    log,
    metrics,
    dataDir: options.dataDir,
    status,
    ready: () => ready,
    site: () => runtime.current,
    live,
    rollups: (query) => buffer.rollups(query),
    config: store,
    tls: { state: () => link.tlsState(), install: (bundle) => link.install(bundle) },
    modbusConnection: (id) => runtime.connection(id),
    mqttClient: (id) => runtime.mqttClient(id),
    clockSynced,
  };
  await runtime.apply(initial ?? emptySite());
  const http = buildEdgeHttp(deps);
  const host = options.httpHost ?? "127.0.0.1";
  try {
    await http.listen({ host, port: options.httpPort ?? 8080 });
  } catch (err) {
    await runtime.close();
    buffer.close();
    throw err;
  }
  const address = http.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  link.start();
  if (options.nodeRed && options.nodeRed.enabled !== false) {
    try {
      nodeRed = await startNodeRed({
        dataDir: options.dataDir,
        usersFile: join(options.dataDir, "users.json"),
        host,
        port: options.nodeRed.port ?? 1880,
        httpNodeRoot: options.nodeRed.httpNodeRoot ?? false,
        log: log.child({ component: "node-red" }),
        api: flowApi,
      });
    } catch (err) {
      log.error({ err, code: "EDGE_ERR_NODE_RED" }, "Node-RED is not running; acquisition and sync go on");
    }
  }
  ready = true;
  log.info(
    {
      edgeId: buffer.edgeId,
      configVersion: store.current().version,
      devices: runtime.devices().length,
      hubUrl: hubUrlOf(initial),
    },
    "edge agent started",
  );

  return {
    get edgeId() {
      return buffer.edgeId;
    },
    httpUrl: `http://${host}:${port}`,
    status,
    deps,
    runtime,
    flowApi,
    nodeRedUrl: nodeRed?.url ?? null,
    async drain(timeoutMs) {
      await runtime.stopPolling();
      batcher.flush();
      const deadline = Date.now() + timeoutMs;
      while (buffer.stats().depth > 0 && Date.now() < deadline) await sleep(50);
      return buffer.stats().depth;
    },
    async close() {
      ready = false;
      closing = true;
      await store.settled();
      await nodeRed?.close();
      flowApi.close();
      await runtime.close();
      batcher.flush();
      await link.stop();
      await http.close();
      commandStore.close();
      buffer.close();
      log.info("edge agent stopped");
    },
  };
}

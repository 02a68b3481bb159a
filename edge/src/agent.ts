import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { credentials } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { DevicePoller } from "./acquisition/device-poller.js";
import { ModbusConnection } from "./acquisition/modbus-connection.js";
import { CommitBatcher } from "./buffer/commit-batcher.js";
import { type BufferStats, type NewReading, ReadingBuffer } from "./buffer/reading-buffer.js";
import { systemClockSync } from "./clock.js";
import type { LoadedSite } from "./config/load-site.js";
import { EdgeError } from "./errors.js";
import { buildEdgeHttp } from "./http/server.js";
import { createEdgeMetrics } from "./metrics.js";
import { startMqttSite } from "./mqtt/mqtt-site.js";
import { Forwarder, type ForwarderOptions } from "./sync/forwarder.js";
import { loadEdgeTls } from "./sync/tls.js";
import { AGENT_VERSION } from "./version.js";

/** How to run an edge agent. */
export interface EdgeAgentOptions {
  site: LoadedSite;
  /** Holds the buffer (and with it the edge identity and seq high-water mark). */
  dataDir: string;
  /** host:port of the hub's gRPC endpoint. */
  hubUrl: string;
  /**
   * Mutual TLS: the directory with `ca.crt`, `edge.crt` and `edge.key` (`npm run hub -- pki issue`);
   * the certificate's CN is this edge's id.
   */
  tlsDir?: string;
  /** Plaintext link to the hub, edge id taken on trust (development only; used when no tlsDir). */
  insecureDev: boolean;
  httpHost?: string;
  /** 0 picks a free port. */
  httpPort?: number;
  log: Logger;
  clockSynced?: () => boolean;
  /** Tuning of the forwarder (tests shorten the backoff). */
  sync?: Pick<ForwarderOptions, "batch" | "window" | "ackTimeoutMs" | "backoff" | "compression">;
}

/** A running edge agent. */
export interface EdgeAgent {
  readonly edgeId: string;
  readonly httpUrl: string;
  status(): EdgeStatus;
  /**
   * Stops polling and keeps forwarding until the buffer is empty or `timeoutMs` passed (e.g.
   * before a planned shutdown or an update); resolves with the readings still buffered.
   */
  drain(timeoutMs: number): Promise<number>;
  close(): Promise<void>;
}

/** The document at GET /api/v1/status. */
export interface EdgeStatus {
  edgeId: string;
  site: string;
  version: string;
  devices: { id: string; profile: string; state: DevicePoller["state"] }[];
  buffer: { depth: number; oldestAgeMs: number | null; nextSeq: number } & Pick<
    BufferStats,
    "bytes" | "limits" | "evicted" | "pendingGaps" | "recovered"
  >;
  sync: Forwarder["state"];
}

/**
 * Starts the edge: opens the buffer, one shared Modbus connection per configured link and one
 * poller per Modbus device, the MQTT side (embedded broker, clients, devices), the forwarder to
 * the hub and the HTTP server. Readings of all devices go through one commit batcher. `close()`
 * stops acquisition first, commits what is waiting, lets the forwarder drain what is in flight,
 * then closes the buffer.
 */
export async function startEdgeAgent(options: EdgeAgentOptions): Promise<EdgeAgent> {
  const { site, log } = options;
  if (!options.tlsDir && !options.insecureDev) {
    throw new EdgeError("EDGE_ERR_LINK_INSECURE", "no EDGE_TLS_DIR for mutual TLS and no --insecure-dev for plaintext");
  }
  const tls = options.tlsDir ? loadEdgeTls(options.tlsDir) : undefined;
  if (tls) log.info({ edgeId: tls.edgeId, fingerprint: tls.fingerprint }, "hub link with mutual TLS");
  else log.warn("hub link in plaintext (--insecure-dev)");
  mkdirSync(options.dataDir, { recursive: true });
  const buffer = ReadingBuffer.open(join(options.dataDir, "buffer.sqlite"), {
    ...site.buffer,
    edgeId: tls?.edgeId,
    log: log.child({ component: "buffer" }),
  });
  const metrics = createEdgeMetrics();
  const clockSynced = options.clockSynced ?? systemClockSync();
  const batcher = new CommitBatcher(buffer, log.child({ component: "buffer" }));
  const commit = (device: string, readings: NewReading[]) => {
    batcher.submit(readings);
    metrics.readingsCommitted.inc({ device }, readings.length);
  };

  const connections = new Map(
    site.config.connections
      .filter((c) => c.type !== "mqtt")
      .map((c) => [c.id, new ModbusConnection(c, log.child({ component: "modbus", connection: c.id }))]),
  );
  const pollers = site.config.devices
    .filter((device) => connections.has(device.connection))
    .map(
      (device) =>
        new DevicePoller(device, {
          connection: connections.get(device.connection) as ModbusConnection,
          profile: site.profiles.get(device.profile) as NonNullable<ReturnType<typeof site.profiles.get>>,
          log: log.child({ device: device.id }),
          clockSynced,
          commit: (readings) => commit(device.id, readings),
          onCycle: (ok, durationMs, overran) => {
            metrics.pollCycles.inc({ device: device.id, result: ok ? "ok" : "failed" });
            if (ok) metrics.pollDuration.observe({ device: device.id }, durationMs / 1000);
            if (overran) metrics.pollOverruns.inc({ device: device.id });
          },
        }),
    );

  const mqttSite = await startMqttSite(site, {
    log,
    clockSynced,
    commit,
    deadLetter: (entry) => buffer.deadLetter(entry),
    onMalformed: (device) => metrics.mqttMalformed.inc({ device }),
  });

  const forwarder = new Forwarder({
    hubUrl: options.hubUrl,
    credentials: tls?.credentials ?? credentials.createInsecure(),
    buffer,
    log: log.child({ component: "sync" }),
    metrics,
    agentVersion: AGENT_VERSION,
    clockSynced,
    ...options.sync,
  });

  let ready = false;
  const status = (): EdgeStatus => {
    const stats = buffer.stats();
    return {
      edgeId: buffer.edgeId,
      site: site.config.site.name,
      version: AGENT_VERSION,
      devices: [...pollers, ...mqttSite.devices].map((p) => ({
        id: p.device.id,
        profile: p.device.profile,
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
      sync: forwarder.state,
    };
  };
  metrics.observeBuffer(() => buffer.stats());
  metrics.gauge("edge_sync_connected", "1 while a sync session with the hub is up", (g) =>
    g.set(forwarder.state.connected ? 1 : 0),
  );
  metrics.gauge(
    "edge_device_up",
    "1 when the device's last poll succeeded",
    (g) => {
      for (const p of [...pollers, ...mqttSite.devices])
        g.set({ device: p.device.id }, p.state.status === "ok" ? 1 : 0);
    },
    ["device"],
  );

  const http = buildEdgeHttp({ log, metrics, status, ready: () => ready });
  const host = options.httpHost ?? "127.0.0.1";
  await http.listen({ host, port: options.httpPort ?? 8080 });
  const address = http.server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  for (const p of pollers) p.start();
  forwarder.start();
  ready = true;
  log.info({ edgeId: buffer.edgeId, devices: pollers.length, hubUrl: options.hubUrl }, "edge agent started");

  return {
    edgeId: buffer.edgeId,
    httpUrl: `http://${host}:${port}`,
    status,
    async drain(timeoutMs) {
      await Promise.all(pollers.map((p) => p.stop()));
      batcher.flush();
      const deadline = Date.now() + timeoutMs;
      while (buffer.stats().depth > 0 && Date.now() < deadline) await sleep(50);
      return buffer.stats().depth;
    },
    async close() {
      ready = false;
      await Promise.all(pollers.map((p) => p.stop()));
      await mqttSite.close();
      batcher.flush();
      await forwarder.stop();
      await Promise.all([...connections.values()].map((c) => c.close()));
      await http.close();
      buffer.close();
      log.info("edge agent stopped");
    },
  };
}

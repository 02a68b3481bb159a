import { credentials } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { ReadingBuffer } from "../buffer/reading-buffer.js";
import { EdgeError } from "../errors.js";
import type { TlsState } from "../http/deps.js";
import type { EdgeMetrics } from "../metrics.js";
import type { CommandChannel } from "./command-channel.js";
import { Forwarder, type ForwarderOptions, initialSyncState, type SyncState } from "./forwarder.js";
import type { DeviceInventory } from "./inventory.js";
import { checkEdgeTlsBundle, type EdgeTls, type EdgeTlsBundle, installEdgeTls } from "./tls.js";

/** The link to the hub as the status document shows it. */
export interface SyncStatus extends SyncState {
  /** False while the link cannot run: no hub address, or no usable certificate and no --insecure-dev. */
  enabled: boolean;
  /** Why the link is off; null when enabled. */
  disabledReason: string | null;
  /** Readings per second the hub acknowledged over the last 10 s. */
  sendRate: number;
  /** Readings the hub acknowledged since the agent started. */
  ackedTotal: number;
}

/** What the link needs from the agent. */
export interface HubLinkOptions {
  buffer: ReadingBuffer;
  log: Logger;
  metrics: EdgeMetrics;
  agentVersion: string;
  clockSynced: () => boolean;
  /** host:port of the hub; null until configured. */
  hubUrl: string | null;
  /** Where certificates are installed (`ca.crt`, `edge.crt`, `edge.key`). */
  tlsDir: string;
  /** The certificate found at start, or why the one found is unusable. */
  tls: EdgeTls | null;
  tlsProblem: string | null;
  /** Plaintext when no certificate is installed (development only). */
  insecureDev: boolean;
  /** The device inventory reported to the hub in every session and on every change. */
  inventory?: DeviceInventory;
  /** The version of the site configuration in force (told to the hub in every hello). */
  configVersion?: () => number;
  /** The hub's command channel (opened in every session). */
  commands?: CommandChannel;
  tuning?: Pick<
    ForwarderOptions,
    "batch" | "window" | "ackTimeoutMs" | "backoff" | "compression" | "inventoryDebounceMs"
  >;
}

/** Window of `SyncStatus.sendRate`. */
const RATE_WINDOW_MS = 10_000;

/**
 * Owns the forwarder: runs it while the link has a hub address and credentials (mutual TLS, or
 * plaintext under --insecure-dev), and replaces it when the address or the certificate changes.
 * Changes run one at a time.
 */
export class HubLink {
  private forwarder: Forwarder | null = null;
  private hubUrl: string | null;
  private tls: EdgeTls | null;
  private tlsProblem: string | null;
  private readonly acks: { at: number; readings: number }[] = [];
  private ackedTotal = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: HubLinkOptions) {
    this.hubUrl = options.hubUrl;
    this.tls = options.tls;
    this.tlsProblem = options.tlsProblem;
  }

  /** Starts the forwarder when the link can run; logs why not otherwise. */
  start(): void {
    const { log } = this.options;
    const reason = this.disabledReason();
    if (reason) {
      log.warn({ reason }, "link to the hub is off");
      return;
    }
    if (this.tls) log.info({ edgeId: this.tls.edgeId, fingerprint: this.tls.fingerprint }, "hub link with mutual TLS");
    else log.warn("hub link in plaintext (--insecure-dev)");
    this.forwarder = new Forwarder({
      hubUrl: this.hubUrl as string,
      credentials: this.tls?.credentials ?? credentials.createInsecure(),
      buffer: this.options.buffer,
      log: log.child({ component: "sync" }),
      metrics: this.options.metrics,
      agentVersion: this.options.agentVersion,
      clockSynced: this.options.clockSynced,
      onAck: (_lane, _latencyMs, readings) => this.noteAck(readings),
      inventory: this.options.inventory,
      commands: this.options.commands,
      configVersion: this.options.configVersion,
      ...this.options.tuning,
    });
    this.forwarder.start();
  }

  /** Why the link is off; null when it can run. */
  disabledReason(): string | null {
    const reasons: string[] = [];
    if (!this.hubUrl) reasons.push("no hub address: set hub.url in the site configuration (or HUB_URL)");
    if (!this.tls && this.tlsProblem) reasons.push(`the installed certificate is unusable: ${this.tlsProblem}`);
    else if (!this.tls && !this.options.insecureDev) {
      reasons.push(
        "no certificate for the hub link: install one (CA, edge certificate and key) or run with --insecure-dev",
      );
    }
    return reasons.length > 0 ? reasons.join("; ") : null;
  }

  /** Points the link at another hub address; resolves true when the forwarder was restarted or stopped. */
  setHubUrl(hubUrl: string | null): Promise<boolean> {
    return this.serial(async () => {
      if (hubUrl === this.hubUrl) return false;
      const wasRunning = this.forwarder !== null;
      await this.stopForwarder();
      this.hubUrl = hubUrl;
      if (!this.closed) this.start();
      return wasRunning || this.forwarder !== null;
    });
  }

  /**
   * Checks and installs a certificate bundle, then restarts the link with it. The certificate's
   * CN must be this edge's id once that came from a certificate; an appliance still on its
   * generated id takes the CN as its id. Problems are `EDGE_ERR_TLS` and change nothing.
   */
  install(bundle: EdgeTlsBundle): Promise<TlsState> {
    return this.serial(async () => {
      const { buffer, log } = this.options;
      const checked = checkEdgeTlsBundle(bundle);
      if (buffer.identityCertified && checked.edgeId !== buffer.edgeId) {
        throw new EdgeError(
          "EDGE_ERR_TLS",
          `the certificate names edge ${checked.edgeId} but this edge is ${buffer.edgeId}: issue one with npm run hub -- pki issue --edge ${buffer.edgeId}`,
        );
      }
      await this.stopForwarder();
      try {
        const tls = installEdgeTls(this.options.tlsDir, bundle);
        buffer.adoptEdgeId(tls.edgeId);
        this.tls = tls;
        this.tlsProblem = null;
        log.info({ edgeId: tls.edgeId, fingerprint: tls.fingerprint, notAfter: tls.notAfter }, "certificate installed");
      } finally {
        if (!this.closed) this.start();
      }
      return this.tlsState();
    });
  }

  /** The link's status (a placeholder state while the forwarder is not running). */
  state(): SyncStatus {
    const reason = this.disabledReason();
    const base: SyncState = this.forwarder?.state ?? initialSyncState(this.hubUrl ?? "", 0);
    return {
      ...base,
      enabled: reason === null,
      disabledReason: reason,
      sendRate: this.sendRate(),
      ackedTotal: this.ackedTotal,
    };
  }

  /** The certificate as the settings page shows it. */
  tlsState(): TlsState {
    return {
      enrolled: this.tls !== null,
      insecureDev: this.options.insecureDev,
      edgeId: this.options.buffer.edgeId,
      fingerprint: this.tls?.fingerprint ?? null,
      notAfter: this.tls?.notAfter ?? null,
      hubUrl: this.hubUrl,
    };
  }

  /** Stops the forwarder for good (it lets in-flight batches be acknowledged for a moment). */
  stop(): Promise<void> {
    this.closed = true;
    return this.serial(() => this.stopForwarder());
  }

  private async stopForwarder(): Promise<void> {
    const forwarder = this.forwarder;
    this.forwarder = null;
    await forwarder?.stop();
  }

  private noteAck(readings: number): void {
    const now = Date.now();
    this.ackedTotal += readings;
    this.acks.push({ at: now, readings });
    while ((this.acks[0]?.at ?? now) < now - RATE_WINDOW_MS) this.acks.shift();
  }

  private sendRate(): number {
    const since = Date.now() - RATE_WINDOW_MS;
    let sum = 0;
    for (const ack of this.acks) if (ack.at >= since) sum += ack.readings;
    return sum / (RATE_WINDOW_MS / 1000);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

import { type Command, CommandState, type CommandsRequest, type CommandsResponse } from "@steinmetz/proto";
import type pg from "pg";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import {
  applyReport,
  countByTypeAndState,
  type EdgeCommand,
  type CommandState as HubState,
  openCommands,
  recordConfigVersion,
} from "./repository.js";

/** One open Commands stream of an edge (what the gRPC handler gives the dispatcher). */
export interface CommandStream {
  edgeId: string;
  write(message: CommandsResponse): void;
  /** Ends the stream with an error (the command channel of a refused edge). */
  fail(details: string): void;
}

const OUTCOMES: Partial<Record<CommandState, HubState | "delivered">> = {
  [CommandState.COMMAND_STATE_RECEIVED]: "delivered",
  [CommandState.COMMAND_STATE_SUCCEEDED]: "succeeded",
  [CommandState.COMMAND_STATE_FAILED]: "failed",
  [CommandState.COMMAND_STATE_EXPIRED]: "expired",
  [CommandState.COMMAND_STATE_REJECTED]: "rejected",
};

/** The wire form of a command. */
export function toWire(c: EdgeCommand): Command {
  const payload = c.payload as { devices?: string[]; limitPct?: number; revertTimeoutS?: number };
  return {
    commandId: c.id,
    edgeId: c.edgeId,
    notAfterMs: Date.parse(c.notAfter),
    requestedMs: Date.parse(c.createdAt),
    powerLimit:
      c.type === "power_limit"
        ? {
            deviceIds: payload.devices ?? [],
            limitPct: payload.limitPct ?? 100,
            revertTimeoutS: payload.revertTimeoutS ?? 0,
          }
        : undefined,
    powerLimitRelease: c.type === "power_limit_release" ? { deviceIds: payload.devices ?? [] } : undefined,
    diagnostics: c.type === "diagnostics" ? {} : undefined,
    applyConfiguration:
      c.type === "apply_configuration"
        ? { yaml: String(c.payload.yaml ?? ""), baseVersion: Number(c.payload.baseVersion ?? 0) }
        : undefined,
  };
}

/**
 * Delivers commands to the edges connected to this hub process and records their reports. Each
 * open stream gets the edge's open commands (queued or delivered) when it opens — a command sent
 * before a reconnect comes again; the edge recognises it by its id — and every command that
 * becomes due afterwards: one query every `pollMs` (250 ms) for all connected edges, so an
 * approved command leaves within that time. A report on a command of another edge is refused
 * and counted; a report that comes again changes nothing.
 */
export class CommandDispatcher {
  private readonly streams = new Map<CommandStream, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly metrics: { reports: Counter<string>; refused: Counter<string> };
  private countedAt = 0;
  private failing = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: { log: Logger; registry?: Registry; pollMs?: number },
  ) {
    const registers = options.registry ? [options.registry] : [];
    this.metrics = {
      reports: new Counter({
        name: "hub_edge_command_reports_total",
        help: "Edge reports on commands by type and the state they moved the command to (unchanged: a repeat)",
        labelNames: ["type", "state"],
        registers,
      }),
      refused: new Counter({
        name: "hub_edge_command_reports_refused_total",
        help: "Edge reports on commands the edge does not have (another edge's, unknown) or malformed",
        registers,
      }),
    };
    this.counts = new Gauge({
      name: "hub_edge_commands",
      help: "Commands to edges by type and state (refreshed every 15 s)",
      labelNames: ["type", "state"],
      registers,
    });
  }

  private readonly counts: Gauge<string>;

  /** The gauge of commands by type and state, from the database at most every 15 s. */
  private async refreshCounts(): Promise<void> {
    if (Date.now() - this.countedAt < 15_000) return;
    this.countedAt = Date.now();
    const rows = await countByTypeAndState(this.pool);
    this.counts.reset();
    for (const r of rows) this.counts.set({ type: r.type, state: r.state }, r.n);
  }

  /** Starts the delivery loop. */
  start(): void {
    const tick = () => {
      this.polling = this.poll()
        .then(() => {
          if (this.failing) this.options.log.info("command delivery works again");
          this.failing = false;
        })
        .catch((err) => {
          // logged once per outage, not every poll
          if (!this.failing) this.options.log.warn({ err }, "command delivery poll failed; trying again");
          this.failing = true;
        })
        .finally(() => {
          this.polling = undefined;
          if (this.timer) this.timer = setTimeout(tick, this.options.pollMs ?? 250).unref();
        });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  /** A stream opened: its edge's open commands go out at the next poll. */
  open(stream: CommandStream): () => void {
    this.streams.set(stream, new Set());
    this.options.log.debug({ edgeId: stream.edgeId }, "command channel open");
    return () => this.streams.delete(stream);
  }

  /** Applies an edge's report; a refused one is logged and counted. */
  async report(stream: CommandStream, request: CommandsRequest): Promise<void> {
    const report = request.report;
    const state = report ? OUTCOMES[report.state] : undefined;
    const log = this.options.log.child({ edgeId: stream.edgeId, commandId: report?.commandId });
    if (!report || !state || !/^[0-9a-f-]{36}$/.test(report.commandId)) {
      this.metrics.refused.inc();
      log.warn({ state: report?.state }, "malformed command report refused");
      return;
    }
    let result: unknown = null;
    if (report.resultJson) {
      try {
        result = JSON.parse(report.resultJson);
      } catch {
        result = { unparsed: report.resultJson.slice(0, 2000) };
      }
    }
    const moved = await applyReport(this.pool, stream.edgeId, {
      commandId: report.commandId,
      state,
      detail: report.detail.slice(0, 4000) || null,
      result,
    });
    if (!moved) {
      this.metrics.refused.inc();
      log.warn("report on a command this edge does not have refused");
      return;
    }
    this.metrics.reports.inc({ type: moved.type, state: moved.before === moved.after ? "unchanged" : moved.after });
    if (moved.before !== moved.after) {
      const fields = { type: moved.type, from: moved.before, to: moved.after, detail: report.detail || undefined };
      if (moved.after === "failed" || moved.after === "rejected") log.warn(fields, "edge command did not succeed");
      else log.info(fields, "edge command moved on");
    }
  }

  /** Notes the configuration version an edge's hello named (what it runs). */
  noteConfigVersion(edgeId: string, version: number): void {
    recordConfigVersion(this.pool, edgeId, version).catch((err) =>
      this.options.log.warn({ err, edgeId }, "the edge's configuration version was not recorded"),
    );
  }

  /** One delivery round: every open command of a connected edge not yet sent on its stream. */
  private async poll(): Promise<void> {
    await this.refreshCounts().catch((err) => this.options.log.debug({ err }, "command counts not refreshed"));
    if (this.streams.size === 0) return;
    const edges = [...new Set([...this.streams.keys()].map((s) => s.edgeId))];
    const open = await openCommands(this.pool, edges);
    const openIds = new Set(open.map((c) => c.id));
    for (const [stream, sent] of this.streams) {
      for (const id of sent) if (!openIds.has(id)) sent.delete(id); // ended: not to be sent again anyway
      for (const command of open) {
        if (command.edgeId !== stream.edgeId || sent.has(command.id)) continue;
        sent.add(command.id);
        stream.write({ command: toWire(command) });
        this.options.log.info({ edgeId: command.edgeId, commandId: command.id, type: command.type }, "command sent");
      }
    }
  }
}

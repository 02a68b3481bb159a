import { createHash } from "node:crypto";
import { status as grpcStatus, Metadata, type ServiceError } from "@grpc/grpc-js";
import { type Command, CommandState, type CommandsResponse, type EdgeSyncServiceClient } from "@steinmetz/proto";
import type { Logger } from "pino";
import type { CommandAction, CommandExecutor, CommandOutcome } from "../commands/executor.js";
import type { CommandStore, StoredCommand } from "../commands/store.js";

const WIRE_STATES: Record<StoredCommand["state"], CommandState> = {
  received: CommandState.COMMAND_STATE_RECEIVED,
  succeeded: CommandState.COMMAND_STATE_SUCCEEDED,
  failed: CommandState.COMMAND_STATE_FAILED,
  expired: CommandState.COMMAND_STATE_EXPIRED,
  rejected: CommandState.COMMAND_STATE_REJECTED,
};

/** The part of a forwarder session the channel lives in. */
export interface ChannelSession {
  readonly ended: boolean;
  onEnded(fn: () => void): void;
}

/** The action a command carries, or why it carries none the edge knows. */
function actionOf(command: Command): CommandAction | string {
  if (command.powerLimit) {
    const { deviceIds, limitPct, revertTimeoutS } = command.powerLimit;
    return { type: "power_limit", devices: deviceIds, limitPct, revertTimeoutS };
  }
  if (command.powerLimitRelease) return { type: "power_limit_release", devices: command.powerLimitRelease.deviceIds };
  if (command.diagnostics) return { type: "diagnostics" };
  if (command.applyConfiguration) {
    const { yaml, baseVersion } = command.applyConfiguration;
    return { type: "apply_configuration", yaml, baseVersion };
  }
  return "a command this edge does not know (a newer hub?)";
}

/** What the store (and the status API, and the log) keep of an action: a configuration by its hash and size. */
function storedPayload(action: CommandAction): Record<string, unknown> {
  if (action.type !== "apply_configuration") return { ...action };
  const { yaml, ...rest } = action;
  return {
    ...rest,
    yamlSha256: createHash("sha256").update(yaml, "utf8").digest("hex"),
    yamlBytes: Buffer.byteLength(yaml),
  };
}

/**
 * The edge's end of the hub's command channel, opened in every sync session (mutual TLS: only
 * the hub the edge is enrolled with reaches it). Each command is stored before it runs
 * (`CommandStore`) and its outcome before it is reported: RECEIVED, then one of succeeded,
 * failed, expired (it came after its not-after time: not executed), rejected (another edge's id,
 * an action the edge does not know, or refused by the executor before anything was written). A
 * command that comes again — after a reconnect, also after a restart — is answered from the
 * store and not run again. Commands run one at a time, in the order they came; every command and
 * its outcome is logged.
 */
export class CommandChannel {
  private queue: Promise<void> = Promise.resolve();
  private unimplementedLogged = false;

  constructor(
    private readonly deps: {
      store: CommandStore;
      executor: CommandExecutor;
      edgeId: () => string;
      log: Logger;
      now?: () => number;
    },
  ) {
    // a command the agent was running when it stopped ends failed: it is not run a second time
    for (const c of deps.store.unfinished()) {
      deps.store.finish(c.id, "failed", "EDGE_ERR_INTERNAL: the agent stopped while running it", null, this.now());
      deps.log.warn({ commandId: c.id, type: c.type }, "a hub command was interrupted by a restart: failed");
    }
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Opens the channel on the session's client; it closes with the session. */
  attach(client: EdgeSyncServiceClient, session: ChannelSession): void {
    const metadata = new Metadata();
    metadata.set("edge-id", this.deps.edgeId());
    const call = client.commands(metadata);
    let open = true;
    const send = (c: StoredCommand) => {
      if (!open || session.ended) return;
      call.write({
        report: {
          commandId: c.id,
          state: WIRE_STATES[c.state],
          detail: c.detail,
          resultJson: c.result === null ? "" : JSON.stringify(c.result),
          atMs: c.at,
        },
      });
    };
    call.on("data", (response: CommandsResponse) => {
      const command = response.command;
      if (command)
        this.queue = this.queue
          .then(() => this.handle(command, send))
          .catch((err) => this.deps.log.error({ err }, "hub command not handled"));
    });
    call.on("error", (err: ServiceError) => {
      open = false;
      if (err.code === grpcStatus.CANCELLED) return;
      if (err.code === grpcStatus.UNIMPLEMENTED) {
        if (!this.unimplementedLogged) this.deps.log.info("the hub sends no commands (an older hub)");
        this.unimplementedLogged = true;
        return;
      }
      this.deps.log.debug({ err }, "command channel ended");
    });
    call.on("end", () => {
      open = false;
    });
    session.onEnded(() => {
      open = false;
      call.cancel();
    });
  }

  private async handle(command: Command, send: (c: StoredCommand) => void): Promise<void> {
    const { store, log } = this.deps;
    const known = store.get(command.commandId);
    if (known) {
      // sent again (a reconnect, a lost report): the same answers, nothing run twice
      send({ ...known, state: "received", detail: "", result: null, at: known.receivedAt });
      if (known.state !== "received") send(known);
      log.debug({ commandId: known.id, state: known.state }, "hub command sent again: answered from the store");
      return;
    }
    const action = actionOf(command);
    const receivedAt = this.now();
    const type = typeof action === "string" ? "unknown" : action.type;
    store.receive({
      id: command.commandId,
      type,
      payload: typeof action === "string" ? {} : storedPayload(action),
      notAfter: command.notAfterMs,
      receivedAt,
    });
    const received = store.get(command.commandId) as StoredCommand;
    send(received);
    const commandLog = log.child({ commandId: command.commandId, type });
    commandLog.info(
      { payload: received.payload, notAfter: new Date(command.notAfterMs).toISOString() },
      "hub command received",
    );
    let outcome: CommandOutcome;
    if (command.edgeId !== this.deps.edgeId()) {
      outcome = {
        state: "rejected",
        detail: `EDGE_ERR_COMMAND_REFUSED: the command is for edge ${command.edgeId}, this is ${this.deps.edgeId()}`,
        result: null,
      };
    } else if (typeof action === "string") {
      outcome = { state: "rejected", detail: `EDGE_ERR_COMMAND_REFUSED: ${action}`, result: null };
    } else if (receivedAt > command.notAfterMs) {
      outcome = {
        state: "expired",
        detail: `EDGE_ERR_COMMAND_EXPIRED: arrived ${Math.round((receivedAt - command.notAfterMs) / 1000)} s after its not-after time; not executed`,
        result: null,
      };
    } else {
      try {
        outcome = await this.deps.executor.run(command.commandId, action, command.notAfterMs);
      } catch (err) {
        outcome = { state: "failed", detail: `EDGE_ERR_INTERNAL: ${(err as Error).message}`, result: null };
      }
    }
    store.finish(command.commandId, outcome.state, outcome.detail, outcome.result, this.now());
    const fields = { state: outcome.state, detail: outcome.detail };
    if (outcome.state === "succeeded") commandLog.info(fields, "hub command done");
    else commandLog.warn(fields, "hub command not done");
    send(store.get(command.commandId) as StoredCommand);
  }
}

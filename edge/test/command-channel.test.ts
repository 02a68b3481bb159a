/**
 * The edge's end of the hub's command channel against a real gRPC server standing in for the hub
 * (it speaks EdgeSyncService.Commands only): a command for another edge's id is rejected without
 * running, a command sent again is answered from the store (SQLite) and not run twice, also after
 * the agent restarted over the same store.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Server, ServerCredentials, type ServerDuplexStream } from "@grpc/grpc-js";
import {
  type Command,
  type CommandReport,
  CommandState,
  type CommandsRequest,
  type CommandsResponse,
  EdgeSyncServiceClient,
  EdgeSyncServiceService,
} from "@steinmetz/proto";
import pino from "pino";
import t from "tap";
import { CommandExecutor } from "../src/commands/executor.js";
import { HubLimits } from "../src/commands/limits.js";
import { CommandStore } from "../src/commands/store.js";
import { CommandChannel } from "../src/sync/command-channel.js";

const dir = mkdtempSync(join(tmpdir(), "edge-commands-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const log = pino({ level: "silent" });

// the stand-in hub: sends `toSend` on every stream and collects the reports
const reports: CommandReport[] = [];
let toSend: Command[] = [];
const server = new Server();
server.addService(EdgeSyncServiceService, {
  commands: (call: ServerDuplexStream<CommandsRequest, CommandsResponse>) => {
    call.on("data", (req: CommandsRequest) => req.report && reports.push(req.report));
    call.on("error", () => undefined);
    for (const command of toSend) call.write({ command });
  },
} as never);
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
);
t.teardown(() => server.forceShutdown());

const storeFile = join(dir, "commands.sqlite");
let ran = 0;
function channel(store: CommandStore) {
  const executor = new CommandExecutor({
    devices: () => [],
    write: async () => {
      throw new Error("no device here");
    },
    status: () => {
      ran++;
      return { edgeId: "edge-1" };
    },
    applyConfiguration: async () => ({ version: 1, applied: {} }),
    limits: new HubLimits(),
    log,
  });
  return new CommandChannel({ store, executor, edgeId: () => "edge-1", log });
}
/** One session: the channel opens the stream, the hub sends, the session ends after `ms`. */
async function session(ch: CommandChannel, ms = 600) {
  const client = new EdgeSyncServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const enders: (() => void)[] = [];
  const s = { ended: false, onEnded: (fn: () => void) => enders.push(fn) };
  ch.attach(client, s);
  await new Promise((r) => setTimeout(r, ms));
  s.ended = true;
  for (const end of enders) end();
  client.close();
}
const command = (id: string, edgeId: string): Command => ({
  commandId: id,
  edgeId,
  notAfterMs: Date.now() + 60_000,
  requestedMs: Date.now(),
  diagnostics: {},
  powerLimit: undefined,
  powerLimitRelease: undefined,
  applyConfiguration: undefined,
});
const states = () => reports.map((r) => `${r.commandId.slice(0, 2)}:${CommandState[r.state]}`);

t.test("another edge's command is rejected without running; a resent one runs once", async (t) => {
  const store = CommandStore.open(storeFile);
  toSend = [command("aa-foreign", "edge-2"), command("bb-diag", "edge-1")];
  await session(channel(store));
  t.same(states(), [
    "aa:COMMAND_STATE_RECEIVED",
    "aa:COMMAND_STATE_REJECTED",
    "bb:COMMAND_STATE_RECEIVED",
    "bb:COMMAND_STATE_SUCCEEDED",
  ]);
  t.match(reports[1]?.detail, /EDGE_ERR_COMMAND_REFUSED: the command is for edge edge-2, this is edge-1/);
  t.equal(ran, 1, "diagnostics ran once");
  // the hub did not hear the outcome (say) and sends both again in the next session
  reports.length = 0;
  await session(channel(store));
  t.same(
    states(),
    [
      "aa:COMMAND_STATE_RECEIVED",
      "aa:COMMAND_STATE_REJECTED",
      "bb:COMMAND_STATE_RECEIVED",
      "bb:COMMAND_STATE_SUCCEEDED",
    ],
    "the same answers",
  );
  t.equal(ran, 1, "nothing ran again");
  store.close();
});

t.test("after a restart over the same store nothing runs twice either", async (t) => {
  const store = CommandStore.open(storeFile);
  reports.length = 0;
  await session(channel(store));
  t.equal(ran, 1);
  t.match(store.get("bb-diag"), { state: "succeeded", result: { edgeId: "edge-1" } });
  t.match(
    store
      .recent(5)
      .map((c) => c.id)
      .sort(),
    ["aa-foreign", "bb-diag"],
  );
  store.close();
});

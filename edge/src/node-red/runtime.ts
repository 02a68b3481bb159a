/**
 * The embedded Node-RED runtime: the technicians' flow editor on the edge, on its own port,
 * logged in with the edge's own accounts, running our nodes on the agent's data and write path.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import { EdgeError } from "../errors.js";
import { UserStore } from "../http/users.js";
import type { EdgeFlowApi } from "./flow-api.js";

const require = createRequire(import.meta.url);

/** The part of Node-RED's embedding API we use (node-red has no type declarations). */
interface NodeRedModule {
  init(server: Server, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  httpAdmin: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
  httpNode: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
}

/** A Node-RED log message (see @node-red/util/lib/log.js). */
interface NodeRedLogMessage {
  level: number;
  msg: unknown;
  type?: string;
  id?: string;
  name?: string;
  /** Audit events: what happened, and for whom. */
  event?: string;
  user?: { username?: string };
}

/** Options of the embedded Node-RED. */
export interface NodeRedOptions {
  /** Where `node-red/` (userDir: flows, credentials, sessions, credential secret) lives. */
  dataDir: string;
  /** The edge's accounts (`<dataDir>/users.json`), re-read at every login. */
  usersFile: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /**
   * Path of HTTP-in endpoints (e.g. "/endpoints"); off (false) by default: flows cannot open HTTP
   * endpoints on an appliance unless the installer asks for them.
   */
  httpNodeRoot?: string | false;
  log: Logger;
  /** The agent's flow API, handed to our nodes as `RED.settings.steinmetz`. */
  api: EdgeFlowApi;
}

/** A running embedded Node-RED. */
export interface EmbeddedNodeRed {
  readonly url: string;
  readonly port: number;
  /** Stops the flows and the editor. Node-RED cannot start again in this process afterwards. */
  close(): Promise<void>;
}

/** Node-RED is one runtime per process: once started (even if stopped again), never a second one. */
let started = false;

const PINO_LEVEL: Record<number, "fatal" | "error" | "warn" | "info" | "debug" | "trace"> = {
  10: "fatal",
  20: "error",
  30: "warn",
  40: "info",
  50: "debug",
  60: "trace",
};

/**
 * Node-RED's session store arms a timer for the next login's expiry (up to 7 days) that
 * `RED.stop()` never clears (@node-red/editor-api/lib/auth/tokens.js), which would keep a
 * process whose agent closed alive for days. Timers whose callback is its `expireSessions`
 * are unref'd: they still fire while the agent runs, but no longer hold the process.
 */
function unrefSessionExpiryTimers(): void {
  const original = globalThis.setTimeout;
  const wrapped = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const timer = original(callback, ms, ...args);
    if (typeof callback === "function" && callback.name === "expireSessions") timer.unref();
    return timer;
  }) as typeof setTimeout;
  globalThis.setTimeout = Object.assign(wrapped, original);
}

/** The credential secret of the flows' credentials file, made once (0600) and kept. */
export function credentialSecret(userDir: string): string {
  const file = join(userDir, "credential-secret");
  try {
    return readFileSync(file, "utf8").trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const secret = randomBytes(32).toString("hex");
  try {
    writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: "wx" });
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return readFileSync(file, "utf8").trim();
    throw err;
  }
}

/** The edge's account as a Node-RED admin user: installers may do everything, viewers only look. */
function adminUser(user: { username: string; role: string } | null | undefined) {
  if (!user) return null;
  return { username: user.username, permissions: user.role === "installer" ? "*" : "read" };
}

/**
 * Starts Node-RED on its own HTTP server at `host:port`, set up as an appliance: the editor and
 * admin API need a login with an edge account (installer: everything, viewer: read-only; no
 * default user, so an edge without accounts lets nobody in), HTTP-in endpoints off unless
 * `httpNodeRoot` is given, projects, palette installs, function-node module installs,
 * diagnostics, the runtime stop/start API and telemetry off, every log line (and the audit of
 * admin actions) to the agent's pino logger, nothing on the console. Flows, credentials
 * (encrypted with a secret generated once into `node-red/credential-secret`, 0600) and
 * sessions live under `<dataDir>/node-red/`. Our nodes (`@steinmetz/node-red-nodes`) are loaded
 * from the workspace package, with its example flows under Import → Examples.
 *
 * Node-RED is a process-wide singleton that cannot be restarted: a second call in the same
 * process throws `EDGE_ERR_NODE_RED`, as does a port in use.
 */
export async function startNodeRed(options: NodeRedOptions): Promise<EmbeddedNodeRed> {
  const log = options.log;
  if (started) {
    throw new EdgeError(
      "EDGE_ERR_NODE_RED",
      "Node-RED already ran in this process (one runtime per process, not restartable)",
    );
  }
  started = true;
  unrefSessionExpiryTimers();
  const userDir = join(options.dataDir, "node-red");
  mkdirSync(userDir, { recursive: true, mode: 0o700 });
  const RED = require("node-red") as NodeRedModule;
  const nodesPackage = dirname(require.resolve("@steinmetz/node-red-nodes/package.json"));
  const nodeRoot = options.httpNodeRoot ?? false;

  const server = createServer((req, res) => {
    const notFound = (err?: unknown) => {
      if (err) log.warn({ err }, "Node-RED HTTP request failed");
      if (res.headersSent) return void res.end();
      res.writeHead(err ? 500 : 404, { "content-type": "text/plain" }).end(err ? "error" : "not found");
    };
    const url = req.url ?? "/";
    if (nodeRoot && (url === nodeRoot || url.startsWith(`${nodeRoot}/`) || url.startsWith(`${nodeRoot}?`))) {
      req.url = url.slice(nodeRoot.length) || "/";
      RED.httpNode(req, res, notFound);
    } else RED.httpAdmin(req, res, notFound);
  });

  const level = log.isLevelEnabled("debug") ? (log.isLevelEnabled("trace") ? "trace" : "debug") : "info";
  const settings: Record<string, unknown> = {
    userDir,
    flowFile: "flows.json",
    flowFilePretty: true,
    credentialSecret: credentialSecret(userDir),
    nodesDir: [nodesPackage],
    httpAdminRoot: "/",
    httpNodeRoot: nodeRoot,
    adminAuth: {
      type: "credentials",
      // Read the edge's users.json at every call: accounts made or deleted in the edge UI apply at once.
      users: async (username: string) => adminUser(new UserStore(options.usersFile).get(username)),
      authenticate: async (username: string, password: string) =>
        typeof username === "string" && typeof password === "string"
          ? adminUser(await new UserStore(options.usersFile).verify(username, password))
          : null,
    },
    editorTheme: {
      page: { title: "SteinmetZ Edge · Node-RED" },
      header: { title: "SteinmetZ Edge · Node-RED" },
      projects: { enabled: false },
      tours: false,
      multiplayer: { enabled: false },
    },
    externalModules: {
      autoInstall: false,
      palette: { allowInstall: false, allowUpdate: false, allowUpload: false },
      modules: { allowInstall: false },
    },
    functionExternalModules: false,
    diagnostics: { enabled: false, ui: false },
    runtimeState: { enabled: false, ui: false },
    telemetry: { enabled: false, updateNotification: false },
    exportGlobalContextKeys: false,
    logging: {
      steinmetz: {
        level,
        audit: true,
        metrics: false,
        handler: () => (msg: NodeRedLogMessage) => {
          if (msg.level === 98) {
            log.info({ audit: msg.event, user: msg.user?.username }, "Node-RED admin action");
            return;
          }
          const method = PINO_LEVEL[msg.level] ?? "info";
          const node = msg.type ? { node: { type: msg.type, id: msg.id, name: msg.name } } : {};
          if (msg.msg instanceof Error) log[method]({ ...node, err: msg.msg }, msg.msg.message);
          else log[method](node, typeof msg.msg === "string" ? msg.msg : JSON.stringify(msg.msg));
        },
      },
    },
    steinmetz: options.api,
  };

  try {
    RED.init(server, settings);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    await RED.start();
  } catch (err) {
    server.close();
    throw new EdgeError("EDGE_ERR_NODE_RED", `Node-RED could not start: ${(err as Error).message}`, { cause: err });
  }
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const url = `http://${options.host}:${port}`;
  log.info({ url, userDir, httpNodeRoot: nodeRoot }, "Node-RED started");
  return {
    url,
    port,
    async close() {
      try {
        await RED.stop();
      } catch (err) {
        log.warn({ err }, "Node-RED did not stop cleanly");
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      log.info("Node-RED stopped");
    },
  };
}

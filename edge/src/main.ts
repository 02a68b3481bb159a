/**
 * `npm run edge -- [--config SITE.yaml] [--insecure-dev] [--no-node-red]`
 * The site file (default `$EDGE_DATA_DIR/site.yaml`) may not exist yet: the agent then starts
 * unconfigured and waits for first-run setup in its web UI, which writes the file.
 * Env: EDGE_DATA_DIR (.data/edge), EDGE_TLS_DIR (ca.crt, edge.crt, edge.key for mutual TLS; default
 * `$EDGE_DATA_DIR/tls`; without valid files there the link stays off unless --insecure-dev), HUB_URL
 * (overrides the config's hub.url; without either the link stays off), EDGE_HTTP_PORT (8080),
 * EDGE_HTTP_HOST (127.0.0.1), EDGE_NODE_RED_PORT (1880; the embedded Node-RED, off with --no-node-red), LOG_LEVEL (info).
 *
 * `npm run edge -- scan --host H [--port 502] [--unit-ids 1,126] [--timeout-ms 1000]` probes a bus
 * and prints JSON (see scan.ts). `npm run edge -- hash-password` hashes a broker password from stdin.
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { startEdgeAgent } from "./agent.js";
import { EdgeError } from "./errors.js";
import { hashPassword } from "./mqtt/password.js";
import { scan } from "./scan.js";

// Logs go to stderr so that command output (scan JSON) on stdout stays clean.
const log = pino({ name: "edge", level: process.env.LOG_LEVEL ?? "info" }, pino.destination(2));

function fail(message: string, exitCode: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(exitCode);
}

if (process.argv[2] === "scan") await runScan(process.argv.slice(3));
if (process.argv[2] === "hash-password") await runHashPassword();

/** `npm run edge -- hash-password` reads a password from stdin and prints its hash for mqttBroker.users. */
async function runHashPassword(): Promise<never> {
  let input = "";
  for await (const chunk of process.stdin) input += chunk;
  const password = input.replace(/\r?\n$/, "");
  if (password.length < 8) fail("edge hash-password: give a password of at least 8 characters on stdin", 2);
  process.stdout.write(`${hashPassword(password)}\n`);
  process.exit(0);
}

async function runScan(argv: string[]): Promise<never> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        host: { type: "string" },
        port: { type: "string", default: "502" },
        "unit-ids": { type: "string", default: "1,126" },
        "timeout-ms": { type: "string", default: "1000" },
        "rtu-over-tcp": { type: "boolean", default: false },
        serial: { type: "string" },
        baud: { type: "string", default: "9600" },
        parity: { type: "string", default: "none" },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail(`edge scan: ${(err as Error).message}`, 2);
  }
  const unitIds = String(values["unit-ids"]).split(",").map(Number);
  const port = Number(values.port);
  const parity = String(values.parity);
  const usage =
    "usage: npm run edge -- scan (--host H [--port 502] [--rtu-over-tcp] | --serial DEV [--baud 9600] [--parity none|even|odd]) [--unit-ids 1,126] [--timeout-ms 1000]";
  if (unitIds.some((u) => !Number.isInteger(u) || u < 0 || u > 255)) fail(usage, 2);
  let transport: Parameters<typeof scan>[0]["transport"];
  if (typeof values.serial === "string") {
    if (parity !== "none" && parity !== "even" && parity !== "odd") fail(usage, 2);
    transport = { type: "rtu", path: values.serial, baudRate: Number(values.baud), parity };
  } else {
    if (typeof values.host !== "string" || !Number.isInteger(port)) fail(usage, 2);
    transport = { type: values["rtu-over-tcp"] ? "rtu-over-tcp" : "tcp", host: values.host, port };
  }
  const result = await scan({
    transport,
    unitIds,
    timeoutMs: Number(values["timeout-ms"]),
    log: log.child({ component: "scan" }),
  }).catch((err) => fail(`edge scan: ${err instanceof EdgeError ? `${err.code}: ` : ""}${(err as Error).message}`, 1));
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.exit(0);
}

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      config: { type: "string", short: "c" },
      "insecure-dev": { type: "boolean", default: false },
      "no-node-red": { type: "boolean", default: false },
    },
    strict: true,
  });
}
try {
  args = parse();
} catch (err) {
  fail(
    `edge: ${(err as Error).message}\nusage: npm run edge -- [--config SITE.yaml] [--insecure-dev] [--no-node-red]`,
    2,
  );
}

try {
  const dataDir = resolve(process.env.EDGE_DATA_DIR ?? ".data/edge");
  const agent = await startEdgeAgent({
    configFile: args.values.config ? resolve(args.values.config) : undefined,
    dataDir,
    hubUrl: process.env.HUB_URL || undefined,
    tlsDir: resolve(process.env.EDGE_TLS_DIR || join(dataDir, "tls")),
    insecureDev: args.values["insecure-dev"],
    httpHost: process.env.EDGE_HTTP_HOST ?? "127.0.0.1",
    httpPort: Number(process.env.EDGE_HTTP_PORT ?? 8080),
    nodeRed: { enabled: !args.values["no-node-red"], port: Number(process.env.EDGE_NODE_RED_PORT ?? 1880) },
    log,
  });
  log.info({ status: `${agent.httpUrl}/api/v1/status` }, "edge ready");
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    await agent.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
} catch (err) {
  if (err instanceof EdgeError && !err.retryable) fail(`edge: ${err.code}: ${err.message}`, 2);
  log.fatal({ err }, "edge failed to start");
  process.exit(1);
}

/**
 * `npm run edge -- --config SITE.yaml [--insecure-dev]`
 * Env: EDGE_DATA_DIR (.data/edge), HUB_URL (else the config's hub.url), EDGE_HTTP_PORT (8080),
 * EDGE_HTTP_HOST (127.0.0.1), LOG_LEVEL (info).
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { startEdgeAgent } from "./agent.js";
import { loadSiteFile } from "./config/load-site.js";
import { EdgeError } from "./errors.js";

const log = pino({ name: "edge", level: process.env.LOG_LEVEL ?? "info" });

function fail(message: string, exitCode: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(exitCode);
}

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      config: { type: "string", short: "c" },
      "insecure-dev": { type: "boolean", default: false },
    },
    strict: true,
  });
}
try {
  args = parse();
} catch (err) {
  fail(`edge: ${(err as Error).message}\nusage: npm run edge -- --config SITE.yaml [--insecure-dev]`, 2);
}
if (!args.values.config) fail("edge: --config SITE.yaml is required", 2);

try {
  const site = loadSiteFile(resolve(args.values.config));
  const hubUrl = process.env.HUB_URL ?? site.config.hub?.url;
  if (!hubUrl) fail("edge: no hub address: set HUB_URL or hub.url in the site configuration", 2);
  const agent = await startEdgeAgent({
    site,
    dataDir: resolve(process.env.EDGE_DATA_DIR ?? ".data/edge"),
    hubUrl,
    insecureDev: args.values["insecure-dev"],
    httpHost: process.env.EDGE_HTTP_HOST ?? "127.0.0.1",
    httpPort: Number(process.env.EDGE_HTTP_PORT ?? 8080),
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

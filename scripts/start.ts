/**
 * `npm start`: the demo. Hub (with embedded PostgreSQL unless DATABASE_URL is set), a simulated
 * SunSpec inverter and an edge agent polling it, all on 127.0.0.1, in this one process (PostgreSQL
 * is its child). Ctrl-C stops everything in order; a second start over the same data directories
 * continues where the first stopped (same edge identity, seq continues), also after SIGKILL.
 * The edge link uses mutual TLS: the demo creates the hub CA (HUB_DATA_DIR/pki) and the edge's
 * certificate (EDGE_DATA_DIR/tls) on first start, as `npm run hub -- pki init|issue` would.
 *
 * Env: DATABASE_URL, HUB_DATA_DIR (.data/hub), EDGE_DATA_DIR (.data/edge), SIM_DATA_DIR (.data/sim),
 * HUB_HTTP_PORT (3000), HUB_GRPC_PORT (50051), EDGE_HTTP_PORT (8080), SIM_PORT (5020),
 * SIM_SPEED (60: a simulated day in 24 minutes), LOG_LEVEL (info).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type EdgeAgent, loadEdgeTls, ReadingBuffer, startEdgeAgent } from "@steinmetz/edge";
import { type Hub, initPki, issueEdgeCertificate, pkiDirOf, seedDemoCompany, startHub } from "@steinmetz/hub";
import { type SunSpecInverterSim, startSunSpecInverterSim } from "@steinmetz/sim";
import pino from "pino";
import { isMap, isSeq, parseDocument, stringify } from "yaml";

const env = process.env;
const log = pino({ name: "demo", level: env.LOG_LEVEL ?? "info" });
const port = (name: string, fallback: number) => Number(env[name] ?? fallback);
const hubDataDir = resolve(env.HUB_DATA_DIR ?? ".data/hub");
const edgeDataDir = resolve(env.EDGE_DATA_DIR ?? ".data/edge");
const simDataDir = resolve(env.SIM_DATA_DIR ?? ".data/sim");
/** The serial number the simulated inverter reports, and the demo company's site device carries. */
const DEMO_INVERTER_SERIAL = "SIM0000001";

let hub: Hub | undefined;
let sim: SunSpecInverterSim | undefined;
let edge: EdgeAgent | undefined;
let stopping = false;

async function stop(signal: string, code = 0): Promise<never> {
  if (!stopping) {
    stopping = true;
    log.info({ signal }, "stopping the demo");
    await edge?.close();
    await sim?.close();
    await hub?.close();
  }
  process.exit(code);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));

/** The hub CA and this edge's certificate, created when missing or not matching the edge's id. */
async function provisionTls(): Promise<{ tlsDir: string; edgeId: string }> {
  const pkiDir = pkiDirOf(hubDataDir);
  if (!existsSync(join(pkiDir, "ca.crt"))) await initPki(pkiDir);
  mkdirSync(edgeDataDir, { recursive: true });
  const buffer = ReadingBuffer.open(join(edgeDataDir, "buffer.sqlite")); // the edge's identity
  const edgeId = buffer.edgeId;
  buffer.close();
  const tlsDir = join(edgeDataDir, "tls");
  let current: string | undefined;
  try {
    current = loadEdgeTls(tlsDir).edgeId;
  } catch {}
  if (current !== edgeId) {
    await issueEdgeCertificate(pkiDir, edgeId, tlsDir);
    log.info({ edgeId, tlsDir }, "issued the demo edge's certificate");
  }
  return { tlsDir, edgeId };
}

/**
 * Points the demo's simulator link (`inverter-lan`), if the site still has it, at the simulator's
 * address of this run (SIM_PORT=0 picks a new port each start); the rest of the file stays as the
 * web UI left it.
 */
function followSimulator(siteFile: string, simulator: SunSpecInverterSim): void {
  const doc = parseDocument(readFileSync(siteFile, "utf8"));
  const connections = doc.get("connections");
  if (!isSeq(connections)) return;
  const link = connections.items.find((c) => isMap(c) && c.get("id") === "inverter-lan");
  if (!isMap(link) || (link.get("host") === simulator.host && link.get("port") === simulator.port)) return;
  link.set("host", simulator.host);
  link.set("port", simulator.port);
  writeFileSync(siteFile, doc.toString(), { mode: 0o600 });
}

try {
  const { tlsDir, edgeId } = await provisionTls();
  hub = await startHub({
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: hubDataDir,
    httpPort: port("HUB_HTTP_PORT", 3000),
    grpcPort: port("HUB_GRPC_PORT", 50051),
    insecureDev: false,
    log: log.child({ app: "hub" }),
  });
  // A small company around the demo site, on the first start only; its inverter's serial number is
  // the one the simulator reports, so the hub links it to the edge's telemetry by itself.
  if (await seedDemoCompany(hub.pool, { edgeId, inverterSerial: DEMO_INVERTER_SERIAL })) {
    log.info("seeded the demo company (customers, site, stock, a project, bookings, a ticket)");
  }
  mkdirSync(simDataDir, { recursive: true });
  sim = await startSunSpecInverterSim({
    port: port("SIM_PORT", 5020),
    speed: Number(env.SIM_SPEED ?? 60),
    stateFile: join(simDataDir, "inverter.json"),
    serialNumber: DEMO_INVERTER_SERIAL,
  });

  // The edge reads its site from a file, as in the field; the demo writes one for the simulator on
  // first start only, so changes made in the edge's web UI (which rewrites the file) survive a restart.
  mkdirSync(edgeDataDir, { recursive: true });
  const siteFile = join(edgeDataDir, "demo-site.yaml");
  if (existsSync(siteFile)) followSimulator(siteFile, sim);
  else {
    writeFileSync(
      siteFile,
      stringify({
        site: { name: "Demo site" },
        connections: [{ id: "inverter-lan", type: "tcp", host: sim.host, port: sim.port, timeoutMs: 1000 }],
        devices: [
          {
            id: "inverter-1",
            connection: "inverter-lan",
            unitId: sim.unitId,
            profile: "inverter/sunspec-inverter-tcp",
          },
        ],
      }),
      { mode: 0o600 },
    );
  }
  edge = await startEdgeAgent({
    configFile: siteFile,
    dataDir: edgeDataDir,
    hubUrl: `127.0.0.1:${hub.grpcPort}`,
    tlsDir,
    insecureDev: false,
    httpPort: port("EDGE_HTTP_PORT", 8080),
    log: log.child({ app: "edge" }),
  });

  process.stdout.write(
    [
      "",
      "SteinmetZ demo is running on 127.0.0.1:",
      `  hub readings  ${hub.httpUrl}/api/v1/readings?edge=${edge.edgeId}&point=active_power&limit=20`,
      `  hub edges     ${hub.httpUrl}/api/v1/edges`,
      `  hub API docs  ${hub.httpUrl}/api/docs`,
      `  hub health    ${hub.httpUrl}/health`,
      "  hub login     the hub API needs a login; there is no default user. Create the first admin",
      "                (password on stdin, at least 12 characters; works while the demo runs):",
      "                  npm run hub -- admin create --email you@example.com",
      `                then POST ${hub.httpUrl}/api/v1/auth/login {"email","password"} → { token } for`,
      "                Authorization: Bearer <token> (or the hub_session cookie it sets)",
      `  edge UI       ${edge.httpUrl}/  (first visit: choose the installer password; there is no default)`,
      `  edge API      ${edge.httpUrl}/api/v1/openapi.json (after login)`,
      `  edge metrics  ${edge.httpUrl}/metrics`,
      `  inverter sim  modbus tcp ${sim.host}:${sim.port} unit ${sim.unitId}`,
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );
} catch (err) {
  log.fatal({ err }, "demo failed to start");
  await stop("startup failure", 1);
}

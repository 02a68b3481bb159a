/**
 * `npm start`: the demo. Hub (with embedded PostgreSQL unless DATABASE_URL is set), a simulated
 * PV site and an edge agent reading it, all on 127.0.0.1, in this one process (PostgreSQL is its
 * child). The site: a SunSpec inverter with a writable power limit (model 123) and the grid meter
 * behind it, a SunSpec battery, and a Shelly Pro 3EM on the heat pump's circuit publishing to the
 * edge's embedded MQTT broker, all driven by one simulated clock so that the grid meter reads
 * load − PV − battery discharge. The edge runs its embedded Node-RED.
 * Ctrl-C stops everything in order; a second start over the same data directories continues
 * where the first stopped (same edge identity, seq continues, counters and the battery's charge
 * kept), also after SIGKILL. The edge link uses mutual TLS: the demo creates the hub CA
 * (HUB_DATA_DIR/pki) and the edge's certificate (EDGE_DATA_DIR/tls) on first start, as
 * `npm run hub -- pki init|issue` would.
 *
 * Env: DATABASE_URL, HUB_DATA_DIR (.data/hub), EDGE_DATA_DIR (.data/edge), SIM_DATA_DIR (.data/sim),
 * HUB_HTTP_PORT (3000), HUB_GRPC_PORT (50051), EDGE_HTTP_PORT (8080), EDGE_MQTT_PORT (1883),
 * NODE_RED_PORT (1880), SIM_PORT (5020), SIM_BATTERY_PORT (5021), SIM_SPEED (60: a simulated day
 * in 24 minutes), LOG_LEVEL (info). A port of 0 picks a free one.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type EdgeAgent, loadEdgeTls, ReadingBuffer, startEdgeAgent } from "@steinmetz/edge";
import { type Hub, initPki, issueEdgeCertificate, pkiDirOf, seedDemoCompany, startHub } from "@steinmetz/hub";
import { findFreePort, type ShellyPro3emSim, type SimSite, startSimSite } from "@steinmetz/sim";
import pino from "pino";
import { isMap, isSeq, parseDocument, stringify, type YAMLMap } from "yaml";
import { hashPassword, verifyPassword } from "../edge/src/mqtt/password.js";

const env = process.env;
const log = pino({ name: "demo", level: env.LOG_LEVEL ?? "info" });
const port = (name: string, fallback: number) => Number(env[name] ?? fallback);
const hubDataDir = resolve(env.HUB_DATA_DIR ?? ".data/hub");
const edgeDataDir = resolve(env.EDGE_DATA_DIR ?? ".data/edge");
const simDataDir = resolve(env.SIM_DATA_DIR ?? ".data/sim");
/** The serial number the simulated inverter reports, and the demo company's site device carries. */
const DEMO_INVERTER_SERIAL = "SIM0000001";
/** The simulated Shelly's topic prefix (its device id) and its account on the edge's broker. */
const HEAT_PUMP_METER_PREFIX = "shellypro3em-0cb815fc5e01";
const HEAT_PUMP_METER_USER = "shelly-heat-pump";
/** Ids of the demo's links in the site file, followed to this run's simulator ports at every start. */
const INVERTER_LINK = "inverter-lan";
const BATTERY_LINK = "battery-lan";

let hub: Hub | undefined;
let site: SimSite | undefined;
let heatPumpMeter: ShellyPro3emSim | undefined;
let edge: EdgeAgent | undefined;
let stopping = false;

async function stop(signal: string, code = 0): Promise<never> {
  if (!stopping) {
    stopping = true;
    log.info({ signal }, "stopping the demo");
    await heatPumpMeter?.close(); // while the edge's broker still runs: a clean disconnect
    await edge?.close();
    await site?.close();
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

/** An account on the edge's embedded broker. */
interface MqttAccount {
  username: string;
  password: string;
}

/**
 * The simulated Shelly's broker account: a random password made on the first start and kept in
 * SIM_DATA_DIR (mode 0600), as a device keeps its credentials; the site file holds only its hash.
 */
function heatPumpMeterAccount(): MqttAccount {
  const file = join(simDataDir, "mqtt-account.json");
  try {
    const saved = JSON.parse(readFileSync(file, "utf8")) as Partial<MqttAccount>;
    if (saved.username === HEAT_PUMP_METER_USER && typeof saved.password === "string" && saved.password.length >= 16) {
      return { username: saved.username, password: saved.password };
    }
  } catch {}
  const account = { username: HEAT_PUMP_METER_USER, password: randomBytes(18).toString("base64url") };
  writeFileSync(file, `${JSON.stringify(account)}\n`, { mode: 0o600 });
  return account;
}

/** Where this run's simulated devices and the edge's broker are. */
interface DemoAddresses {
  /** Modbus TCP links of the site file by id, with their simulator's address. */
  links: Record<string, { host: string; port: number }>;
  mqttPort: number;
  account: MqttAccount;
}

/** The demo's site file, written on the first start: every simulated device, the broker with the Shelly's account. */
function demoSite(at: DemoAddresses): string {
  const inverter = at.links[INVERTER_LINK];
  const battery = at.links[BATTERY_LINK];
  return stringify({
    site: { name: "Demo site" },
    mqttBroker: {
      enabled: true,
      host: "127.0.0.1",
      port: at.mqttPort,
      users: [{ username: at.account.username, passwordHash: hashPassword(at.account.password) }],
    },
    connections: [
      { id: INVERTER_LINK, type: "tcp", host: inverter?.host, port: inverter?.port, timeoutMs: 1000 },
      { id: BATTERY_LINK, type: "tcp", host: battery?.host, port: battery?.port, timeoutMs: 1000 },
      { id: "local-mqtt", type: "mqtt", embedded: true },
    ],
    devices: [
      { id: "inverter-1", connection: INVERTER_LINK, unitId: 1, profile: "inverter/sunspec-inverter-tcp" },
      // The grid meter is the second logical device (its own model 1) in the inverter's SunSpec chain.
      { id: "grid-meter", connection: INVERTER_LINK, unitId: 1, profile: "meter/sunspec-meter-tcp" },
      { id: "battery-1", connection: BATTERY_LINK, unitId: 1, profile: "battery/sunspec-battery-tcp" },
      {
        id: "heat-pump",
        connection: "local-mqtt",
        profile: "meter/shelly-pro3em-mqtt",
        // a load inside the house, not the grid connection
        role: "consumer",
        vars: { prefix: HEAT_PUMP_METER_PREFIX },
      },
    ],
  });
}

/**
 * Points the demo's simulator links (`inverter-lan`, `battery-lan`), where the site still has
 * them, at this run's simulators (a port of 0 picks a new one each start), and the embedded
 * broker, while it still has the Shelly's account, at this run's port and the account's password
 * (kept in SIM_DATA_DIR; a new one after that directory was wiped). The rest of the file stays as
 * the web UI left it; the file is rewritten only when something changed.
 */
function followSimulators(siteFile: string, at: DemoAddresses): void {
  const doc = parseDocument(readFileSync(siteFile, "utf8"));
  let changed = false;
  const set = (node: YAMLMap, key: string, value: unknown) => {
    if (node.get(key) === value) return;
    node.set(key, value);
    changed = true;
  };
  const connections = doc.get("connections");
  for (const link of isSeq(connections) ? connections.items : []) {
    const sim = isMap(link) ? at.links[String(link.get("id"))] : undefined;
    if (!isMap(link) || !sim) continue;
    set(link, "host", sim.host);
    set(link, "port", sim.port);
  }
  const broker = doc.get("mqttBroker");
  const users = isMap(broker) ? broker.get("users") : undefined;
  const user = isSeq(users)
    ? users.items.find((u) => isMap(u) && u.get("username") === at.account.username)
    : undefined;
  if (isMap(broker) && broker.get("enabled") === true && isMap(user)) {
    set(broker, "port", at.mqttPort);
    const hash = user.get("passwordHash");
    if (typeof hash !== "string" || !verifyPassword(at.account.password, hash)) {
      set(user, "passwordHash", hashPassword(at.account.password));
    }
  }
  if (changed) writeFileSync(siteFile, doc.toString(), { mode: 0o600 });
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
  const demoSiteDevices = [
    // as the simulators report them in their SunSpec common models
    { kind: "meter" as const, manufacturer: "SteinmetZ", model: "SIM-METER-3P", serialNumber: "SIMMETER01" },
    { kind: "battery" as const, manufacturer: "SteinmetZ", model: "SIM-BAT-10K", serialNumber: "SIMBAT0001" },
  ];
  if (await seedDemoCompany(hub.pool, { edgeId, inverterSerial: DEMO_INVERTER_SERIAL, devices: demoSiteDevices })) {
    log.info("seeded the demo company (customers, site, stock, a project, bookings, a ticket)");
  }
  mkdirSync(simDataDir, { recursive: true });
  const speed = Number(env.SIM_SPEED ?? 60);
  site = await startSimSite({
    inverterPort: port("SIM_PORT", 5020),
    batteryPort: port("SIM_BATTERY_PORT", 5021),
    speed,
    dataDir: simDataDir,
    inverterSerial: DEMO_INVERTER_SERIAL,
  });
  const { inverter, battery } = site;
  const addresses: DemoAddresses = {
    links: { [INVERTER_LINK]: inverter, [BATTERY_LINK]: battery },
    mqttPort: port("EDGE_MQTT_PORT", 1883) || (await findFreePort()),
    account: heatPumpMeterAccount(),
  };

  // The edge reads its site from a file, as in the field; the demo writes one for the simulators on
  // first start only, so changes made in the edge's web UI (which rewrites the file) survive a restart.
  mkdirSync(edgeDataDir, { recursive: true });
  const siteFile = join(edgeDataDir, "demo-site.yaml");
  if (existsSync(siteFile)) followSimulators(siteFile, addresses);
  else writeFileSync(siteFile, demoSite(addresses), { mode: 0o600 });
  edge = await startEdgeAgent({
    configFile: siteFile,
    dataDir: edgeDataDir,
    hubUrl: `127.0.0.1:${hub.grpcPort}`,
    tlsDir,
    insecureDev: false,
    httpPort: port("EDGE_HTTP_PORT", 8080),
    nodeRed: { port: port("NODE_RED_PORT", 1880) },
    log: log.child({ app: "edge" }),
  });
  // The Shelly logs in to the edge's broker once it runs (and, like the device, keeps retrying).
  const brokerUrl = `mqtt://127.0.0.1:${addresses.mqttPort}`;
  let lastMqttError = "";
  heatPumpMeter = site.startHeatPumpMeter({
    url: brokerUrl,
    ...addresses.account,
    prefix: HEAT_PUMP_METER_PREFIX,
    onError: (err) => {
      if (err.message !== lastMqttError) log.warn({ err: { message: err.message } }, "heat pump meter: MQTT error");
      lastMqttError = err.message;
    },
  });

  process.stdout.write(
    [
      "",
      "SteinmetZ demo is running on 127.0.0.1:",
      `  hub web app   ${hub.httpUrl}/  (the office's ERP: log in with a hub user, see hub login)`,
      `  hub readings  ${hub.httpUrl}/api/v1/readings?edge=${edge.edgeId}&point=active_power&limit=20`,
      `  hub edges     ${hub.httpUrl}/api/v1/edges`,
      `  hub API docs  ${hub.httpUrl}/api/docs`,
      `  hub health    ${hub.httpUrl}/health`,
      "  hub login     the web app and the API need a login; there is no default user. Create the first admin",
      "                (password on stdin, at least 12 characters; works while the demo runs):",
      "                  npm run hub -- admin create --email you@example.com",
      `                then log in at ${hub.httpUrl}/, or POST /api/v1/auth/login {"email","password"} → { token } for`,
      "                Authorization: Bearer <token> (or the hub_session cookie it sets)",
      `  edge UI       ${edge.httpUrl}/  (first visit: choose the installer password; there is no default)`,
      `  edge API      ${edge.httpUrl}/api/v1/openapi.json (after login)`,
      `  edge metrics  ${edge.httpUrl}/metrics`,
      edge.nodeRedUrl
        ? `  node-red      ${edge.nodeRedUrl}/  (log in with an edge account; Import → Examples → @steinmetz/node-red-nodes)`
        : "  node-red      not running (EDGE_ERR_NODE_RED in the log: its port is taken?)",
      `  inverter sim  modbus tcp ${inverter.host}:${inverter.port} unit ${inverter.unitId}  SunSpec 1, 103, 123; grid meter 1, 203 behind it`,
      `  battery sim   modbus tcp ${battery.host}:${battery.port} unit ${battery.unitId}  SunSpec 1, 124, 713, 802; 10 kWh, 5 kW`,
      `  heat pump     Shelly Pro 3EM publishing to ${brokerUrl} as ${addresses.account.username}, topics ${HEAT_PUMP_METER_PREFIX}/status/#`,
      `  sim clock     ${speed}× real time, one clock for sun, house load and battery`,
      "Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );
} catch (err) {
  log.fatal({ err }, "demo failed to start");
  await stop("startup failure", 1);
}

/**
 * The device inventory end to end, all real: a simulated SunSpec inverter with a meter behind it,
 * an edge polling it (and a device on a dead link), a hub with mutual TLS and PostgreSQL. The
 * edge reports what SunSpec discovery found; the hub links the ERP device with that serial number
 * (audited as system:device-link), shows faults with their EDGE_ERR_* code, calls onDeviceStates
 * once per transition, lists what the ERP does not know, forgets a device the edge no longer has,
 * and refuses a report claiming another edge's id.
 */
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { loadEdgeTls } from "@steinmetz/edge";
import { type DeviceStateChange, initPki, issueEdgeCertificate, pkiDirOf, startHub } from "@steinmetz/hub";
import { DeviceState, EdgeSyncServiceClient } from "@steinmetz/proto";
import { findFreePort, startSunSpecInverterSim } from "@steinmetz/sim";
import pg from "pg";
import pino from "pino";
import t from "tap";
import {
  adminHeaders,
  daytimeClock,
  log,
  startDatabase,
  startTestEdge,
  tempDir,
  waitFor,
  writeSite,
} from "../support/harness.js";

const SERIAL = "SIM-4711-0815";
const db = await startDatabase();
t.teardown(() => db.stop());
const sim = await startSunSpecInverterSim({ speed: 60, now: daytimeClock(), serialNumber: SERIAL, meter: true });
let simClosed = false;
t.teardown(() => (simClosed ? undefined : sim.close()));

const hubDir = tempDir("hub");
await initPki(pkiDirOf(hubDir));
const tls = tempDir("tls");
await issueEdgeCertificate(pkiDirOf(hubDir), "edge-inv", tls);
const changes: DeviceStateChange[] = [];
const hub = await startHub({
  databaseUrl: db.url,
  dataDir: hubDir,
  httpPort: 0,
  grpcPort: 0,
  insecureDev: false,
  log,
  onDeviceStates: async (c) => {
    changes.push(...c);
  },
  // service tickets for silence: a linked device without a good reading for 3 s
  monitoring: { silenceMs: 3000, intervalMs: 500 },
});
t.teardown(() => hub.close());
const headers = { ...(await adminHeaders(db.url)), "content-type": "application/json" };
const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${hub.httpUrl}/api/v1${path}`, {
    method,
    headers: body === undefined ? { authorization: headers.authorization } : headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // biome-ignore lint/suspicious/noExplicitAny: JSON of several shapes
  return { status: res.status, body: (await res.json()) as any };
};

// The office registered the inverter before it was installed.
const customer = await api("POST", "/customers", { name: "Familie Muster" });
const site = await api("POST", "/sites", { customerId: customer.body.id, name: "Einfamilienhaus" });
const erpDevice = await api("POST", "/devices", { siteId: site.body.id, kind: "inverter", serialNumber: SERIAL });
if (erpDevice.status !== 201) throw new Error(`ERP device not created: ${JSON.stringify(erpDevice.body)}`);

const dir = tempDir("edge");
const deadPort = await findFreePort();
const siteFile = writeSite(dir, sim, 200, {
  connections: [
    { id: "lan", type: "tcp", host: sim.host, port: sim.port, timeoutMs: 500 },
    { id: "dead", type: "tcp", host: "127.0.0.1", port: deadPort, timeoutMs: 500 },
  ],
  devices: [
    { id: "inverter-1", connection: "lan", profile: "inverter/sunspec-inverter-tcp", pollIntervalMs: 200 },
    { id: "meter-1", connection: "lan", profile: "meter/sunspec-meter-tcp", pollIntervalMs: 200 },
    { id: "ghost", connection: "dead", profile: "inverter/sunspec-model103-tcp", pollIntervalMs: 200 },
  ],
});
let edgeLog = "";
const edgeLogger = pino(
  { level: "info" },
  new Writable({
    write(chunk, _enc, done) {
      edgeLog += chunk.toString();
      done();
    },
  }),
);
const edge = await startTestEdge(siteFile, dir, `127.0.0.1:${hub.grpcPort}`, {
  tlsDir: tls,
  insecureDev: false,
  log: edgeLogger,
});
t.teardown(() => edge.close());

type EdgeDevice = Record<string, unknown> & { deviceId: string; state: string };
const inventory = async (): Promise<EdgeDevice[]> => {
  const res = await api("GET", "/edges/edge-inv/devices");
  return res.status === 200 ? res.body : [];
};
const deviceOf = async (id: string) => (await inventory()).find((d) => d.deviceId === id);

t.test("the edge reports what SunSpec discovery found; the ERP device with that serial gets linked", async (t) => {
  const inverter = (await waitFor("the inverter's identity at the hub", async () => {
    const d = await deviceOf("inverter-1");
    // a link that could not be written is tried again with the next report (every second here)
    return d?.serialNumber === SERIAL && d.state === "ok" && d.link ? d : undefined;
  })) as EdgeDevice;
  t.match(inverter, {
    profile: "inverter/sunspec-inverter-tcp",
    deviceClass: "inverter",
    manufacturer: "SteinmetZ",
    model: "SIM-TRI-10K",
    serialNumber: SERIAL,
    firmware: "1.0.0",
    lastErrorCode: null,
    link: { erpDeviceId: erpDevice.body.id, siteId: site.body.id },
  });
  t.ok((inverter.points as string[]).includes("active_power"), "its points are listed");
  const linked = await api("GET", `/devices/${erpDevice.body.id}`);
  t.match(linked.body, { edgeId: "edge-inv", deviceId: "inverter-1", firmware: "1.0.0", version: 2 });
  const client = new pg.Client(db.url);
  await client.connect();
  t.teardown(() => client.end());
  const { rows } = await client.query(
    "SELECT actor_id, after->>'device_id' AS device_id FROM audit.records WHERE entity_id = $1 AND op = 'UPDATE'",
    [erpDevice.body.id],
  );
  t.same(rows, [{ actor_id: "system:device-link", device_id: "inverter-1" }], "one audited link");
});

t.test("a device on a dead link shows FAULT with its EDGE_ERR_* code", async (t) => {
  const ghost = (await waitFor("the dead device's fault at the hub", async () => {
    const d = await deviceOf("ghost");
    return d?.state === "fault" ? d : undefined;
  })) as EdgeDevice;
  t.match(ghost, { lastErrorCode: "EDGE_ERR_MODBUS_CONNECT", lastErrorMessage: /\S/, serialNumber: null, link: null });
  t.same(
    changes.filter((c) => c.deviceId === "ghost" && c.to === "fault").map((c) => c.errorCode),
    ["EDGE_ERR_MODBUS_CONNECT"],
  );
});

t.test("a serial number the ERP does not know is listed as unresolved", async (t) => {
  await waitFor(
    "the meter's serial at the hub",
    async () => (await deviceOf("meter-1"))?.serialNumber === "SIMMETER01",
  );
  const unresolved = await api("GET", "/device-inventory/unresolved?edge=edge-inv");
  t.match(unresolved.body, [
    { edgeId: "edge-inv", deviceId: "ghost", serialNumber: null },
    {
      edgeId: "edge-inv",
      deviceId: "meter-1",
      deviceClass: "meter",
      manufacturer: "SteinmetZ",
      serialNumber: "SIMMETER01",
    },
  ]);
  t.equal(unresolved.body.length, 2, "the linked inverter is not among them");
});

t.test("a device removed from the edge's configuration leaves the hub's inventory", async (t) => {
  const { version, config } = edge.deps.config.current();
  const next = structuredClone(config) as { devices: { id: string }[] };
  next.devices = next.devices.filter((d) => d.id !== "meter-1");
  await edge.deps.config.apply(next, { baseVersion: version, author: "test" });
  await waitFor("meter-1 gone at the hub", async () => {
    const ids = (await inventory()).map((d) => d.deviceId);
    return ids.length === 2 && !ids.includes("meter-1");
  });
  t.same(
    (await inventory()).map((d) => d.deviceId),
    ["ghost", "inverter-1"],
  );
});

t.test("a call claiming another edge's id is refused like ReportGaps", async (t) => {
  const spoof = new EdgeSyncServiceClient(`127.0.0.1:${hub.grpcPort}`, loadEdgeTls(tls).credentials);
  t.teardown(() => spoof.close());
  const device = {
    deviceId: "x",
    profile: "inverter/sunspec-inverter-tcp",
    deviceClass: "inverter",
    manufacturer: "",
    model: "",
    serialNumber: SERIAL,
    firmware: "",
    state: DeviceState.DEVICE_STATE_OK,
    stateSinceMs: Date.now(),
    lastErrorCode: "",
    lastErrorMessage: "",
    points: [],
  };
  const call = <R>(fn: (cb: (err: Error | null, res?: R) => void) => void) =>
    new Promise<R>((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res as R))));
  await t.rejects(
    call((cb) => spoof.reportDevices({ edgeId: "edge-other", devices: [device], configVersion: 0 }, cb)),
    { code: status.PERMISSION_DENIED, details: /HUB_ERR_EDGE_ID_MISMATCH/ },
  );
  await t.rejects(
    call((cb) => spoof.reportGaps({ edgeId: "edge-other", gaps: [] }, cb)),
    { code: status.PERMISSION_DENIED, details: /HUB_ERR_EDGE_ID_MISMATCH/ },
    "ReportGaps refuses it alike",
  );
  t.equal((await api("GET", "/edges/edge-other/devices")).status, 404, "nothing stored for edge-other");
  t.match(await deviceOf("inverter-1"), { link: { erpDeviceId: erpDevice.body.id } }, "the link stands");
});

t.test("a failing report never holds up readings, is logged once and sent again at the next change", async (t) => {
  const owner = new pg.Client(db.url);
  await owner.connect();
  t.teardown(() => owner.end());
  const metric = async (code: string) => {
    const text = await (await fetch(`${hub.httpUrl}/metrics`)).text();
    const m = text.match(new RegExp(`hub_grpc_calls_total\\{method="ReportDevices",code="${code}"\\} (\\d+)`));
    return Number(m?.[1] ?? 0);
  };
  const committed = async () =>
    Number((await owner.query("SELECT committed_seq FROM raw.edges WHERE edge_id = 'edge-inv'")).rows[0].committed_seq);
  const changeGhost = async (pollIntervalMs: number) => {
    const { version, config } = edge.deps.config.current();
    const next = structuredClone(config) as { devices: { id: string; pollIntervalMs: number }[] };
    for (const d of next.devices) if (d.id === "ghost") d.pollIntervalMs = pollIntervalMs;
    await edge.deps.config.apply(next, { baseVersion: version, author: "test" });
  };
  // The hub cannot store inventories for a while (its role may not insert them).
  await owner.query("REVOKE INSERT ON raw.edge_devices FROM steinmetz_integration");
  const failedBefore = await metric("UNAVAILABLE");
  const seqBefore = await committed();
  await changeGhost(300);
  await waitFor("a failed report", async () => (await metric("UNAVAILABLE")) > failedBefore);
  await changeGhost(400);
  await waitFor("a second failed report", async () => (await metric("UNAVAILABLE")) > failedBefore + 1);
  await waitFor("readings still delivered", async () => (await committed()) > seqBefore + 20);
  const failures = await metric("UNAVAILABLE");
  await sleep(1500);
  t.equal(await metric("UNAVAILABLE"), failures, "no retry without a change or a new session");
  t.equal(edgeLog.match(/"msg":"device inventory not reported/g)?.length, 1, "logged once for both failures");

  await owner.query("GRANT INSERT ON raw.edge_devices TO steinmetz_integration");
  const reportedBefore = (await deviceOf("ghost"))?.reportedAt;
  await changeGhost(500);
  await waitFor("the next change reported", async () => (await deviceOf("ghost"))?.reportedAt !== reportedBefore);
  await waitFor("the edge notes it", () => edgeLog.includes('"msg":"device inventory reported again"'));
});

t.test("the inverter on a stopped simulator turns FAULT; onDeviceStates is called once for it", async (t) => {
  // So far: its first state (unknown when the first report came before its first poll), then ok.
  t.equal(changes.filter((c) => c.deviceId === "inverter-1").at(-1)?.to, "ok");
  await sim.close();
  simClosed = true;
  const inverter = (await waitFor("the inverter's fault at the hub", async () => {
    const d = await deviceOf("inverter-1");
    return d?.state === "fault" ? d : undefined;
  })) as EdgeDevice;
  t.match(inverter.lastErrorCode, /^EDGE_ERR_MODBUS_(CONNECT|TIMEOUT)$/);
  await sleep(2500); // more poll cycles and a chance for more reports
  const transitions = changes.filter((c) => c.deviceId === "inverter-1" && c.to === "fault");
  t.equal(transitions.length, 1, "one call for the transition");
  t.match(transitions[0], {
    edgeId: "edge-inv",
    serialNumber: SERIAL,
    erpDeviceId: erpDevice.body.id,
    from: "ok",
    errorCode: inverter.lastErrorCode,
  });
});

t.test("the hub opened one service ticket for the fault, and one for the silence that followed", async (t) => {
  const code = String((await deviceOf("inverter-1"))?.lastErrorCode);
  const faults = await api("GET", "/tickets?source=device_fault&limit=500");
  const ofInverter = faults.body.items.filter((x: { cause: string }) =>
    x.cause.startsWith("fault:edge-inv/inverter-1:"),
  );
  t.equal(ofInverter.length, 1, "exactly one ticket for the inverter's fault, whatever the edge reported since");
  t.match(ofInverter[0], {
    cause: `fault:edge-inv/inverter-1:${code}`,
    siteId: site.body.id,
    deviceId: erpDevice.body.id,
  });
  t.ok(
    faults.body.items.some((x: { cause: string }) =>
      x.cause.startsWith("fault:edge-inv/ghost:EDGE_ERR_MODBUS_CONNECT"),
    ),
    "the device on the dead link has its own",
  );
  // With its only link dead the edge has nothing left to deliver: after 3 s it is silent.
  await waitFor(
    "a silence ticket for the edge",
    async () =>
      (await api("GET", "/tickets?source=silence&limit=500")).body.items.some(
        (x: { cause: string }) => x.cause === "silence:edge:edge-inv",
      ),
    20_000,
  );
  await sleep(1500); // more monitoring passes
  const silence = (await api("GET", "/tickets?source=silence&limit=500")).body.items as Array<{ cause: string }>;
  const perCause = new Map<string, number>();
  for (const x of silence) perCause.set(x.cause, (perCause.get(x.cause) ?? 0) + 1);
  t.equal(perCause.get("silence:edge:edge-inv"), 1, "one ticket for the silent edge");
  t.ok(
    [...perCause.values()].every((n) => n === 1),
    `one open ticket per cause: ${[...perCause.keys()].join(", ")}`,
  );
  const siteView = await api("GET", `/sites/${site.body.id}`);
  t.match(siteView.body.devices, [
    { id: erpDevice.body.id, link: { edgeId: "edge-inv", deviceId: "inverter-1" }, state: { state: "fault" } },
  ]);
  t.ok(siteView.body.openTickets >= 1, "the fault ticket is on the site");
});

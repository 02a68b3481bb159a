/**
 * Device inventories reported over gRPC against a real embedded PostgreSQL: stored and replaced
 * per snapshot, ERP devices linked by serial number (audited as system:device-link, the previous
 * holder of a telemetry device unlinked first), state changes handed to `onDeviceStates` once per
 * transition, the inventory and the unresolved devices over HTTP, invalid reports refused, device
 * strings with NUL characters or overlong fault messages made storable.
 */
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, status } from "@grpc/grpc-js";
import { DeviceState, EdgeSyncServiceClient, type InventoryDevice, type ReportDevicesResponse } from "@steinmetz/proto";
import pino from "pino";
import t from "tap";
import { startHub } from "../src/hub.js";
import type { DeviceStateChange } from "../src/ingest/index.js";
import { adminHeaders } from "./fixtures/auth-headers.js";
import { startTestPostgres } from "./fixtures/postgres.js";

const log = pino({ level: process.env.LOG_LEVEL ?? "silent" });
const dataDir = mkdtempSync(join(tmpdir(), "hub-inventory-"));
chmodSync(dataDir, 0o755);
const db = await startTestPostgres(join(dataDir, "db"), log);
t.teardown(() => db.stop());
const changes: DeviceStateChange[][] = [];
const hub = await startHub({
  databaseUrl: db.url,
  dataDir,
  httpPort: 0,
  grpcPort: 0,
  insecureDev: true,
  log,
  onDeviceStates: async (c) => {
    changes.push(c);
  },
});
t.teardown(() => hub.close());
const auth = await adminHeaders(hub.pool);
const client = new EdgeSyncServiceClient(`127.0.0.1:${hub.grpcPort}`, credentials.createInsecure());
t.teardown(() => client.close());

const report = (edgeId: string, devices: InventoryDevice[]) =>
  new Promise<ReportDevicesResponse>((resolve, reject) =>
    client.reportDevices({ edgeId, devices, configVersion: 0 }, (err, res) => (err ? reject(err) : resolve(res))),
  );

const device = (deviceId: string, extra: Partial<InventoryDevice> = {}): InventoryDevice => ({
  deviceId,
  profile: "inverter/sunspec-inverter-tcp",
  deviceClass: "inverter",
  manufacturer: "",
  model: "",
  serialNumber: "",
  firmware: "",
  state: DeviceState.DEVICE_STATE_OK,
  stateSinceMs: 1_790_000_000_000,
  lastErrorCode: "",
  lastErrorMessage: "",
  points: ["active_power", "energy_exported"],
  ...extra,
});

const get = async (path: string) => {
  const res = await fetch(`${hub.httpUrl}/api/v1${path}`, { headers: auth });
  return { status: res.status, body: (await res.json()) as unknown };
};

/** A customer and a site to put ERP devices at; returns the site id. */
async function site(): Promise<string> {
  const customer = await hub.pool.query<{ id: string }>(
    "INSERT INTO erp.customers (name) VALUES ('Muster') RETURNING id",
  );
  const { rows } = await hub.pool.query<{ id: string }>(
    "INSERT INTO erp.sites (customer_id, name) VALUES ($1, 'Dach') RETURNING id",
    [customer.rows[0]?.id],
  );
  return rows[0]?.id as string;
}

/** An ERP device with `serial`, optionally linked by hand to (edge, device). */
async function erpDevice(siteId: string, serial: string, link?: [string, string]): Promise<string> {
  const { rows } = await hub.pool.query<{ id: string }>(
    `INSERT INTO erp.devices (site_id, kind, serial_number, firmware, edge_id, device_id)
     VALUES ($1, 'inverter', $2, '0.9', $3, $4) RETURNING id`,
    [siteId, serial, link?.[0] ?? null, link?.[1] ?? null],
  );
  return rows[0]?.id as string;
}

const erpRow = async (id: string) =>
  (await hub.pool.query("SELECT edge_id, device_id, firmware, version FROM erp.devices WHERE id = $1", [id])).rows[0];

const auditOf = async (id: string) =>
  (
    await hub.pool.query<{ actor_id: string; after: { edge_id: string | null; device_id: string | null } }>(
      "SELECT actor_id, after FROM audit.records WHERE table_name = 'devices' AND entity_id = $1 AND op = 'UPDATE' ORDER BY id",
      [id],
    )
  ).rows;

t.test("a snapshot is stored with its ERP links; the next one replaces it", async (t) => {
  const siteId = await site();
  const linkedId = await erpDevice(siteId, "SN-A");
  const first = await report("edge-x", [
    device("inv-1", { manufacturer: "SteinmetZ", model: "SIM-TRI-10K", serialNumber: "SN-A", firmware: "1.2.0" }),
    device("meter-1", { profile: "meter/sunspec-meter-tcp", deviceClass: "meter", serialNumber: " SN-NEW " }),
    device("battery-1", { profile: "battery/sunspec-battery-tcp", deviceClass: "battery", points: [] }),
  ]);
  t.same(first, { stored: 3, removed: 0, linked: 1 });
  t.same(await erpRow(linkedId), { edge_id: "edge-x", device_id: "inv-1", firmware: "1.2.0", version: 2 });
  t.match(await auditOf(linkedId), [
    { actor_id: "system:device-link", after: { edge_id: "edge-x", device_id: "inv-1" } },
  ]);

  const inventory = await get("/edges/edge-x/devices");
  t.equal(inventory.status, 200);
  t.match(inventory.body, [
    { deviceId: "battery-1", deviceClass: "battery", serialNumber: null, state: "ok", points: [], link: null },
    { deviceId: "inv-1", manufacturer: "SteinmetZ", model: "SIM-TRI-10K", serialNumber: "SN-A", firmware: "1.2.0" },
    { deviceId: "meter-1", serialNumber: "SN-NEW", link: null },
  ]);
  t.match((inventory.body as unknown[])[1], {
    state: "ok",
    stateSince: new Date(1_790_000_000_000).toISOString(),
    lastErrorCode: null,
    points: ["active_power", "energy_exported"],
    link: { erpDeviceId: linkedId, siteId },
  });
  const unresolved = await get("/device-inventory/unresolved?edge=edge-x");
  t.match(unresolved.body, [
    { edgeId: "edge-x", deviceId: "battery-1", serialNumber: null },
    { edgeId: "edge-x", deviceId: "meter-1", deviceClass: "meter", serialNumber: "SN-NEW" },
  ]);
  t.equal((unresolved.body as unknown[]).length, 2, "the linked inverter is resolved");

  const again = await report("edge-x", [
    device("inv-1", { serialNumber: "SN-A", firmware: "1.2.0" }),
    device("battery-1", { points: [] }),
  ]);
  t.same(again, { stored: 2, removed: 1, linked: 0 }, "meter-1 removed, nothing linked again");
  t.equal((await erpRow(linkedId))?.version, 2, "a linked device is not touched again");
  t.same(
    ((await get("/edges/edge-x/devices")).body as { deviceId: string }[]).map((d) => d.deviceId),
    ["battery-1", "inv-1"],
  );
  t.same(await report("edge-x", []), { stored: 0, removed: 2, linked: 0 }, "an empty snapshot empties the inventory");
  t.same((await get("/edges/edge-x/devices")).body, []);
  t.match(await get("/edges/edge-nobody/devices"), { status: 404, body: { code: "HUB_ERR_NOT_FOUND" } });
});

t.test("devices swapped between device ids are relinked, each holder unlinked first", async (t) => {
  const siteId = await site();
  const b = await erpDevice(siteId, "SN-B", ["edge-y", "d1"]);
  const c = await erpDevice(siteId, "SN-C", ["edge-y", "d2"]);
  const res = await report("edge-y", [device("d1", { serialNumber: "SN-C" }), device("d2", { serialNumber: "SN-B" })]);
  t.equal(res.linked, 2);
  t.match(await erpRow(b), { edge_id: "edge-y", device_id: "d2" });
  t.match(await erpRow(c), { edge_id: "edge-y", device_id: "d1" });
  t.match(await auditOf(b), [
    { actor_id: "system:device-link", after: { edge_id: null, device_id: null } },
    { actor_id: "system:device-link", after: { edge_id: "edge-y", device_id: "d2" } },
  ]);

  // A device reporting no serial number keeps a link made by hand; one reporting another
  // serial number known to the ERP takes its place.
  const manual = await erpDevice(siteId, "SN-D", ["edge-y", "d3"]);
  await report("edge-y", [device("d3")]);
  t.match(await erpRow(manual), { edge_id: "edge-y", device_id: "d3", version: 1 });
  const e = await erpDevice(siteId, "SN-E");
  await report("edge-y", [device("d3", { serialNumber: "SN-E" })]);
  t.match(await erpRow(manual), { edge_id: null, device_id: null, version: 2 });
  t.match(await erpRow(e), { edge_id: "edge-y", device_id: "d3" });
  t.same((await get("/device-inventory/unresolved?edge=edge-y")).body, []);
});

t.test("onDeviceStates gets each transition once, with the fault's code and the ERP device", async (t) => {
  const siteId = await site();
  const erpId = await erpDevice(siteId, "SN-F");
  changes.length = 0;
  await report("edge-z", [device("inv", { serialNumber: "SN-F" })]);
  t.match(changes, [[{ edgeId: "edge-z", deviceId: "inv", from: null, to: "ok", erpDeviceId: erpId }]]);
  await report("edge-z", [device("inv", { serialNumber: "SN-F" })]);
  t.equal(changes.length, 1, "no call when no state changed");
  const since = 1_790_000_060_000;
  await report("edge-z", [
    device("inv", {
      serialNumber: "SN-F",
      state: DeviceState.DEVICE_STATE_FAULT,
      stateSinceMs: since,
      lastErrorCode: "EDGE_ERR_MODBUS_CONNECT",
      lastErrorMessage: "connect ECONNREFUSED 127.0.0.1:1502",
    }),
  ]);
  t.same(changes[1], [
    {
      edgeId: "edge-z",
      deviceId: "inv",
      serialNumber: "SN-F",
      erpDeviceId: erpId,
      from: "ok",
      to: "fault",
      errorCode: "EDGE_ERR_MODBUS_CONNECT",
      errorMessage: "connect ECONNREFUSED 127.0.0.1:1502",
      at: new Date(since),
    },
  ]);
  const [inv] = (await get("/edges/edge-z/devices")).body as Record<string, unknown>[];
  t.match(inv, { state: "fault", lastErrorCode: "EDGE_ERR_MODBUS_CONNECT", stateSince: new Date(since).toISOString() });
});

t.test("invalid reports are refused and change nothing; NUL and long messages are made storable", async (t) => {
  await report("edge-v", [device("a")]);
  await t.rejects(report("edge-v", [device("b"), device("b")]), {
    code: status.INVALID_ARGUMENT,
    details: /^HUB_ERR_INVENTORY_INVALID: devices\[1\]: device id "b" is listed twice/,
  });
  await t.rejects(report("edge-v", [device("bad id")]), {
    code: status.INVALID_ARGUMENT,
    details: /HUB_ERR_INVENTORY_INVALID/,
  });
  await t.rejects(report("edge-v", [device("c", { serialNumber: "x".repeat(101) })]), {
    code: status.INVALID_ARGUMENT,
    details: /serial number is longer than 100 characters/,
  });
  const emoji = "\u{1F525}";
  await report("edge-w", [
    device("nul", {
      manufacturer: "Stein\0metZ\0\0",
      state: DeviceState.DEVICE_STATE_FAULT,
      lastErrorCode: "EDGE_ERR_MODBUS_EXCEPTION",
      lastErrorMessage: `${"x".repeat(999)}${emoji}${emoji}`,
    }),
  ]);
  const [nul] = (await get("/edges/edge-w/devices")).body as { manufacturer: string; lastErrorMessage: string }[];
  t.equal(nul?.manufacturer, "SteinmetZ", "NUL characters are dropped");
  t.equal(nul?.lastErrorMessage, `${"x".repeat(999)}${emoji}`, "a long message is cut at 1000 characters, not in one");
  await t.rejects(report("not an id!", [device("a")]), {
    code: status.INVALID_ARGUMENT,
    details: /HUB_ERR_EDGE_ID_INVALID/,
  });
  t.same(
    ((await get("/edges/edge-v/devices")).body as { deviceId: string }[]).map((d) => d.deviceId),
    ["a"],
  );
  const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
  t.match(metrics, /hub_grpc_calls_total\{method="ReportDevices",code="INVALID_ARGUMENT"\} 4/);
});

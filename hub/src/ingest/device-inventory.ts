import { DeviceState, type InventoryDevice } from "@steinmetz/proto";
import type pg from "pg";
import type { Queryable } from "../db/queryable.js";
import { inTransaction } from "../db/transaction.js";
import { hubError } from "../errors.js";
import { type AuditContext, inAuditedTransaction } from "../platform/audit-context.js";

/** A device's state as the hub stores it. */
export type DeviceStateName = "ok" | "fault" | "unknown";

/** A reported device whose state differs from the one the hub held (or that the hub did not hold). */
export interface DeviceStateChange {
  edgeId: string;
  /** Device id as configured on the edge. */
  deviceId: string;
  /** The serial number the device reported; null when it reported none. */
  serialNumber: string | null;
  /** The ERP device (erp.devices.id) linked to this edge device after the report; null when none. */
  erpDeviceId: string | null;
  /** The state the hub held before; null when the device is new to the hub. */
  from: DeviceStateName | null;
  to: DeviceStateName;
  /** The fault's EDGE_ERR_* code and the device's own words; null unless `to` is fault. */
  errorCode: string | null;
  errorMessage: string | null;
  /** When the new state began (edge clock; the hub's time when the edge did not say). */
  at: Date;
}

/** Result of storing one inventory snapshot. */
export interface StoredInventory {
  stored: number;
  /** Devices the hub held for the edge that the snapshot no longer lists (deleted). */
  removed: number;
  /** ERP devices newly linked to a device of the snapshot by serial number. */
  linked: number;
  /** Why linking failed (the snapshot is stored; linking is tried again with the next one); null when it did not. */
  linkError: Error | null;
  changes: DeviceStateChange[];
}

/** A reported device after `checkInventory`: identity fields trimmed, empty ones null. */
export interface CheckedDevice {
  device_id: string;
  profile: string;
  device_class: string;
  manufacturer: string | null;
  model: string | null;
  serial_number: string | null;
  firmware: string | null;
  state: DeviceStateName;
  /** ms since epoch; null when the edge sent 0. */
  state_since_ms: number | null;
  last_error_code: string | null;
  last_error_message: string | null;
  points: string[];
}

/** Who links ERP devices to reported ones (the audit records name this actor). */
export const DEVICE_LINK_ACTOR: AuditContext = {
  actorId: "system:device-link",
  actorName: "device link by serial number",
  tags: ["device-link"],
};

/** Devices one snapshot may list. */
export const MAX_INVENTORY_DEVICES = 10_000;
const MAX_POINTS = 5_000;
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_MESSAGE = 1000;

/** `text` without NUL characters (PostgreSQL text cannot hold them; a device's string may carry some). */
const withoutNul = (text: string) => text.replace(/\0/g, "");

/** The first `max` characters of `text`, never cutting a character in two (a surrogate pair). */
const cut = (text: string, max: number) => (text.length <= max ? text : Array.from(text).slice(0, max).join(""));

const STATE_NAMES: Partial<Record<DeviceState, DeviceStateName>> = {
  [DeviceState.DEVICE_STATE_OK]: "ok",
  [DeviceState.DEVICE_STATE_FAULT]: "fault",
  [DeviceState.DEVICE_STATE_UNKNOWN]: "unknown",
};

/**
 * Checks a snapshot and normalises it: device ids well-formed and unique, strings within the
 * columns' limits (the fault message is cut at 1000 characters instead), NUL characters dropped,
 * identity fields trimmed and empty ones null, an unspecified state taken as unknown. Throws HUB_ERR_INVENTORY_INVALID
 * naming the first device at fault.
 */
export function checkInventory(devices: readonly InventoryDevice[]): CheckedDevice[] {
  const invalid = (message: string) => hubError("HUB_ERR_INVENTORY_INVALID", message);
  if (devices.length > MAX_INVENTORY_DEVICES) {
    throw invalid(`${devices.length} devices in one report, at most ${MAX_INVENTORY_DEVICES}`);
  }
  const seen = new Set<string>();
  return devices.map((d, i) => {
    const at = `devices[${i}]`;
    if (!DEVICE_ID.test(d.deviceId)) throw invalid(`${at}: device id "${d.deviceId.slice(0, 80)}" is malformed`);
    if (seen.has(d.deviceId)) throw invalid(`${at}: device id "${d.deviceId}" is listed twice`);
    seen.add(d.deviceId);
    const text = (field: string, value: string, max: number) => {
      const trimmed = withoutNul(value).trim();
      if (trimmed.length > max) throw invalid(`${at} (${d.deviceId}): ${field} is longer than ${max} characters`);
      return trimmed === "" ? null : trimmed;
    };
    if (d.points.length > MAX_POINTS) throw invalid(`${at} (${d.deviceId}): more than ${MAX_POINTS} points`);
    for (const point of d.points) {
      if (point.length === 0 || point.length > 100 || point.includes("\0")) {
        throw invalid(`${at} (${d.deviceId}): a point id is empty, longer than 100 characters or holds NUL`);
      }
    }
    const state = STATE_NAMES[d.state] ?? "unknown";
    const fault = state === "fault";
    const message = cut(withoutNul(d.lastErrorMessage).trim(), MAX_MESSAGE);
    return {
      device_id: d.deviceId,
      profile: text("profile", d.profile, 200) ?? "",
      device_class: text("device class", d.deviceClass, 100) ?? "",
      manufacturer: text("manufacturer", d.manufacturer, 100),
      model: text("model", d.model, 100),
      serial_number: text("serial number", d.serialNumber, 100),
      firmware: text("firmware", d.firmware, 100),
      state,
      state_since_ms: d.stateSinceMs > 0 ? d.stateSinceMs : null,
      last_error_code: fault ? text("error code", d.lastErrorCode, 100) : null,
      last_error_message: fault && message !== "" ? message : null,
      points: [...new Set(d.points)],
    };
  });
}

/**
 * The device inventories the edges report, in `raw.edge_devices`, and the link of ERP devices
 * (`erp.devices`) to them by serial number.
 */
export class DeviceInventoryStore {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Stores `edgeId`'s snapshot in one transaction (reported devices upserted, devices missing
   * from it deleted; reports of one edge serialise on an advisory lock), then links ERP devices
   * by serial number (`linkBySerial`). Resolves with what changed, after both committed; a
   * failed link (e.g. a conflicting ERP change at the same moment) does not undo the snapshot
   * and is returned as `linkError`.
   */
  async store(edgeId: string, devices: readonly CheckedDevice[]): Promise<StoredInventory> {
    const { previous, removed } = await inTransaction(this.pool, async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('raw.edge_devices'), hashtext($1))", [edgeId]);
      await client.query("INSERT INTO raw.edges (edge_id) VALUES ($1) ON CONFLICT (edge_id) DO NOTHING", [edgeId]);
      const { rows } = await client.query<{ device_id: string; state: DeviceStateName }>(
        "SELECT device_id, state FROM raw.edge_devices WHERE edge_id = $1",
        [edgeId],
      );
      await client.query(
        `INSERT INTO raw.edge_devices (edge_id, device_id, profile, device_class, manufacturer, model,
           serial_number, firmware, state, state_since, last_error_code, last_error_message, points, reported_at)
         SELECT $1, d.device_id, d.profile, d.device_class, d.manufacturer, d.model, d.serial_number, d.firmware,
                d.state, to_timestamp(d.state_since_ms / 1000.0), d.last_error_code, d.last_error_message,
                d.points, now()
         FROM jsonb_to_recordset($2::jsonb) AS d(device_id text, profile text, device_class text, manufacturer text,
           model text, serial_number text, firmware text, state text, state_since_ms double precision,
           last_error_code text, last_error_message text, points text[])
         ON CONFLICT (edge_id, device_id) DO UPDATE SET
           profile = excluded.profile, device_class = excluded.device_class, manufacturer = excluded.manufacturer,
           model = excluded.model, serial_number = excluded.serial_number, firmware = excluded.firmware,
           state = excluded.state, state_since = excluded.state_since, last_error_code = excluded.last_error_code,
           last_error_message = excluded.last_error_message, points = excluded.points,
           reported_at = excluded.reported_at`,
        [edgeId, JSON.stringify(devices)],
      );
      const deleted = await client.query(
        "DELETE FROM raw.edge_devices WHERE edge_id = $1 AND NOT (device_id = ANY ($2::text[]))",
        [edgeId, devices.map((d) => d.device_id)],
      );
      return { previous: new Map(rows.map((r) => [r.device_id, r.state])), removed: deleted.rowCount ?? 0 };
    });
    let linked = 0;
    let linkError: Error | null = null;
    try {
      linked = await this.linkBySerial(edgeId, devices);
    } catch (err) {
      linkError = err as Error;
    }
    const changed = devices.filter((d) => previous.get(d.device_id) !== d.state);
    const erpIds = changed.length > 0 ? await linkedErpDevices(this.pool, edgeId, changed) : new Map<string, string>();
    const changes = changed.map(
      (d): DeviceStateChange => ({
        edgeId,
        deviceId: d.device_id,
        serialNumber: d.serial_number,
        erpDeviceId: erpIds.get(d.device_id) ?? null,
        from: previous.get(d.device_id) ?? null,
        to: d.state,
        errorCode: d.last_error_code,
        errorMessage: d.last_error_message,
        at: d.state_since_ms === null ? new Date() : new Date(d.state_since_ms),
      }),
    );
    return { stored: devices.length, removed, linked, linkError, changes };
  }

  /**
   * Links ERP devices to the reported ones by serial number, in one transaction audited as
   * `system:device-link`: every erp.devices row whose serial number a device of the snapshot
   * reports, and that is not linked to that (edge, device) yet, gets its edge_id and device_id
   * (and the reported firmware), with its version raised. A row linked to such an (edge, device)
   * under another serial number is unlinked first, so the one-row-per-telemetry-device rule
   * holds (devices swapped between device ids are both relinked). When two devices of the
   * snapshot report the same serial number, the one with the smallest device id is linked.
   * Resolves with the number of rows linked.
   */
  async linkBySerial(edgeId: string, devices: readonly CheckedDevice[]): Promise<number> {
    const bySerial = new Map<string, CheckedDevice>();
    for (const d of [...devices].sort((a, b) => (a.device_id < b.device_id ? -1 : 1))) {
      if (d.serial_number !== null && !bySerial.has(d.serial_number)) bySerial.set(d.serial_number, d);
    }
    if (bySerial.size === 0) return 0;
    const reported = [...bySerial.values()];
    const params = [
      edgeId,
      reported.map((d) => d.device_id),
      reported.map((d) => d.serial_number),
      reported.map((d) => d.firmware),
    ];
    // The reported devices whose ERP row (same serial number) is not linked to them yet.
    const targets = `WITH reported AS (
        SELECT * FROM unnest($2::text[], $3::text[], $4::text[]) AS r(device_id, serial_number, firmware)
      ), targets AS (
        SELECT d.id, r.device_id, r.serial_number, r.firmware
        FROM reported r JOIN erp.devices d ON d.serial_number = r.serial_number
        WHERE d.edge_id IS DISTINCT FROM $1 OR d.device_id IS DISTINCT FROM r.device_id
      )`;
    return inAuditedTransaction(
      this.pool,
      { ...DEVICE_LINK_ACTOR, reason: `serial numbers reported by edge ${edgeId}` },
      async (client) => {
        await client.query(
          `${targets}
           UPDATE erp.devices d SET edge_id = NULL, device_id = NULL, version = d.version + 1, updated_at = now()
           FROM targets t
           WHERE d.edge_id = $1 AND d.device_id = t.device_id AND d.serial_number IS DISTINCT FROM t.serial_number`,
          params,
        );
        const linked = await client.query(
          `${targets}
           UPDATE erp.devices d SET edge_id = $1, device_id = t.device_id, firmware = coalesce(t.firmware, d.firmware),
             version = d.version + 1, updated_at = now()
           FROM targets t
           WHERE d.id = t.id`,
          params,
        );
        return linked.rowCount ?? 0;
      },
    );
  }
}

/** The ERP device linked to each of `devices` of `edgeId`, by device id. */
async function linkedErpDevices(
  db: Queryable,
  edgeId: string,
  devices: readonly { device_id: string }[],
): Promise<Map<string, string>> {
  const { rows } = await db.query<{ device_id: string; id: string }>(
    "SELECT device_id, id FROM erp.devices WHERE edge_id = $1 AND device_id = ANY ($2::text[])",
    [edgeId, devices.map((d) => d.device_id)],
  );
  return new Map(rows.map((r) => [r.device_id, r.id]));
}

/** One device of an edge's inventory as GET /api/v1/edges/:edgeId/devices returns it. */
export interface EdgeDeviceRow {
  deviceId: string;
  profile: string;
  deviceClass: string;
  manufacturer: string | null;
  model: string | null;
  serialNumber: string | null;
  firmware: string | null;
  state: DeviceStateName;
  stateSince: string | null;
  lastErrorCode: string | null;
  lastErrorMessage: string | null;
  points: string[];
  reportedAt: string;
  /** The ERP device linked to it (by edge and device id), with its site; null when none. */
  link: { erpDeviceId: string; siteId: string } | null;
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

/** `edgeId`'s inventory by device id, each device with its ERP link; null when the edge is not known. */
export async function findEdgeDevices(db: Queryable, edgeId: string): Promise<EdgeDeviceRow[] | null> {
  const edge = await db.query("SELECT 1 FROM raw.edges WHERE edge_id = $1", [edgeId]);
  if (edge.rowCount === 0) return null;
  const { rows } = await db.query<{
    device_id: string;
    profile: string;
    device_class: string;
    manufacturer: string | null;
    model: string | null;
    serial_number: string | null;
    firmware: string | null;
    state: DeviceStateName;
    state_since: Date | null;
    last_error_code: string | null;
    last_error_message: string | null;
    points: string[];
    reported_at: Date;
    erp_device_id: string | null;
    site_id: string | null;
  }>(
    `SELECT e.device_id, e.profile, e.device_class, e.manufacturer, e.model, e.serial_number, e.firmware, e.state,
            e.state_since, e.last_error_code, e.last_error_message, e.points, e.reported_at,
            d.id AS erp_device_id, d.site_id
     FROM raw.edge_devices e
     LEFT JOIN erp.devices d ON d.edge_id = e.edge_id AND d.device_id = e.device_id
     WHERE e.edge_id = $1
     ORDER BY e.device_id`,
    [edgeId],
  );
  return rows.map((r) => ({
    deviceId: r.device_id,
    profile: r.profile,
    deviceClass: r.device_class,
    manufacturer: r.manufacturer,
    model: r.model,
    serialNumber: r.serial_number,
    firmware: r.firmware,
    state: r.state,
    stateSince: iso(r.state_since),
    lastErrorCode: r.last_error_code,
    lastErrorMessage: r.last_error_message,
    points: r.points,
    reportedAt: r.reported_at.toISOString(),
    link: r.erp_device_id && r.site_id ? { erpDeviceId: r.erp_device_id, siteId: r.site_id } : null,
  }));
}

/** A reported device no ERP device accounts for, as GET /api/v1/device-inventory/unresolved returns it. */
export interface UnresolvedDeviceRow {
  edgeId: string;
  deviceId: string;
  deviceClass: string;
  manufacturer: string | null;
  model: string | null;
  serialNumber: string | null;
  reportedAt: string;
}

/**
 * Reported devices no ERP device accounts for: none has their serial number, and none is linked
 * to them by edge and device id (a device reporting no serial number counts when nobody linked
 * it by hand). Ordered by edge and device id, at most `limit`, optionally of one edge.
 */
export async function findUnresolvedDevices(
  db: Queryable,
  filter: { edge?: string; limit: number },
): Promise<UnresolvedDeviceRow[]> {
  const { rows } = await db.query<{
    edge_id: string;
    device_id: string;
    device_class: string;
    manufacturer: string | null;
    model: string | null;
    serial_number: string | null;
    reported_at: Date;
  }>(
    `SELECT e.edge_id, e.device_id, e.device_class, e.manufacturer, e.model, e.serial_number, e.reported_at
     FROM raw.edge_devices e
     WHERE ($1::text IS NULL OR e.edge_id = $1)
       AND NOT EXISTS (SELECT FROM erp.devices d WHERE d.serial_number = e.serial_number)
       AND NOT EXISTS (SELECT FROM erp.devices d WHERE d.edge_id = e.edge_id AND d.device_id = e.device_id)
     ORDER BY e.edge_id, e.device_id
     LIMIT $2`,
    [filter.edge ?? null, filter.limit],
  );
  return rows.map((r) => ({
    edgeId: r.edge_id,
    deviceId: r.device_id,
    deviceClass: r.device_class,
    manufacturer: r.manufacturer,
    model: r.model,
    serialNumber: r.serial_number,
    reportedAt: r.reported_at.toISOString(),
  }));
}

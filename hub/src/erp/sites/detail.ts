import { Type } from "@sinclair/typebox";
import type { Queryable } from "../../db/queryable.js";
import { QUALITY } from "../../telemetry/repository.js";

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

/** What `GET /api/v1/sites/{id}` shows beside the site: its gateways and each device live. */
export const siteDetailSchema = {
  gateways: Type.Array(
    Type.Object({ edgeId: Type.String(), lastSeenAt: Nullable(Type.String({ format: "date-time" })) }),
  ),
  devices: Type.Array(
    Type.Object({
      id: Type.String({ format: "uuid" }),
      kind: Type.String(),
      manufacturer: Nullable(Type.String()),
      model: Nullable(Type.String()),
      serialNumber: Nullable(Type.String()),
      warrantyEnd: Nullable(Type.String({ format: "date" })),
      /** The telemetry device it is linked to (by serial number, or set by the office). */
      link: Type.Union([Type.Object({ edgeId: Type.String(), deviceId: Type.String() }), Type.Null()]),
      /** As its edge last reported it; null when unlinked or not reported. */
      state: Type.Union([
        Type.Object({
          state: Type.String(),
          since: Nullable(Type.String({ format: "date-time" })),
          errorCode: Nullable(Type.String()),
          errorMessage: Nullable(Type.String()),
          firmware: Nullable(Type.String()),
        }),
        Type.Null(),
      ]),
      latest: Type.Array(
        Type.Object({
          point: Type.String(),
          value: Type.Union([Type.Number(), Type.Null()]),
          quality: Type.String(),
          ts: Type.String({ format: "date-time" }),
        }),
      ),
    }),
  ),
  openTickets: Type.Integer(),
};

/**
 * Loads a site's gateways, its devices with link, reported state and latest reading per point
 * (of the last 7 days: the day partitions before are not searched), and its open tickets.
 */
export async function loadSiteDetail(db: Queryable, site: { id: string }) {
  const [gateways, devices, tickets] = await Promise.all([
    db.query(
      `SELECT g.edge_id, e.last_seen_at FROM erp.gateways g LEFT JOIN raw.edges e USING (edge_id)
       WHERE g.site_id = $1 ORDER BY g.edge_id`,
      [site.id],
    ),
    db.query(
      `SELECT d.id, d.kind, d.manufacturer, d.model, d.serial_number, d.warranty_end::text, d.edge_id, d.device_id,
         x.state, x.state_since, x.last_error_code, x.last_error_message, x.firmware,
         (SELECT coalesce(jsonb_agg(jsonb_build_object('point', s.point, 'value', r.value, 'quality', r.quality, 'ts', r.ts)
                  ORDER BY s.point), '[]')
          FROM raw.series s
          CROSS JOIN LATERAL (SELECT ts, value, quality FROM raw.readings WHERE series_id = s.series_id
                              AND ts > now() - interval '7 days' ORDER BY ts DESC LIMIT 1) r
          WHERE s.edge_id = d.edge_id AND s.device_id = d.device_id) AS latest
       FROM erp.devices d LEFT JOIN raw.edge_devices x ON x.edge_id = d.edge_id AND x.device_id = d.device_id
       WHERE d.site_id = $1 ORDER BY d.kind, d.created_at`,
      [site.id],
    ),
    db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM erp.tickets WHERE site_id = $1 AND status NOT IN ('resolved', 'closed', 'cancelled')",
      [site.id],
    ),
  ]);
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    gateways: gateways.rows.map((g) => ({ edgeId: g.edge_id, lastSeenAt: iso(g.last_seen_at) })),
    devices: devices.rows.map((d) => ({
      id: d.id,
      kind: d.kind,
      manufacturer: d.manufacturer,
      model: d.model,
      serialNumber: d.serial_number,
      warrantyEnd: d.warranty_end,
      link: d.edge_id ? { edgeId: d.edge_id, deviceId: d.device_id } : null,
      state: d.state
        ? {
            state: d.state,
            since: iso(d.state_since),
            errorCode: d.last_error_code,
            errorMessage: d.last_error_message,
            firmware: d.firmware,
          }
        : null,
      latest: (d.latest as Array<{ point: string; value: number | null; quality: number; ts: string }>).map((r) => ({
        point: r.point,
        value: r.value,
        quality: QUALITY[r.quality] ?? "good",
        ts: new Date(r.ts).toISOString(),
      })),
    })),
    openTickets: tickets.rows[0]?.n ?? 0,
  };
}

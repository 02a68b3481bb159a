/**
 * A site's telemetry for its page in the web app: the power of its linked devices over any range
 * downsampled on the server (at most `maxPoints` buckets: average, minimum and maximum of each),
 * its devices' link state, and its days from `serving.site_daily`.
 */
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type pg from "pg";
import { hubError } from "../errors.js";
import { naturePoints } from "../warehouse/points.js";

/** The natures' power points (in W). */
const POWER_POINTS = () =>
  naturePoints()
    .filter((p) => p.kind === "power")
    .map((p) => p.point);

const Uuid = Type.String({ format: "uuid" });
const Range = {
  from: Type.String({ format: "date-time" }),
  to: Type.String({ format: "date-time" }),
};

const SeriesQuery = Type.Object(
  {
    ...Range,
    maxPoints: Type.Integer({ minimum: 10, maximum: 5000, default: 800, description: "buckets at most" }),
  },
  { additionalProperties: false },
);

const Values = Type.Array(Type.Union([Type.Number(), Type.Null()]));
const SiteSeries = Type.Object({
  from: Type.String(),
  to: Type.String(),
  bucketS: Type.Number({ description: "the width of a bucket in seconds" }),
  /** Bucket starts (Unix seconds), shared by every series. */
  t: Type.Array(Type.Number()),
  series: Type.Array(
    Type.Object({
      deviceId: Type.String(),
      kind: Type.String(),
      serialNumber: Type.Union([Type.String(), Type.Null()]),
      point: Type.String(),
      unit: Type.String(),
      avg: Values,
      min: Values,
      max: Values,
    }),
  ),
});

const DaysQuery = Type.Object(
  { from: Type.String({ format: "date" }), to: Type.String({ format: "date" }) },
  { additionalProperties: false },
);

const SiteDevice = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  manufacturer: Type.Union([Type.String(), Type.Null()]),
  model: Type.Union([Type.String(), Type.Null()]),
  serialNumber: Type.Union([Type.String(), Type.Null()]),
  warrantyEnd: Type.Union([Type.String(), Type.Null()]),
  edgeId: Type.Union([Type.String(), Type.Null()]),
  deviceId: Type.Union([Type.String(), Type.Null()]),
  lastReadingAt: Type.Union([Type.String(), Type.Null()]),
  openTickets: Type.Integer(),
});

async function requireSite(pool: pg.Pool, id: string): Promise<void> {
  const { rowCount } = await pool.query("SELECT 1 FROM erp.sites WHERE id = $1", [id]);
  if (!rowCount) throw hubError("HUB_ERR_NOT_FOUND", `no site ${id}`);
}

/** The power series of a site's linked devices in [from, to), in at most `maxPoints` buckets. */
export async function siteSeries(pool: pg.Pool, siteId: string, range: { from: Date; to: Date; maxPoints: number }) {
  const spanS = Math.max(1, (range.to.getTime() - range.from.getTime()) / 1000);
  // whole seconds, at least 1 s, so that no more than maxPoints buckets cover the range
  const bucketS = Math.max(1, Math.ceil(spanS / range.maxPoints));
  const { rows } = await pool.query(
    `WITH s AS (
       SELECT rs.series_id, d.id AS device_id, d.kind, d.serial_number, rs.point, 'W' AS unit
       FROM erp.devices d
       JOIN raw.series rs ON rs.edge_id = d.edge_id AND rs.device_id = d.device_id
       WHERE d.site_id = $1 AND rs.point = ANY($5)
     ),
     b AS (
       SELECT r.series_id, floor(extract(epoch FROM r.ts - $2::timestamptz) / $4)::int AS i,
         avg(r.value) AS avg, min(r.value) AS min, max(r.value) AS max
       FROM raw.readings r JOIN s ON s.series_id = r.series_id
       WHERE r.ts >= $2 AND r.ts < $3 AND r.quality = 1 AND r.value IS NOT NULL
       GROUP BY 1, 2
     )
     SELECT s.device_id, s.kind, s.serial_number, s.point, s.unit,
       coalesce(jsonb_agg(jsonb_build_array(b.i, b.avg, b.min, b.max) ORDER BY b.i) FILTER (WHERE b.i IS NOT NULL), '[]') AS buckets
     FROM s LEFT JOIN b ON b.series_id = s.series_id
     GROUP BY 1, 2, 3, 4, 5 ORDER BY s.kind, s.serial_number, s.point`,
    [siteId, range.from, range.to, bucketS, POWER_POINTS()],
  );
  const n = Math.ceil(spanS / bucketS);
  const start = range.from.getTime() / 1000;
  return {
    from: range.from.toISOString(),
    to: range.to.toISOString(),
    bucketS,
    t: Array.from({ length: n }, (_, i) => start + i * bucketS),
    series: rows.map((r) => {
      const avg: (number | null)[] = new Array(n).fill(null);
      const min: (number | null)[] = new Array(n).fill(null);
      const max: (number | null)[] = new Array(n).fill(null);
      for (const [i, a, lo, hi] of r.buckets as [number, number, number, number][]) {
        if (i < 0 || i >= n) continue;
        avg[i] = a;
        min[i] = lo;
        max[i] = hi;
      }
      return {
        deviceId: r.device_id,
        kind: r.kind,
        serialNumber: r.serial_number,
        point: r.point,
        unit: r.unit,
        avg,
        min,
        max,
      };
    }),
  };
}

export const siteTelemetryRoutes: FastifyPluginAsyncTypebox<{ pool: pg.Pool }> = async (app, { pool }) => {
  const params = Type.Object({ id: Uuid });
  app.get(
    "/sites/:id/power",
    {
      config: { permission: "telemetry:read" },
      schema: {
        summary: "The power of a site's linked devices over a range, downsampled to at most maxPoints buckets",
        tags: ["telemetry"],
        params,
        querystring: SeriesQuery,
        response: { 200: SiteSeries },
      },
    },
    async (req) => {
      await requireSite(pool, req.params.id);
      const from = new Date(req.query.from);
      const to = new Date(req.query.to);
      const span = to.getTime() - from.getTime();
      if (!(span > 0 && span <= 400 * 86_400_000)) {
        throw Object.assign(hubError("HUB_ERR_VALIDATION", "to must lie after from, at most 400 days"), {
          problems: [{ path: "/to", message: "must lie after from, at most 400 days" }],
        });
      }
      return siteSeries(pool, req.params.id, { from, to, maxPoints: req.query.maxPoints });
    },
  );
  app.get(
    "/sites/:id/devices",
    {
      config: { permission: "telemetry:read" },
      schema: {
        summary: "A site's devices with their serial numbers, newest reading and open tickets",
        tags: ["telemetry"],
        params,
        response: { 200: Type.Array(SiteDevice) },
      },
    },
    async (req) => {
      await requireSite(pool, req.params.id);
      const { rows } = await pool.query(
        `SELECT d.id, d.kind, d.manufacturer, d.model, d.serial_number AS "serialNumber",
           to_char(d.warranty_end, 'YYYY-MM-DD') AS "warrantyEnd", d.edge_id AS "edgeId", d.device_id AS "deviceId",
           (SELECT max(r.ts) FROM raw.series rs JOIN LATERAL (
              SELECT ts FROM raw.readings WHERE series_id = rs.series_id ORDER BY ts DESC LIMIT 1) r ON true
            WHERE rs.edge_id = d.edge_id AND rs.device_id = d.device_id) AS "lastReadingAt",
           (SELECT count(*)::int FROM erp.tickets tk WHERE tk.device_id = d.id
            AND tk.status NOT IN ('resolved', 'closed', 'cancelled')) AS "openTickets"
         FROM erp.devices d WHERE d.site_id = $1 ORDER BY d.kind, d.serial_number`,
        [req.params.id],
      );
      return rows.map((r) => ({ ...r, lastReadingAt: r.lastReadingAt?.toISOString() ?? null }));
    },
  );
  app.get(
    "/sites/:id/days",
    {
      config: { permission: "telemetry:read" },
      schema: {
        summary:
          "A site's days from serving.site_daily: energy, specific yield, self-consumption, autarky, availability",
        tags: ["telemetry"],
        params,
        querystring: DaysQuery,
        response: { 200: Type.Array(Type.Record(Type.String(), Type.Unknown())) },
      },
    },
    async (req) => {
      await requireSite(pool, req.params.id);
      const { rows } = await pool.query(
        `SELECT to_char(day, 'YYYY-MM-DD') AS day, production_kwh, export_kwh, import_kwh, battery_charged_kwh,
           battery_discharged_kwh, specific_yield_kwh_per_kwp, self_consumption_rate, autarky_rate, availability,
           performance_ratio, estimated
         FROM serving.site_daily WHERE site_id = $1 AND day >= $2 AND day <= $3 ORDER BY day`,
        [req.params.id, req.query.from, req.query.to],
      );
      return rows.map((r) =>
        Object.fromEntries(
          Object.entries(r).map(([k, v]) => [k, typeof v === "string" && k !== "day" ? Number(v) : v]),
        ),
      );
    },
  );
};

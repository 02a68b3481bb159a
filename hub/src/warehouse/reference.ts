/**
 * Jobs that keep curated tables in line with the ERP: dimensions, device-status intervals and
 * project facts. Each statement upserts only rows that differ and removes rows whose source is
 * gone, so a pass over unchanged ERP data writes nothing. They run on every pass (the ERP has no
 * ingest window).
 */

/** `INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE differs` plus the DELETE of vanished keys. */
function sync(table: string, key: string[], columns: string[], select: string): string {
  const all = [...key, ...columns];
  const set = columns.map((c) => `${c} = EXCLUDED.${c}`).join(", ");
  const differs = `(${columns.map((c) => `t.${c}`).join(", ")}) IS DISTINCT FROM (${columns.map((c) => `EXCLUDED.${c}`).join(", ")})`;
  return `
INSERT INTO ${table} AS t (${all.join(", ")}) ${select}
ON CONFLICT (${key.join(", ")}) DO UPDATE SET ${set} WHERE ${differs};
DELETE FROM ${table} t WHERE NOT EXISTS (SELECT FROM (${select}) s WHERE ${key.map((k) => `s.${k} = t.${k}`).join(" AND ")});`;
}

/** The customer, site and device dimensions. */
export const dimensionsSql = [
  sync(
    "curated.dim_customer",
    ["customer_id"],
    ["name", "kind", "postal_code", "city", "country"],
    "SELECT id AS customer_id, name, kind, postal_code, city, country FROM erp.customers",
  ),
  sync(
    "curated.dim_site",
    ["site_id"],
    ["customer_id", "name", "postal_code", "city", "country", "kwp", "commissioning_date"],
    "SELECT id AS site_id, customer_id, name, postal_code, city, country, kwp, commissioning_date FROM erp.sites",
  ),
  sync(
    "curated.dim_device",
    ["device_key"],
    ["site_id", "edge_id", "device_id", "kind", "manufacturer", "model", "serial_number", "kwp_share"],
    `SELECT d.id AS device_key, d.site_id, d.edge_id, d.device_id, d.kind, d.manufacturer, d.model, d.serial_number,
       CASE WHEN d.kind = 'inverter' THEN round(s.kwp / count(*) FILTER (WHERE d.kind = 'inverter')
         OVER (PARTITION BY d.site_id), 3) END AS kwp_share
     FROM erp.devices d JOIN erp.sites s ON s.id = d.site_id WHERE d.edge_id IS NOT NULL`,
  ),
].join("\n");

/**
 * Fault and silence intervals from the tickets the monitor opens (cause `fault:<edge>/<device>:<code>`,
 * `silence:edge:<edge>`, `silence:device:<edge>/<device>`): from the ticket's opening to its recovery.
 */
export const deviceStatusSql = sync(
  "curated.fact_device_status",
  ["ticket_id"],
  ["edge_id", "device_id", "status", "code", "started_at", "ended_at"],
  `SELECT id AS ticket_id,
     CASE WHEN source = 'device_fault' THEN substring(cause FROM '^fault:([^/]+)/')
          WHEN cause LIKE 'silence:edge:%' THEN substring(cause FROM '^silence:edge:(.+)$')
          ELSE substring(cause FROM '^silence:device:([^/]+)/') END AS edge_id,
     CASE WHEN source = 'device_fault' THEN substring(cause FROM '^fault:[^/]+/(.+):[^:]*$')
          WHEN cause LIKE 'silence:device:%' THEN substring(cause FROM '^silence:device:[^/]+/(.+)$') END AS device_id,
     CASE WHEN source = 'device_fault' THEN 'fault' ELSE 'silence' END AS status,
     CASE WHEN source = 'device_fault' THEN substring(cause FROM ':([^:]*)$') END AS code,
     created_at AS started_at, recovered_at AS ended_at
   FROM erp.tickets WHERE source IN ('device_fault', 'silence') AND cause IS NOT NULL`,
);

/** Per project: hours booked and invoiced, material issued minus returned at purchase price, net invoiced. */
export const projectFactsSql = sync(
  "curated.fact_project",
  ["project_id"],
  [
    "customer_id",
    "site_id",
    "kind",
    "status",
    "budget_cents",
    "hours",
    "hours_invoiced",
    "material_cost_cents",
    "invoiced_net_cents",
  ],
  `SELECT p.id AS project_id, p.customer_id, p.site_id, p.kind, p.status, p.budget_cents,
     coalesce((SELECT sum(b.hours) FROM erp.time_bookings b WHERE b.project_id = p.id), 0)::numeric(10, 2) AS hours,
     coalesce((SELECT sum(b.hours) FROM erp.time_bookings b JOIN erp.invoiced_time_bookings i ON i.time_booking_id = b.id
       WHERE b.project_id = p.id), 0)::numeric(10, 2) AS hours_invoiced,
     coalesce((SELECT sum(CASE m.kind WHEN 'issue' THEN 1 WHEN 'return' THEN -1 ELSE 0 END
         * CASE WHEN r.id IS NULL THEN 1 ELSE 0 END * m.quantity * coalesce(a.purchase_price_cents, 0))
       FROM erp.stock_movements m JOIN erp.articles a ON a.id = m.article_id
       LEFT JOIN erp.stock_movements r ON r.reverses_id = m.id
       WHERE m.project_id = p.id AND m.reverses_id IS NULL), 0)::bigint AS material_cost_cents,
     coalesce((SELECT sum(CASE i.type_code WHEN 381 THEN -i.net_cents ELSE i.net_cents END) FROM erp.invoices i
       WHERE i.project_id = p.id AND i.status = 'finalised'), 0)::bigint AS invoiced_net_cents
   FROM erp.projects p`,
);

/** The serving views, refreshed concurrently (readers never wait; unchanged rows are not written). */
export const servingSql = [
  "REFRESH MATERIALIZED VIEW CONCURRENTLY serving.site_daily",
  "REFRESH MATERIALIZED VIEW CONCURRENTLY serving.site_monthly",
  "REFRESH MATERIALIZED VIEW CONCURRENTLY serving.project_margin",
].join(";\n");

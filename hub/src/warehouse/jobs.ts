import { type ChangedSql, energySql } from "./energy.js";
import { powerSql } from "./power.js";
import { deviceStatusSql, dimensionsSql, projectFactsSql, servingSql } from "./reference.js";

/**
 * What a job reads: the raw readings committed in an xid window ($1 ≤ ingest_xid < $2; readings
 * stored before the warehouse existed have none and belong to the first window) or, for a
 * backfill, those of a time range ($1 ≤ ts < $2).
 */
export type WindowKind = "incremental" | "backfill";

/** The raw readings (`r`) of a window. */
export const inWindow = (kind: WindowKind) =>
  kind === "incremental"
    ? "((r.ingest_xid >= $1 AND r.ingest_xid < $2) OR ($1 = 0 AND r.ingest_xid IS NULL))"
    : "(r.ts >= $1 AND r.ts < $2)";

/** A warehouse job, declared as data: what it reads and writes, at which grain, and its statement. */
export interface WarehouseJob {
  name: string;
  description: string;
  /** Datasets read (schema.table), for lineage and the catalog. */
  inputs: readonly string[];
  /** Datasets written. */
  outputs: readonly string[];
  grain: string;
  /** Jobs that must have run on the window first. */
  dependsOn: readonly string[];
  /**
   * What drives it: `raw` (default) loads the readings committed in its window ($1, $2);
   * `reference` keeps tables in line with the ERP on every pass (no parameters; a pass that
   * changes nothing is not a run); `serving` refreshes views when an upstream job changed rows.
   */
  source?: "raw" | "reference" | "serving";
  /** The statement loading one window ($1, $2 as `WindowKind` says); its row count is rows written. */
  sql(kind: WindowKind): string;
}

/** Series touched by the window with the first and last time touched. */
const changedSeries = (kind: WindowKind): ChangedSql =>
  `SELECT r.series_id, min(r.ts) AS a, max(r.ts) AS b FROM raw.readings r WHERE ${inWindow(kind)} GROUP BY r.series_id`;

/** Quarters touched by the window. */
const changedQuarters = (kind: WindowKind) =>
  `SELECT DISTINCT r.series_id, date_bin('15 minutes', r.ts, TIMESTAMPTZ '2000-01-01') AS s FROM raw.readings r WHERE ${inWindow(kind)}`;

/** The jobs, in an order that respects `dependsOn`. */
export const WAREHOUSE_JOBS: readonly WarehouseJob[] = [
  {
    name: "fact_energy_15min",
    description: "Energy per counter series and UTC quarter-hour from the corrected, interpolated counter",
    inputs: ["raw.readings", "raw.series", "staging.points"],
    outputs: ["curated.fact_energy_15min"],
    grain: "series × UTC quarter-hour",
    dependsOn: [],
    sql: (kind) => energySql(changedSeries(kind)),
  },
  {
    name: "fact_power_15min",
    description: "Average, minimum and maximum power per power series and UTC quarter-hour",
    inputs: ["raw.readings", "raw.series", "staging.points"],
    outputs: ["curated.fact_power_15min"],
    grain: "series × UTC quarter-hour",
    dependsOn: [],
    sql: (kind) => powerSql(changedQuarters(kind)),
  },
  {
    name: "dimensions",
    description: "Customers, sites and telemetry devices (with their kWp share) from the ERP",
    inputs: ["erp.customers", "erp.sites", "erp.devices"],
    outputs: ["curated.dim_customer", "curated.dim_site", "curated.dim_device"],
    grain: "customer; site; device",
    dependsOn: [],
    source: "reference",
    sql: () => dimensionsSql,
  },
  {
    name: "fact_device_status",
    description: "Fault and silence intervals of devices and edges, from the monitor's tickets",
    inputs: ["erp.tickets"],
    outputs: ["curated.fact_device_status"],
    grain: "interval (ticket)",
    dependsOn: [],
    source: "reference",
    sql: () => deviceStatusSql,
  },
  {
    name: "fact_project",
    description: "Hours and material cost per project against what was invoiced",
    inputs: [
      "erp.projects",
      "erp.time_bookings",
      "erp.invoiced_time_bookings",
      "erp.stock_movements",
      "erp.articles",
      "erp.invoices",
    ],
    outputs: ["curated.fact_project"],
    grain: "project",
    dependsOn: [],
    source: "reference",
    sql: () => projectFactsSql,
  },
  {
    name: "serving",
    description: "Per site and day, per site and month, and project margins, refreshed concurrently",
    inputs: [
      "curated.fact_energy_15min",
      "curated.fact_power_15min",
      "curated.dim_site",
      "curated.dim_device",
      "curated.fact_project",
    ],
    outputs: ["serving.site_daily", "serving.site_monthly", "serving.project_margin"],
    grain: "site × local day; site × month; project",
    dependsOn: ["fact_energy_15min", "fact_power_15min", "dimensions", "fact_project"],
    source: "serving",
    sql: () => servingSql,
  },
];

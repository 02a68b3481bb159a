import { energySql } from "./energy.js";
import { powerSql } from "./power.js";
import { deviceStatusSql, dimensionsSql, projectFactsSql, servingSql } from "./reference.js";
import { type ReadPlan, WINDOW_SERIES } from "./samples.js";

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
  /**
   * The statement; its row count is rows written. A `raw` job loads the series its window changed
   * (`WINDOW_SERIES`: $1 series ids, $2 and $3 the first and last reading time touched in each),
   * reading their samples as `plan` says; the others take no parameters.
   */
  sql(plan: ReadPlan): string;
}

/** The jobs, in an order that respects `dependsOn`. */
export const WAREHOUSE_JOBS: readonly WarehouseJob[] = [
  {
    name: "fact_energy_15min",
    description: "Energy per counter series and UTC quarter-hour from the corrected, interpolated counter",
    inputs: ["raw.readings", "raw.series", "staging.points"],
    outputs: ["curated.fact_energy_15min"],
    grain: "series × UTC quarter-hour",
    dependsOn: [],
    sql: (plan) => energySql(WINDOW_SERIES, plan),
  },
  {
    name: "fact_power_15min",
    description: "Average, minimum and maximum power per power series and UTC quarter-hour",
    inputs: ["raw.readings", "raw.series", "staging.points"],
    outputs: ["curated.fact_power_15min"],
    grain: "series × UTC quarter-hour",
    dependsOn: [],
    sql: (plan) => powerSql(WINDOW_SERIES, plan),
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

import { type ChangedSql, energySql } from "./energy.js";
import { powerSql } from "./power.js";

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
];

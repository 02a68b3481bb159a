/**
 * Data-quality rules as data (`hub/warehouse/quality-rules.yaml`): each rule is compiled to one
 * SQL statement that counts the rows it checks (`elements`), those failing it and a sample of
 * their keys, evaluated on what a warehouse run loaded — the quarters its window's readings
 * touched for the 15-minute facts, the window's readings for readings — in the run's own
 * transaction, so a rule sees the run's output before it commits. Results go to
 * `ops.quality_results`; a failed rule of severity `error` blocks the jobs downstream of the run's
 * job in that pass (`qualityHook`). Freshness is per pass, over every edge (`checkFreshness`).
 * `hub_quality_failed_share{rule,dataset}` holds each rule's last failure share, and
 * `hub_quality_alerts_total{rule,dataset}` counts evaluations whose share exceeded 1 %.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import { LineCounter, parseDocument } from "yaml";
import type { Queryable } from "../db/queryable.js";
import { inWindow, WAREHOUSE_JOBS, type WarehouseJob, type WindowKind } from "./jobs.js";
import type { RunContext, RunHooks } from "./runner.js";

/** The rules file. */
export const QUALITY_RULES_FILE = join(import.meta.dirname, "../../warehouse/quality-rules.yaml");

export const QUALITY_KINDS = [
  "not_null_share",
  "unique",
  "references",
  "accepted_range",
  "non_decreasing",
  "freshness",
] as const;
export type QualityKind = (typeof QUALITY_KINDS)[number];
export type Severity = "error" | "warn";

/** A rule's parameters, as the file spells them (each kind takes some of them). */
export interface QualityParams {
  /** not_null_share: the least share of rows with a value (0–1). */
  min_share?: number;
  /** references: the table (schema.table) and its column the value must occur in. */
  to?: string;
  field?: string;
  /** accepted_range: inclusive bounds. */
  min?: number;
  max?: number;
  /** accepted_range: an upper bound of `factor` × a reference value of the row (see REFERENCE_VALUES). */
  max_factor_of?: keyof typeof REFERENCE_VALUES;
  factor?: number;
  /** non_decreasing: the series and the order within it. */
  partition_by?: string;
  order_by?: string;
  /** non_decreasing: a decrease to a value below either is a reset, not a failure. */
  reset_below?: number;
  reset_below_share?: number;
  /** freshness: ages in seconds (the file writes durations: 90s, 15m, 1h, 2d). */
  warn_after?: number;
  error_after?: number;
}

export interface QualityRule {
  name: string;
  /** schema.table. */
  dataset: string;
  /** The job after whose runs it is evaluated (unset: the job writing `dataset`). */
  job?: string;
  kind: QualityKind;
  /** The column checked (`unique`: the compound key). */
  columns: string[];
  /** Columns naming a failing row in `sample_keys` (default: the dataset's grain, else `columns`). */
  key?: string[];
  /** SQL predicate on the dataset's columns choosing the rows checked (from the repository: trusted). */
  where?: string;
  params: QualityParams;
  severity: Severity;
  description: string;
}

/** One evaluation of a rule. */
export interface QualityResult {
  rule: string;
  dataset: string;
  status: "pass" | "fail";
  severity: Severity;
  elements: number;
  failures: number;
  /** failures / elements; null when nothing was checked. */
  failureShare: number | null;
  /** Keys (and values) of up to 10 failing rows. */
  sampleKeys: Record<string, unknown>[];
}

/** Which rows a rule is evaluated on: those a window loaded, or all (tables without a window). */
export type QualityWindow = { kind: WindowKind; from: string; to: string } | { kind: "all" };

/** A bad rules file: names the file, the rule (index, name, line) and each problem. */
export class QualityRulesError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`${file}: ${problems.length === 1 ? problems[0] : `\n  ${problems.join("\n  ")}`}`);
    this.name = "QualityRulesError";
  }
}

/**
 * Values a range may be relative to, per row of a dataset with `edge_id` and `device_id`.
 * rated_power: what the device reports itself (the inverter nature's `rated_power`, W; the newest
 * usable reading), else, for an inverter, its share of its site's kWp in the ERP (split evenly
 * over the site's inverters) in W — `erp.devices` has no rated power of its own.
 */
export const REFERENCE_VALUES = {
  rated_power: `coalesce(
    (SELECT r.value FROM raw.series s JOIN raw.readings r ON r.series_id = s.series_id
     WHERE s.edge_id = x.edge_id AND s.device_id = x.device_id AND s.point = 'rated_power'
       AND r.quality = 1 AND r.value > 0
     ORDER BY r.ts DESC LIMIT 1),
    (SELECT 1000 * st.kwp / nullif((SELECT count(*) FROM erp.devices o WHERE o.site_id = d.site_id AND o.kind = 'inverter'), 0)
     FROM erp.devices d JOIN erp.sites st ON st.id = d.site_id
     WHERE d.edge_id = x.edge_id AND d.device_id = x.device_id AND d.kind = 'inverter' AND st.kwp > 0))`,
} as const;

/**
 * How a dataset is scoped to a run's window: `quarters` (series_id, interval_start) — the quarters
 * the window's readings fall in and the one before each (a pair of samples spans both);
 * `readings` (series_id, ts) — the window's readings. Other datasets are checked whole.
 */
const GRAIN: Record<string, { scope: "quarters" | "readings"; key: string[] }> = {
  "curated.fact_energy_15min": { scope: "quarters", key: ["series_id", "interval_start"] },
  "curated.fact_power_15min": { scope: "quarters", key: ["series_id", "interval_start"] },
  "staging.readings": { scope: "readings", key: ["series_id", "ts"] },
  "raw.readings": { scope: "readings", key: ["series_id", "ts"] },
};

const RULE_KEYS = new Set([
  "name",
  "dataset",
  "job",
  "kind",
  "column",
  "columns",
  "key",
  "where",
  "params",
  "severity",
  "description",
]);
const PARAMS_OF: Record<QualityKind, readonly (keyof QualityParams)[]> = {
  not_null_share: ["min_share"],
  unique: [],
  references: ["to", "field"],
  accepted_range: ["min", "max", "max_factor_of", "factor"],
  non_decreasing: ["partition_by", "order_by", "reset_below", "reset_below_share"],
  freshness: ["warn_after", "error_after"],
};
const NAME = /^[a-z0-9_.-]{1,128}$/;
const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const TABLE = /^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$/;
const DURATION = /^(\d+(?:\.\d+)?)\s*(s|m|min|h|d)$/;
const SECONDS: Record<string, number> = { s: 1, m: 60, min: 60, h: 3600, d: 86_400 };

const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

function duration(v: unknown): number | undefined {
  if (isNumber(v) && v > 0) return v;
  const m = typeof v === "string" ? DURATION.exec(v.trim()) : null;
  return m ? Number(m[1]) * (SECONDS[m[2] as string] as number) : undefined;
}

/**
 * Reads and checks the rules file. Throws a `QualityRulesError` listing every problem, each
 * naming the rule (`rules[3] "name" (line 42)`) and the field: unknown keys, a missing or
 * malformed name, dataset, kind, column, severity or description, parameters a kind does not
 * take or lacks, duplicate names, a job that does not exist, a dataset no job writes without a
 * `job`.
 */
export function loadQualityRules(
  file = QUALITY_RULES_FILE,
  options: { jobs?: readonly WarehouseJob[]; text?: string } = {},
): QualityRule[] {
  const jobs = options.jobs ?? WAREHOUSE_JOBS;
  const text = options.text ?? readFileSync(file, "utf8");
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length) {
    // the first line of a YAML error ends in its position ("… at line 2, column 11:")
    throw new QualityRulesError(
      file,
      doc.errors.map((e) => `YAML error: ${(e.message.split("\n")[0] ?? "").replace(/:$/, "")}`),
    );
  }
  const root = doc.toJS() as { rules?: unknown } | null;
  if (!root || typeof root !== "object" || !Array.isArray(root.rules) || root.rules.length === 0) {
    throw new QualityRulesError(file, ["the file must hold `rules:`, a list of at least one rule"]);
  }
  const problems: string[] = [];
  const rules: QualityRule[] = [];
  const names = new Set<string>();
  const written = new Map<string, string>();
  for (const job of jobs) for (const out of job.outputs) written.set(out, job.name);
  root.rules.forEach((raw: unknown, i: number) => {
    const node = doc.getIn(["rules", i], true) as { range?: [number, number, number] } | undefined;
    const line = node?.range ? lines.linePos(node.range[0]).line : undefined;
    const spec = (raw && typeof raw === "object" && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
    const label = `rules[${i}]${typeof spec.name === "string" ? ` "${spec.name}"` : ""}${line ? ` (line ${line})` : ""}`;
    const before = problems.length;
    const problem = (message: string) => problems.push(`${label}: ${message}`);
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
      problem("a rule must be a mapping");
      return;
    }
    for (const k of Object.keys(spec)) if (!RULE_KEYS.has(k)) problem(`unknown key \`${k}\``);
    const name = spec.name;
    if (typeof name !== "string" || !NAME.test(name)) problem("name must be 1–128 characters of a-z, 0-9, _ . -");
    else if (names.has(name)) problem(`name ${name} is used by an earlier rule`);
    else names.add(name);
    const dataset = spec.dataset;
    if (typeof dataset !== "string" || !TABLE.test(dataset)) problem("dataset must be schema.table (lower case)");
    const kind = spec.kind as QualityKind;
    if (!QUALITY_KINDS.includes(kind)) problem(`kind must be one of ${QUALITY_KINDS.join(", ")}`);
    if (spec.severity !== "error" && spec.severity !== "warn") problem("severity must be error or warn");
    if (typeof spec.description !== "string" || !spec.description.trim()) problem("description is required");
    if (spec.where !== undefined && (typeof spec.where !== "string" || !spec.where.trim() || spec.where.includes(";")))
      problem("where must be one SQL predicate (no `;`)");
    if (spec.column !== undefined && spec.columns !== undefined) problem("give column or columns, not both");
    const columns =
      spec.columns !== undefined
        ? spec.columns
        : spec.column !== undefined
          ? [spec.column]
          : kind === "freshness"
            ? ["ts"]
            : [];
    if (!Array.isArray(columns) || columns.some((c) => typeof c !== "string" || !IDENT.test(c)))
      problem("column(s) must be lower-case column names");
    else if (columns.length === 0) problem(`kind ${kind} needs a column`);
    else if (kind !== "unique" && columns.length > 1) problem(`kind ${kind} checks one column (column:)`);
    if (
      spec.key !== undefined &&
      (!Array.isArray(spec.key) || spec.key.some((c) => typeof c !== "string" || !IDENT.test(c)))
    )
      problem("key must be a list of column names");
    const params = (spec.params ?? {}) as Record<string, unknown>;
    if (typeof params !== "object" || Array.isArray(params)) problem("params must be a mapping");
    const allowed = PARAMS_OF[kind] ?? [];
    for (const k of Object.keys(params))
      if (!allowed.includes(k as keyof QualityParams))
        problem(`params.${k} is not a parameter of ${kind} (${allowed.join(", ") || "it takes none"})`);
    const p: QualityParams = {};
    const share = (k: "min_share" | "reset_below_share") => {
      if (params[k] === undefined) return;
      if (!isNumber(params[k]) || params[k] < 0 || params[k] > 1) problem(`params.${k} must be a number from 0 to 1`);
      else p[k] = params[k];
    };
    const num = (k: "min" | "max" | "factor" | "reset_below") => {
      if (params[k] === undefined) return;
      if (!isNumber(params[k])) problem(`params.${k} must be a number`);
      else p[k] = params[k];
    };
    const ident = (k: "field" | "partition_by" | "order_by") => {
      if (params[k] === undefined) return;
      if (typeof params[k] !== "string" || !IDENT.test(params[k])) problem(`params.${k} must be a column name`);
      else p[k] = params[k];
    };
    switch (kind) {
      case "not_null_share":
        share("min_share");
        if (params.min_share === undefined) problem("params.min_share is required");
        break;
      case "references":
        if (typeof params.to !== "string" || !TABLE.test(params.to)) problem("params.to must be schema.table");
        else p.to = params.to;
        ident("field");
        if (params.field === undefined) problem("params.field is required");
        break;
      case "accepted_range":
        num("min");
        num("max");
        num("factor");
        if (params.max_factor_of !== undefined) {
          if (typeof params.max_factor_of !== "string" || !(params.max_factor_of in REFERENCE_VALUES))
            problem(`params.max_factor_of must be one of ${Object.keys(REFERENCE_VALUES).join(", ")}`);
          else p.max_factor_of = params.max_factor_of as keyof typeof REFERENCE_VALUES;
          if (!isNumber(params.factor) || params.factor <= 0) problem("params.factor must be a number above 0");
        } else if (params.factor !== undefined) problem("params.factor needs params.max_factor_of");
        if (params.min === undefined && params.max === undefined && params.max_factor_of === undefined)
          problem("params needs min, max or max_factor_of");
        if (isNumber(params.min) && isNumber(params.max) && params.min > params.max)
          problem("params.min is above params.max");
        break;
      case "non_decreasing":
        ident("partition_by");
        ident("order_by");
        num("reset_below");
        share("reset_below_share");
        if (typeof dataset === "string" && GRAIN[dataset]?.scope === "readings") {
          if ((p.partition_by ?? "series_id") !== "series_id" || (p.order_by ?? "ts") !== "ts")
            problem(`${dataset} is checked per series in time order: partition_by series_id, order_by ts`);
        }
        break;
      case "freshness": {
        for (const k of ["warn_after", "error_after"] as const) {
          if (params[k] === undefined) continue;
          const s = duration(params[k]);
          if (s === undefined) problem(`params.${k} must be a duration such as 15m, 1h or 2d`);
          else p[k] = s;
        }
        if (params.warn_after === undefined && params.error_after === undefined)
          problem("params needs warn_after or error_after");
        if (p.warn_after !== undefined && p.error_after !== undefined && p.warn_after >= p.error_after)
          problem("params.warn_after must be shorter than params.error_after");
        if (dataset !== "raw.edges") problem("freshness is checked per edge: dataset raw.edges");
        if (Array.isArray(columns) && columns[0] !== "ts" && columns[0] !== "last_seen_at")
          problem("freshness column must be ts (the newest reading) or last_seen_at (the last contact)");
        if (spec.job !== undefined) problem("freshness is checked per pass, not after a job (no job:)");
        break;
      }
    }
    if (kind !== "freshness") {
      if (spec.job !== undefined) {
        if (typeof spec.job !== "string" || !jobs.some((j) => j.name === spec.job))
          problem(`job must be one of ${jobs.map((j) => j.name).join(", ")}`);
      } else if (typeof dataset === "string" && TABLE.test(dataset) && !written.has(dataset)) {
        problem(`no job writes ${dataset}: name the job after which it is checked (job:)`);
      }
    }
    if (problems.length > before) return;
    rules.push({
      name: name as string,
      dataset: dataset as string,
      ...(spec.job !== undefined ? { job: spec.job as string } : {}),
      kind,
      columns: columns as string[],
      ...(spec.key !== undefined ? { key: spec.key as string[] } : {}),
      ...(spec.where !== undefined ? { where: (spec.where as string).trim() } : {}),
      params: p,
      severity: spec.severity as Severity,
      description: (spec.description as string).trim(),
    });
  });
  if (problems.length) throw new QualityRulesError(file, problems);
  return rules;
}

const q = (name: string) =>
  name
    .split(".")
    .map((part) => `"${part.replaceAll('"', '""')}"`)
    .join(".");
const lit = (n: number) => {
  if (!Number.isFinite(n)) throw new Error(`not a finite number: ${n}`);
  return `(${String(n)})::double precision`;
};

/** The window's quarters (and the one before each), as `series_id, s`. */
const touchedQuarters = (kind: WindowKind) =>
  `SELECT DISTINCT r.series_id, date_bin('15 minutes', r.ts, TIMESTAMPTZ '2000-01-01') - k.o * interval '15 minutes' AS s
   FROM raw.readings r CROSS JOIN (VALUES (0), (1)) AS k(o) WHERE ${inWindow(kind)}`;

/** The dataset's rows a window covers, filtered by the rule's `where`; whether it uses $1, $2. */
function scopedRows(rule: QualityRule, window: QualityWindow): { sql: string; windowed: boolean } {
  const ds = q(rule.dataset);
  const where = rule.where ? `WHERE ${rule.where}` : "";
  const grain = GRAIN[rule.dataset]?.scope;
  if (window.kind === "all" || !grain)
    return { sql: `SELECT * FROM (SELECT * FROM ${ds}) x ${where}`, windowed: false };
  if (grain === "quarters") {
    return {
      sql: `SELECT * FROM (
        SELECT d.* FROM (${touchedQuarters(window.kind)}) w
        CROSS JOIN LATERAL (SELECT * FROM ${ds} d WHERE d.series_id = w.series_id AND d.interval_start = w.s OFFSET 0) d
      ) x ${where}`,
      windowed: true,
    };
  }
  if (rule.dataset === "raw.readings") {
    return {
      sql: `SELECT * FROM (SELECT r.* FROM raw.readings r WHERE ${inWindow(window.kind)}) x ${where}`,
      windowed: true,
    };
  }
  return {
    sql: `SELECT * FROM (
      SELECT d.* FROM (SELECT DISTINCT r.series_id, r.ts FROM raw.readings r WHERE ${inWindow(window.kind)}) w
      CROSS JOIN LATERAL (SELECT * FROM ${ds} d WHERE d.series_id = w.series_id AND d.ts = w.ts OFFSET 0) d
    ) x ${where}`,
    windowed: true,
  };
}

/** `jsonb_build_object` of the columns (of alias `f`) and extras. */
const keyObject = (columns: string[], extra: Record<string, string> = {}) =>
  `jsonb_build_object(${[...columns.map((c) => `'${c}', f.${q(c)}`), ...Object.entries(extra).map(([k, v]) => `'${k}', ${v}`)].join(", ")})`;

/**
 * The statement evaluating a rule: one row of `elements`, `failures` and `samples` (a jsonb array
 * of at most 10 failing keys). `windowed`: it takes the window as $1, $2.
 */
export function ruleSql(rule: QualityRule, window: QualityWindow): { sql: string; windowed: boolean } {
  const col = q(rule.columns[0] as string);
  const key = rule.key ?? GRAIN[rule.dataset]?.key ?? rule.columns;
  const count = (checked: string, failing: string, sample: string) => `
  SELECT (SELECT count(*) FROM ${checked}) AS elements, (SELECT count(*) FROM ${checked} f WHERE ${failing}) AS failures,
    (SELECT coalesce(jsonb_agg(k), '[]'::jsonb) FROM (
       SELECT DISTINCT ${sample} AS k FROM ${checked} f WHERE ${failing} LIMIT 10) s) AS samples`;
  if (rule.kind === "non_decreasing") return nonDecreasingSql(rule, window, key);
  const scoped = scopedRows(rule, window);
  let sql: string;
  switch (rule.kind) {
    case "not_null_share":
      sql = `WITH x AS MATERIALIZED (${scoped.sql})${count("x", `f.${col} IS NULL`, keyObject(key))}`;
      break;
    case "unique": {
      const cols = rule.columns.map((c) => `x.${q(c)}`).join(", ");
      const anyNull = rule.columns.map((c) => `f.${q(c)} IS NULL`).join(" OR ");
      sql = `WITH x AS MATERIALIZED (${scoped.sql}),
        y AS (SELECT x.*, count(*) OVER (PARTITION BY ${cols}) AS n_ FROM x)
        ${count("y", `f.n_ > 1 OR ${anyNull}`, keyObject(rule.columns, { rows: "f.n_" }))}`;
      break;
    }
    case "references": {
      const to = q(rule.params.to as string);
      const field = q(rule.params.field as string);
      sql = `WITH x AS MATERIALIZED (${scoped.sql}), y AS (SELECT * FROM x WHERE x.${col} IS NOT NULL)
        ${count("y", `NOT EXISTS (SELECT FROM ${to} t WHERE t.${field} = f.${col})`, keyObject(key, { value: `f.${col}` }))}`;
      break;
    }
    case "accepted_range": {
      const { min, max, max_factor_of: of, factor } = rule.params;
      const bounds = [
        min !== undefined ? `f.${col} < ${lit(min)}` : null,
        max !== undefined ? `f.${col} > ${lit(max)}` : null,
        of ? `f.${col} > ${lit(factor as number)} * f.reference_` : null,
      ].filter(Boolean);
      const reference = of ? `, (${REFERENCE_VALUES[of]}) AS reference_` : "";
      const extra: Record<string, string> = { value: `f.${col}` };
      if (of) extra.limit = `${lit(factor as number)} * f.reference_`;
      sql = `WITH x AS MATERIALIZED (${scoped.sql}),
        y AS (SELECT x.*${reference} FROM x WHERE x.${col} IS NOT NULL),
        z AS (SELECT * FROM y ${of ? "WHERE reference_ IS NOT NULL" : ""})
        ${count("z", bounds.map((b) => `(${b})`).join(" OR "), keyObject(key, extra))}`;
      break;
    }
    case "freshness":
      throw new Error(`rule ${rule.name}: freshness is checked by checkFreshness, per pass`);
  }
  return { sql, windowed: scoped.windowed };
}

/**
 * Non-decreasing per partition in order: each row against the one before it (for a window, the
 * series' previous usable sample before the window's first — found on raw.readings' index — is
 * the first row's predecessor; it is not checked itself). A decrease to a value below
 * `reset_below` or `reset_below_share` × the previous value is a reset.
 */
function nonDecreasingSql(rule: QualityRule, window: QualityWindow, key: string[]) {
  const col = q(rule.columns[0] as string);
  const part = q(rule.params.partition_by ?? "series_id");
  const ord = q(rule.params.order_by ?? "ts");
  const ds = q(rule.dataset);
  const where = rule.where ? `WHERE ${rule.where}` : "";
  const resets = [
    rule.params.reset_below !== undefined ? `f.${col} < ${lit(rule.params.reset_below)}` : null,
    rule.params.reset_below_share !== undefined ? `f.${col} < ${lit(rule.params.reset_below_share)} * f.prev_` : null,
  ].filter(Boolean);
  const failing = `f.${col} < f.prev_${resets.length ? ` AND NOT (${resets.join(" OR ")})` : ""}`;
  const windowed = window.kind !== "all" && GRAIN[rule.dataset]?.scope === "readings";
  const rows = windowed
    ? `SELECT y.*, lag(y.${col}) OVER o AS prev_, lag(y.${ord}) OVER o AS prev_at_, y.${ord} >= t.a AS checked_
       FROM (SELECT r.series_id AS p, min(r.ts) AS a, max(r.ts) AS b FROM raw.readings r WHERE ${inWindow(window.kind)} GROUP BY 1) t
       CROSS JOIN LATERAL (
         SELECT * FROM (
           SELECT * FROM ${ds} d WHERE d.series_id = t.p AND d.ts <= t.b AND d.ts >= coalesce(
             (SELECT r.ts FROM raw.readings r WHERE r.series_id = t.p AND r.ts < t.a AND r.quality = 1 AND r.value IS NOT NULL
              ORDER BY r.ts DESC LIMIT 1), t.a)
           OFFSET 0
         ) z ${where}
       ) y
       WINDOW o AS (PARTITION BY y.${part} ORDER BY y.${ord})`
    : `SELECT y.*, lag(y.${col}) OVER o AS prev_, lag(y.${ord}) OVER o AS prev_at_, true AS checked_
       FROM (SELECT * FROM (SELECT * FROM ${ds}) z ${where}) y
       WINDOW o AS (PARTITION BY y.${part} ORDER BY y.${ord})`;
  const sample = keyObject(key, { value: `f.${col}`, previous: "f.prev_", previous_at: "f.prev_at_" });
  const sql = `WITH x AS MATERIALIZED (${rows}), y AS (SELECT * FROM x WHERE checked_ AND prev_ IS NOT NULL)
  SELECT (SELECT count(*) FROM y) AS elements, (SELECT count(*) FROM y f WHERE ${failing}) AS failures,
    (SELECT coalesce(jsonb_agg(k), '[]'::jsonb) FROM (SELECT ${sample} AS k FROM y f WHERE ${failing} LIMIT 10) s) AS samples`;
  return { sql, windowed };
}

function verdict(rule: QualityRule, elements: number, failures: number, samples: unknown): QualityResult {
  const failureShare = elements > 0 ? failures / elements : null;
  const failed =
    rule.kind === "not_null_share"
      ? elements > 0 && 1 - failures / elements < (rule.params.min_share as number)
      : failures > 0;
  return {
    rule: rule.name,
    dataset: rule.dataset,
    status: failed ? "fail" : "pass",
    severity: rule.severity,
    elements,
    failures,
    failureShare,
    sampleKeys: (samples as Record<string, unknown>[]) ?? [],
  };
}

/** Evaluates one rule (not freshness) on the rows of `window`; throws naming the rule if its SQL fails. */
export async function evaluateRule(db: Queryable, rule: QualityRule, window: QualityWindow): Promise<QualityResult> {
  const { sql, windowed } = ruleSql(rule, window);
  try {
    const { rows } = await db.query(sql, windowed && window.kind !== "all" ? [window.from, window.to] : []);
    const row = rows[0] as { elements: string; failures: string; samples: unknown };
    return verdict(rule, Number(row.elements), Number(row.failures), row.samples);
  } catch (err) {
    const e = err as Error & { code?: string };
    throw Object.assign(new Error(`quality rule ${rule.name} (${rule.dataset}): ${e.message}`, { cause: err }), {
      code: e.code,
    });
  }
}

/** The rules a run of `job` evaluates: those naming it, and those on its outputs naming no job. */
export const rulesOfJob = (rules: readonly QualityRule[], job: WarehouseJob) =>
  rules.filter((r) => r.kind !== "freshness" && (r.job ? r.job === job.name : job.outputs.includes(r.dataset)));

/** The two metrics on `registry`, registered once however many hooks share it. */
function qualityMetrics(registry: Registry) {
  const failedShare =
    (registry.getSingleMetric("hub_quality_failed_share") as Gauge | undefined) ??
    new Gauge({
      name: "hub_quality_failed_share",
      help: "Share of the rows (edges, for freshness) that failed a data-quality rule at its last evaluation",
      labelNames: ["rule", "dataset"],
      registers: [registry],
    });
  const alerts =
    (registry.getSingleMetric("hub_quality_alerts_total") as Counter | undefined) ??
    new Counter({
      name: "hub_quality_alerts_total",
      help: "Data-quality evaluations whose failure share exceeded the alert threshold (1 %)",
      labelNames: ["rule", "dataset"],
      registers: [registry],
    });
  return { failedShare, alerts };
}

interface Observe {
  registry?: Registry;
  /** Failure share above which an evaluation counts as an alert (default 0.01). */
  alertShare?: number;
}

function observer(options: Observe) {
  const metrics = options.registry ? qualityMetrics(options.registry) : undefined;
  const alertShare = options.alertShare ?? 0.01;
  return (result: QualityResult) => {
    if (!metrics) return;
    const labels = { rule: result.rule, dataset: result.dataset };
    metrics.failedShare.set(labels, result.failureShare ?? 0);
    if ((result.failureShare ?? 0) > alertShare) metrics.alerts.inc(labels);
  };
}

/** Stores results with the run (or pass) they belong to. */
export async function storeQualityResults(
  db: Queryable,
  results: readonly QualityResult[],
  context: { runId?: string; job?: string; windowKind: WindowKind | "pass"; from?: string | null; to?: string | null },
): Promise<void> {
  if (!results.length) return;
  await db.query(
    `INSERT INTO ops.quality_results (rule, dataset, run_id, job, window_kind, window_from, window_to, status, severity,
       elements, failures, failure_share, sample_keys)
     SELECT x.rule, x.dataset, $2::uuid, $3, $4, $5, $6, x.status, x.severity, x.elements, x.failures, x.failure_share, x.sample_keys
     FROM jsonb_to_recordset($1::jsonb) AS x(rule text, dataset text, status text, severity text, elements bigint,
       failures bigint, failure_share double precision, sample_keys jsonb)`,
    [
      JSON.stringify(
        results.map((r) => ({
          rule: r.rule,
          dataset: r.dataset,
          status: r.status,
          severity: r.severity,
          elements: r.elements,
          failures: r.failures,
          failure_share: r.failureShare,
          sample_keys: r.sampleKeys.slice(0, 10),
        })),
      ),
      context.runId ?? null,
      context.job ?? null,
      context.windowKind,
      context.from ?? null,
      context.to ?? null,
    ],
  );
}

/** The window a run's rules look at: its xids or times for raw-driven jobs, else the whole table. */
const windowOf = (run: RunContext): QualityWindow =>
  (run.job.source ?? "raw") === "raw" ? { kind: run.kind, from: run.window.from, to: run.window.to } : { kind: "all" };

/**
 * The warehouse's `afterLoad` hook: evaluates the rules of the run's job on its window, stores
 * the results with the run, updates the metrics and returns the failed rules of severity
 * `error` as `blocking` (their downstream jobs skip this pass as `blocked`). The rules are read
 * when the hook is made, so a bad file stops the start with its error.
 */
export function qualityHook(
  options: Observe & {
    rules?: readonly QualityRule[];
    file?: string;
    log?: Logger;
    jobs?: readonly WarehouseJob[];
  } = {},
): NonNullable<RunHooks["afterLoad"]> {
  const rules = options.rules ?? loadQualityRules(options.file, { jobs: options.jobs });
  const observe = observer(options);
  return async (tx: pg.PoolClient, run: RunContext) => {
    const mine = rulesOfJob(rules, run.job);
    if (!mine.length) return { blocking: [] };
    const window = windowOf(run);
    const results: QualityResult[] = [];
    for (const rule of mine) results.push(await evaluateRule(tx, rule, window));
    await storeQualityResults(tx, results, {
      runId: run.runId,
      job: run.job.name,
      windowKind: run.kind,
      from: run.window.from,
      to: run.window.to,
    });
    results.forEach(observe);
    // for the lineage hook: OpenLineage DataQualityAssertions on the run's inputs the rules are about
    Object.assign(run, {
      assertions: results.map((r, i) => ({
        assertion: r.rule,
        success: r.status === "pass",
        ...(mine[i]?.columns.length === 1 ? { column: mine[i]?.columns[0] } : {}),
        severity: r.severity,
        dataset: r.dataset,
      })),
    });
    const failed = results.filter((r) => r.status === "fail");
    if (failed.length) {
      options.log?.warn(
        {
          job: run.job.name,
          runId: run.runId,
          failed: failed.map((r) => ({ rule: r.rule, severity: r.severity, failures: r.failures })),
        },
        "data-quality rules failed",
      );
    }
    return { blocking: failed.filter((r) => r.severity === "error").map((r) => r.rule) };
  };
}

/**
 * Freshness, per pass: for each rule, each edge's newest reading (`ts`, not after now: a clock
 * running ahead does not make an edge fresh) or last contact (`last_seen_at`); an edge without a
 * reading counts from its first contact. Failures are the edges older than `warn_after` (or
 * `error_after` alone); the result's severity is `error` when one is older than `error_after`
 * (and the rule's severity allows it). Stores the results (window `pass`) and updates the metrics.
 */
export async function checkFreshness(
  db: Queryable,
  options: Observe & { rules?: readonly QualityRule[]; file?: string; now?: Date } = {},
): Promise<QualityResult[]> {
  const rules = (options.rules ?? loadQualityRules(options.file)).filter((r) => r.kind === "freshness");
  const now = options.now ?? new Date();
  const results: QualityResult[] = [];
  for (const rule of rules) {
    const warn = rule.params.warn_after ?? (rule.params.error_after as number);
    const error = rule.params.error_after ?? Number.POSITIVE_INFINITY;
    const newest =
      rule.columns[0] === "last_seen_at"
        ? "e.last_seen_at"
        : `(SELECT max(n.ts) FROM raw.series s CROSS JOIN LATERAL (
             SELECT r.ts FROM raw.readings r WHERE r.series_id = s.series_id AND r.ts <= $1 ORDER BY r.ts DESC LIMIT 1) n
           WHERE s.edge_id = e.edge_id)`;
    const { rows } = await db.query(
      `WITH a AS (
         SELECT e.edge_id, n.newest, extract(epoch FROM $1::timestamptz - coalesce(n.newest, e.first_seen_at))::double precision AS age_s
         FROM (SELECT * FROM raw.edges ${rule.where ? `WHERE ${rule.where}` : ""}) e
         CROSS JOIN LATERAL (SELECT ${newest} AS newest) n
       )
       SELECT count(*) AS elements, count(*) FILTER (WHERE age_s > $2) AS failures, count(*) FILTER (WHERE age_s > $3) AS errors,
         (SELECT coalesce(jsonb_agg(jsonb_build_object('edge_id', edge_id, 'newest', newest, 'age_s', round(age_s::numeric),
             'level', CASE WHEN age_s > $3 THEN 'error' ELSE 'warn' END) ORDER BY age_s DESC), '[]'::jsonb)
          FROM (SELECT * FROM a WHERE age_s > $2 ORDER BY age_s DESC LIMIT 10) s) AS samples
       FROM a`,
      [now, warn, Number.isFinite(error) ? error : null],
    );
    const row = rows[0] as { elements: string; failures: string; errors: string; samples: unknown };
    const result = verdict(rule, Number(row.elements), Number(row.failures), row.samples);
    if (result.status === "fail" && Number(row.errors) === 0) result.severity = "warn";
    results.push(result);
  }
  await storeQualityResults(db, results, { windowKind: "pass", to: now.toISOString() });
  results.forEach(observer(options));
  return results;
}

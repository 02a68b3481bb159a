import { readFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import { parse } from "yaml";
import type { Queryable } from "../db/queryable.js";
import { ERP_ENTITIES } from "../erp/index.js";
import { snakeCase } from "../platform/resources/fields.js";
import { WAREHOUSE_JOBS } from "./jobs.js";

/** How sensitive a dataset or column is: sensitive columns are personal data. */
export type Classification = "public" | "internal" | "sensitive";

/** A catalogued column. */
export interface CatalogColumn {
  name: string;
  description: string;
  classification: Classification;
}

/** A catalogued dataset (a table, view or materialized view). */
export interface CatalogDataset {
  /** `schema.table`. */
  name: string;
  layer: "raw" | "staging" | "curated" | "serving" | "erp";
  description: string;
  owner: string;
  classification: Classification;
  tags: string[];
  columns: CatalogColumn[];
}

/** The catalog file: `hub/warehouse/catalog.yaml`. */
export const CATALOG_FILE = join(import.meta.dirname, "../../warehouse/catalog.yaml");

/** The layer each access group may read (column by column where a column is sensitive). */
export const LAYER_READERS = {
  raw: "steinmetz_integration",
  curated: "steinmetz_analyst",
  serving: "steinmetz_app",
} as const;

type ColumnSpec = string | { description: string; classification?: Classification };
interface DatasetSpec {
  description: string;
  owner: string;
  classification: Classification;
  tags?: string[];
  columns?: Record<string, ColumnSpec>;
  /** Columns of a declared ERP entity that are personal data. */
  sensitive?: string[];
  /** The table has the common columns (id, version, created_at, updated_at) without being an entity. */
  common?: boolean;
}

const CLASSES = new Set(["public", "internal", "sensitive"]);

/**
 * Reads the catalog: the file's datasets, and for ERP tables declared as entities their columns
 * from the declarations (label in English, help if any) plus the file's common columns. Throws,
 * naming the dataset, for a missing owner, a wrong classification or a declared entity without an entry.
 */
export function loadCatalog(file = CATALOG_FILE): CatalogDataset[] {
  if (file !== CATALOG_FILE) return readCatalog(file);
  shipped ??= readCatalog(file);
  return shipped;
}

/** The shipped catalog, read once per process (it changes only with a deploy). */
let shipped: CatalogDataset[] | undefined;

function readCatalog(file: string): CatalogDataset[] {
  const doc = parse(readFileSync(file, "utf8")) as {
    common: Record<string, string>;
    datasets: Record<string, DatasetSpec>;
  };
  const entities = new Map(ERP_ENTITIES.map((e) => [e.table, e]));
  for (const table of entities.keys()) {
    if (!doc.datasets[table]) throw new Error(`catalog: the ERP entity table ${table} has no entry`);
  }
  return Object.entries(doc.datasets).map(([name, spec]) => {
    const where = `catalog: ${name}`;
    if (!spec.description || !spec.owner) throw new Error(`${where}: description and owner are required`);
    if (!CLASSES.has(spec.classification))
      throw new Error(`${where}: classification must be public, internal or sensitive`);
    const layer = name.split(".")[0] as CatalogDataset["layer"];
    const column = (col: string, c: ColumnSpec): CatalogColumn => {
      const classification = typeof c === "string" ? undefined : c.classification;
      if (classification && !CLASSES.has(classification))
        throw new Error(`${where}.${col}: classification ${classification}`);
      return {
        name: col,
        description: typeof c === "string" ? c : c.description,
        classification: spec.sensitive?.includes(col) ? "sensitive" : (classification ?? spec.classification),
      };
    };
    const columns = new Map<string, CatalogColumn>();
    const entity = entities.get(name);
    if (entity || spec.common) {
      for (const [key, text] of Object.entries(doc.common)) columns.set(key, column(key, text));
    }
    if (entity) {
      for (const [key, field] of Object.entries(entity.fields)) {
        const col = field.column ?? snakeCase(key);
        columns.set(col, column(col, field.help ? `${field.label.en} (${field.help.en})` : field.label.en));
      }
    }
    for (const [col, c] of Object.entries(spec.columns ?? {})) columns.set(col, column(col, c));
    return {
      name,
      layer,
      description: spec.description,
      owner: spec.owner,
      classification: spec.classification,
      tags: spec.tags ?? [],
      columns: [...columns.values()],
    };
  });
}

const quoteIdent = (name: string) =>
  name
    .split(".")
    .map((part) => `"${part.replaceAll('"', '""')}"`)
    .join(".");

/**
 * Grants each layer's reader group SELECT on its layer's datasets — column by column where a
 * column is sensitive, so no sensitive column is granted (and a `security_invoker` view over it
 * fails for the group too). Run by the database owner after migrations; idempotent.
 */
export async function applyCatalogGrants(db: Queryable, catalog = loadCatalog()): Promise<void> {
  const { rows: roles } = await db.query("SELECT rolname FROM pg_roles WHERE rolname = ANY($1)", [
    Object.values(LAYER_READERS),
  ]);
  const existing = new Set(roles.map((r) => r.rolname as string));
  for (const dataset of catalog) {
    const role = LAYER_READERS[dataset.layer as keyof typeof LAYER_READERS];
    if (!role || !existing.has(role)) continue;
    const { rows } = await db.query("SELECT to_regclass($1) IS NOT NULL AS present", [dataset.name]);
    if (!rows[0]?.present) continue;
    const open = dataset.columns.filter((c) => c.classification !== "sensitive");
    const table = quoteIdent(dataset.name);
    // SELECT only (table and columns): what else a group may do (integration writes raw) stays
    await db.query(`REVOKE SELECT ON ${table} FROM ${role}`);
    if (open.length === dataset.columns.length) await db.query(`GRANT SELECT ON ${table} TO ${role}`);
    else if (open.length)
      await db.query(`GRANT SELECT (${open.map((c) => quoteIdent(c.name)).join(", ")}) ON ${table} TO ${role}`);
  }
}

/** Each dataset as the database has it: kind, and every column with its type. */
async function describe(db: Queryable) {
  const { rows } = await db.query(
    `SELECT n.nspname || '.' || c.relname AS name,
       CASE c.relkind WHEN 'v' THEN 'View' WHEN 'm' THEN 'MaterializedView' WHEN 'p' THEN 'Partitioned' ELSE 'Regular' END AS table_type,
       jsonb_agg(jsonb_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'position', a.attnum)
         ORDER BY a.attnum) AS columns
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE n.nspname IN ('raw', 'staging', 'curated', 'serving', 'erp') AND c.relkind IN ('r', 'v', 'm', 'p')
       AND NOT c.relispartition
     GROUP BY 1, 2`,
  );
  return new Map(
    rows.map((r) => [
      r.name as string,
      r as { table_type: string; columns: { name: string; type: string; position: number }[] },
    ]),
  );
}

/**
 * The catalog as the API serves it: each dataset with its columns' types, its freshness (raw:
 * the newest edge contact; warehouse outputs: the producing job's last run that changed rows;
 * ERP tables: the newest `updated_at`) and its last quality result; `q` searches names,
 * descriptions, tags and column names.
 */
export async function catalogDatasets(db: pg.Pool, options: { q?: string } = {}) {
  const catalog = loadCatalog();
  const described = await describe(db);
  const q = options.q?.toLowerCase();
  const matching = catalog.filter(
    (d) =>
      !q ||
      [d.name, d.description, ...d.tags, ...d.columns.map((c) => c.name)].some((text) =>
        text.toLowerCase().includes(q),
      ),
  );
  const jobs = await db.query("SELECT job, changed_at FROM ops.warehouse_jobs");
  const changed = new Map(jobs.rows.map((r) => [r.job as string, r.changed_at as Date | null]));
  const quality = await lastQuality(db);
  const rawFreshness: Date | null = (await db.query("SELECT max(last_seen_at) AS t FROM raw.edges")).rows[0].t;
  const out = [];
  for (const d of matching) {
    const found = described.get(d.name);
    const types = new Map(found?.columns.map((c) => [c.name, c]) ?? []);
    let freshness: Date | null = null;
    if (d.layer === "raw") freshness = rawFreshness;
    else if (d.layer === "erp" && types.has("updated_at")) {
      freshness = (await db.query(`SELECT max(updated_at) AS t FROM ${quoteIdent(d.name)}`)).rows[0].t;
    } else {
      const job = WAREHOUSE_JOBS.find((j) => j.outputs.includes(d.name));
      freshness = job ? (changed.get(job.name) ?? null) : null;
    }
    out.push({
      ...d,
      tableType: found?.table_type ?? null,
      columns: d.columns.map((c) => ({
        ...c,
        type: types.get(c.name)?.type ?? null,
        position: types.get(c.name)?.position ?? null,
      })),
      freshness: freshness?.toISOString() ?? null,
      quality: quality.get(d.name) ?? null,
    });
  }
  return out;
}

/** The newest result of each rule per dataset, summed up (none before the quality rules ran). */
async function lastQuality(db: Queryable) {
  const { rows: present } = await db.query("SELECT to_regclass('ops.quality_results') IS NOT NULL AS present");
  if (!present[0]?.present) return new Map<string, { status: string; checkedAt: string; failedRules: string[] }>();
  const { rows } = await db.query(
    `SELECT dataset, bool_and(status = 'pass') AS pass, max(checked_at) AS checked_at,
       coalesce(array_agg(rule) FILTER (WHERE status <> 'pass'), '{}') AS failed
     FROM (SELECT DISTINCT ON (dataset, rule) dataset, rule, status, checked_at FROM ops.quality_results
           ORDER BY dataset, rule, checked_at DESC) latest
     GROUP BY dataset`,
  );
  return new Map(
    rows.map((r) => [
      r.dataset as string,
      {
        status: r.pass ? "pass" : "fail",
        checkedAt: (r.checked_at as Date).toISOString(),
        failedRules: r.failed as string[],
      },
    ]),
  );
}

/** OpenMetadata's data type names for PostgreSQL's. */
function openMetadataType(pgType: string | null): string {
  const t = (pgType ?? "").replace(/\(.*\)/, "").replace(/\[\]$/, "");
  const map: Record<string, string> = {
    integer: "INT",
    bigint: "BIGINT",
    smallint: "SMALLINT",
    numeric: "NUMERIC",
    "double precision": "DOUBLE",
    text: "TEXT",
    boolean: "BOOLEAN",
    date: "DATE",
    "timestamp with time zone": "TIMESTAMPZ",
    uuid: "UUID",
    jsonb: "JSON",
    int8multirange: "UNKNOWN",
  };
  return pgType?.endsWith("[]") ? "ARRAY" : (map[t] ?? "UNKNOWN");
}

/**
 * The catalog as OpenMetadata `Table` entities (fullyQualifiedName `<service>.<database>.<schema>.<table>`,
 * columns with dataType and `PII.Sensitive` tags, owners as teams, classification and tags as
 * tag labels), for an OpenMetadata ingestion to read.
 */
export async function openMetadataExport(db: pg.Pool, options: { service?: string; database?: string } = {}) {
  const service = options.service ?? "steinmetz-hub";
  const database = options.database ?? ((await db.query("SELECT current_database() AS d")).rows[0].d as string);
  const label = (tagFQN: string) => ({ tagFQN, source: "Classification", labelType: "Manual", state: "Confirmed" });
  return (await catalogDatasets(db)).map((d) => {
    const [schema, table] = d.name.split(".") as [string, string];
    return {
      name: table,
      fullyQualifiedName: `${service}.${database}.${schema}.${table}`,
      description: d.description,
      tableType: d.tableType ?? "Regular",
      columns: d.columns.map((c) => ({
        name: c.name,
        dataType: openMetadataType(c.type),
        dataTypeDisplay: c.type,
        description: c.description,
        ordinalPosition: c.position,
        tags: c.classification === "sensitive" ? [label("PII.Sensitive")] : [],
      })),
      owners: [{ name: d.owner, type: "team" }],
      tags: [
        label(`DataClassification.${d.classification}`),
        ...d.tags.map((t) => ({ ...label(`Tags.${t}`), source: "Classification" })),
      ],
      extension: { layer: d.layer, freshness: d.freshness, quality: d.quality },
    };
  });
}

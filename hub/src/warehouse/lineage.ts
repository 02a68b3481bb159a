import type pg from "pg";
import type { Logger } from "pino";
import { HUB_VERSION } from "../version.js";
import type { RunContext, RunHooks } from "./runner.js";

/**
 * OpenLineage (spec 2-0-2) for the warehouse: every run's START and COMPLETE or FAIL RunEvent,
 * written to `ops.lineage_events` in the run's own transaction, and a relay that POSTs them in
 * order to an OpenLineage endpoint (Marquez: `POST {url}/api/v1/lineage`).
 * Spec: https://openlineage.io/spec/2-0-2/OpenLineage.json, facets under
 * https://openlineage.io/spec/facets/.
 */

/** The `schemaURL` of the events. */
export const RUN_EVENT_SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
/** Who produced the events: the hub's source at its version. */
export const LINEAGE_PRODUCER = `https://github.com/steinmetz/hub/tree/${HUB_VERSION}`;
/** The namespace of the warehouse's jobs. */
export const LINEAGE_JOB_NAMESPACE = "steinmetz-hub";

/** The standard facets emitted, as `<version>/<name>` of their schema files. */
const FACET_SCHEMAS = {
  schema: "1-2-0/SchemaDatasetFacet",
  outputStatistics: "1-0-2/OutputStatisticsOutputDatasetFacet",
  dataQualityAssertions: "1-1-0/DataQualityAssertionsDatasetFacet",
  jobType: "2-0-4/JobTypeJobFacet",
  sql: "1-1-0/SQLJobFacet",
  nominalTime: "1-0-1/NominalTimeRunFacet",
  errorMessage: "1-0-1/ErrorMessageRunFacet",
} as const;

/** A facet's `_producer` and `_schemaURL` (e.g. `…/facets/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet`). */
function facet(key: keyof typeof FACET_SCHEMAS, producer: string) {
  const [version, name] = FACET_SCHEMAS[key].split("/") as [string, string];
  return {
    _producer: producer,
    _schemaURL: `https://openlineage.io/spec/facets/${version}/${name}.json#/$defs/${name}`,
  };
}

type Facets = Record<string, Record<string, unknown>>;

/** One dataset of an event. */
export interface LineageDataset {
  namespace: string;
  name: string;
  facets?: Facets;
  inputFacets?: Facets;
  outputFacets?: Facets;
}

/** An OpenLineage RunEvent as the hub emits it. */
export interface RunEvent {
  eventType: "START" | "COMPLETE" | "FAIL";
  eventTime: string;
  producer: string;
  schemaURL: string;
  run: { runId: string; facets?: Facets };
  job: { namespace: string; name: string; facets: Facets };
  inputs: LineageDataset[];
  outputs: LineageDataset[];
}

/**
 * A data-quality assertion on an input of the run (DataQualityAssertionsDatasetFacet): what was
 * checked, whether it held, on which column, how severe a failure is; `dataset` (`schema.table`)
 * names the input it is about (unset: every input of the run).
 */
export interface LineageAssertion {
  assertion: string;
  success: boolean;
  column?: string;
  severity?: "error" | "warn";
  dataset?: string;
}

/** A column of a dataset (SchemaDatasetFacet field). */
export interface LineageColumn {
  name: string;
  type: string;
  description?: string;
  ordinal_position: number;
}

/** Where the datasets live: `postgres://host:port` and the database (dataset names are `<database>.<schema>.<table>`). */
export interface LineageDatabase {
  namespace: string;
  database: string;
}

/** What an event is built from besides the run. */
export interface RunEventOptions {
  database: LineageDatabase;
  /** Columns by dataset (`schema.table`); a dataset without an entry gets no schema facet. */
  columns: ReadonlyMap<string, readonly LineageColumn[]>;
  eventTime: Date;
  /** A FAIL event's error (ErrorMessageRunFacet). */
  error?: unknown;
  /** Results of the data-quality rules: a DataQualityAssertionsDatasetFacet on the inputs they are about. */
  assertions?: readonly LineageAssertion[];
  producer?: string;
  jobNamespace?: string;
}

/**
 * One RunEvent of a run: the job (JobTypeJobFacet BATCH/STEINMETZ/QUERY, SQLJobFacet with its
 * statement), its inputs and outputs with their schema, a backfill's time window
 * (NominalTimeRunFacet); a COMPLETE event the output statistics (rows written, for a job with one
 * output: the runner counts rows per job, not per table), a FAIL event the error message and
 * stack; a terminal event the data-quality assertions on its inputs.
 */
export function runEvent(run: RunContext, eventType: RunEvent["eventType"], options: RunEventOptions): RunEvent {
  const producer = options.producer ?? LINEAGE_PRODUCER;
  const { namespace, database } = options.database;
  const dataset = (name: string): LineageDataset => {
    const columns = options.columns.get(name);
    return {
      namespace,
      name: `${database}.${name}`,
      ...(columns?.length ? { facets: { schema: { ...facet("schema", producer), fields: [...columns] } } } : {}),
    };
  };
  const terminal = eventType !== "START";
  const inputs = run.job.inputs.map((name) => {
    const about = terminal ? (options.assertions ?? []).filter((a) => (a.dataset ?? name) === name) : [];
    const input = dataset(name);
    if (about.length) {
      const assertions = about.map(({ dataset: _, ...a }) => a);
      input.inputFacets = { dataQualityAssertions: { ...facet("dataQualityAssertions", producer), assertions } };
    }
    return input;
  });
  const outputs = run.job.outputs.map((name) => {
    const output = dataset(name);
    if (eventType === "COMPLETE" && run.job.outputs.length === 1 && run.rowsWritten !== undefined) {
      output.outputFacets = { outputStatistics: { ...facet("outputStatistics", producer), rowCount: run.rowsWritten } };
    }
    return output;
  });
  const runFacets: Facets = {};
  if (run.kind === "backfill") {
    runFacets.nominalTime = {
      ...facet("nominalTime", producer),
      nominalStartTime: run.window.from,
      nominalEndTime: run.window.to,
    };
  }
  if (eventType === "FAIL") {
    const e = options.error as { message?: unknown; stack?: unknown } | undefined;
    runFacets.errorMessage = {
      ...facet("errorMessage", producer),
      message: String(e?.message ?? options.error ?? "unknown error").slice(0, 2000),
      programmingLanguage: "TypeScript",
      ...(typeof e?.stack === "string" ? { stackTrace: e.stack.slice(0, 8000) } : {}),
    };
  }
  return {
    eventType,
    eventTime: options.eventTime.toISOString(),
    producer,
    schemaURL: RUN_EVENT_SCHEMA_URL,
    run: { runId: run.runId, ...(Object.keys(runFacets).length ? { facets: runFacets } : {}) },
    job: {
      namespace: options.jobNamespace ?? LINEAGE_JOB_NAMESPACE,
      name: run.job.name,
      facets: {
        jobType: { ...facet("jobType", producer), processingType: "BATCH", integration: "STEINMETZ", jobType: "QUERY" },
        sql: { ...facet("sql", producer), query: run.job.sql(run.plan ?? "seek"), dialect: "postgres" },
      },
    },
    inputs,
    outputs,
  };
}

/**
 * The namespace of a PostgreSQL URL, `postgres://host:port` (never its credentials), or
 * undefined when it names no host (a Unix socket).
 */
export function namespaceOfUrl(databaseUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    return undefined;
  }
  const param = url.searchParams.get("host");
  const host = param && !param.startsWith("/") ? param : url.hostname;
  if (!host) return undefined;
  return `postgres://${host}:${url.port || "5432"}`;
}

/**
 * Columns of the datasets (`schema.table`) as the transaction sees them, from the catalog
 * (pg_attribute rather than information_schema.columns, which omits materialized views).
 */
export async function datasetColumns(
  tx: pg.ClientBase,
  datasets: readonly string[],
): Promise<Map<string, LineageColumn[]>> {
  const { rows } = await tx.query(
    `SELECT d.name AS dataset, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       col_description(a.attrelid, a.attnum) AS description,
       row_number() OVER (PARTITION BY d.name ORDER BY a.attnum)::int AS ordinal_position
     FROM unnest($1::text[]) AS d(name)
     JOIN pg_attribute a ON a.attrelid = to_regclass(d.name) AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY d.name, a.attnum`,
    [[...new Set(datasets)]],
  );
  const columns = new Map<string, LineageColumn[]>();
  for (const r of rows) {
    const column: LineageColumn = { name: r.name, type: r.type, ordinal_position: r.ordinal_position };
    if (r.description) column.description = r.description;
    columns.set(r.dataset, [...(columns.get(r.dataset) ?? []), column]);
  }
  return columns;
}

/** How the hook names things. */
export interface LineageOptions {
  /** The URL the warehouse connects with: the datasets' namespace is its host and port. */
  databaseUrl?: string;
  /** The datasets' namespace instead (e.g. `postgres://db.example.com:5432`). */
  namespace?: string;
  producer?: string;
  jobNamespace?: string;
}

/**
 * The runner's lineage hook: writes the run's START (at its start) and its COMPLETE or FAIL event
 * into `ops.lineage_events` in the run's transaction, so a run has both exactly when its outcome
 * committed. Data-quality results the run carries (`assertions`) go on the terminal event.
 * Without `databaseUrl` or `namespace` the namespace is the server's address as it reports it.
 */
export function lineageHook(options: LineageOptions = {}): NonNullable<RunHooks["lineage"]> {
  let database: LineageDatabase | undefined;
  return async (tx, run, outcome, error) => {
    if (!database) {
      const { rows } = await tx.query(
        `SELECT current_database() AS database, coalesce(host(inet_server_addr()), 'localhost') AS host,
           current_setting('port') AS port`,
      );
      const server = rows[0] as { database: string; host: string; port: string };
      const namespace =
        options.namespace ??
        (options.databaseUrl ? namespaceOfUrl(options.databaseUrl) : undefined) ??
        `postgres://${server.host.includes(":") ? `[${server.host}]` : server.host}:${server.port}`;
      database = { namespace, database: server.database };
    }
    const columns = await datasetColumns(tx, [...run.job.inputs, ...run.job.outputs]);
    const common = { database, columns, producer: options.producer, jobNamespace: options.jobNamespace };
    const assertions = (run as RunContext & { assertions?: readonly LineageAssertion[] }).assertions;
    const start = runEvent(run, "START", { ...common, eventTime: run.startedAt });
    const end = runEvent(run, outcome, { ...common, eventTime: new Date(), error, assertions });
    await tx.query(
      `INSERT INTO ops.lineage_events (run_id, job, event_type, event)
       VALUES ($1, $2, 'START', $3), ($1, $2, $4, $5)`,
      [run.runId, run.job.name, JSON.stringify(start), outcome, JSON.stringify(end)],
    );
  };
}

/** How the relay sends. */
export interface DeliverLineageOptions {
  /** The endpoint's base URL: events go to `{url}/api/v1/lineage`. */
  url: string;
  log: Logger;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  fetch?: typeof fetch;
  /** Per POST (default 5 s). */
  timeoutMs?: number;
  /** Events sent at most in one call (default 500) and for how long (default 30 s). */
  limit?: number;
  budgetMs?: number;
  /** The wait after a first failure, doubling per failure up to 5 min (default 5 s). */
  retryMs?: number;
  /** Refusals of an event as invalid (400, 413, 422) before it is set aside (default 5). */
  rejectAfter?: number;
}

/** What a relay call did, and why it stopped. */
export interface LineageDelivery {
  delivered: number;
  rejected: number;
  /**
   * `done`: nothing left; `busy`: another relay holds the oldest event; `backoff`: the oldest
   * waits after a failure; `failed`: this call's try failed; `limit`: the count or time budget was used.
   */
  stopped: "done" | "busy" | "backoff" | "failed" | "limit";
}

/** Statuses by which an endpoint refuses the event itself (retrying the same body cannot help). */
const REFUSED = new Set([400, 413, 422]);

async function post(
  send: typeof fetch,
  endpoint: string,
  event: unknown,
  options: DeliverLineageOptions,
): Promise<{ ok: true } | { ok: false; status?: number; message: string }> {
  try {
    const res = await send(endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
      },
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
    const text = await res.text().catch(() => "");
    if (res.ok) return { ok: true };
    return { ok: false, status: res.status, message: `HTTP ${res.status} ${text.slice(0, 500)}`.trim() };
  } catch (err) {
    const e = err as { message?: string; cause?: { code?: string; message?: string } };
    const cause = e.cause?.code ?? e.cause?.message;
    return { ok: false, message: `${String(e?.message ?? err)}${cause ? ` (${cause})` : ""}`.slice(0, 1000) };
  }
}

/**
 * Relays the undelivered events in id order to `{url}/api/v1/lineage`, one transaction per event
 * holding the oldest one (FOR UPDATE SKIP LOCKED) across its POST and marking it delivered after
 * a 2xx: relays in several hub processes never send one event twice nor out of order (a relay
 * that finds the oldest event held by another stops). The first failure stops the call; the event
 * is tried again after a backoff and the ones after it wait, so an endpoint that is down loses
 * nothing. Only an event the endpoint refuses as invalid `rejectAfter` times is set aside
 * (`rejected_at`, kept in the table with its last error) so the others can flow.
 */
export async function deliverLineage(pool: pg.Pool, options: DeliverLineageOptions): Promise<LineageDelivery> {
  const endpoint = `${options.url.replace(/\/+$/, "")}/api/v1/lineage`;
  const send = options.fetch ?? fetch;
  const limit = options.limit ?? 500;
  const deadline = Date.now() + (options.budgetMs ?? 30_000);
  const rejectAfter = options.rejectAfter ?? 5;
  const result: LineageDelivery = { delivered: 0, rejected: 0, stopped: "limit" };
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    for (let n = 0; n < limit && Date.now() < deadline; n++) {
      await client.query("BEGIN");
      try {
        const { rows } = await client.query(
          `SELECT id::text, event, attempts, next_attempt_at <= now() AS due FROM ops.lineage_events
           WHERE delivered_at IS NULL AND rejected_at IS NULL
             AND id = (SELECT min(id) FROM ops.lineage_events WHERE delivered_at IS NULL AND rejected_at IS NULL)
           FOR UPDATE SKIP LOCKED`,
        );
        const row = rows[0] as { id: string; event: RunEvent; attempts: number; due: boolean } | undefined;
        if (!row?.due) {
          // no row: done, or the oldest is held by another relay (then the ones after it wait too)
          const held =
            !row &&
            (
              await client.query(
                "SELECT EXISTS (SELECT FROM ops.lineage_events WHERE delivered_at IS NULL AND rejected_at IS NULL) AS held",
              )
            ).rows[0].held;
          await client.query("COMMIT");
          result.stopped = row ? "backoff" : held ? "busy" : "done";
          return result;
        }
        const sent = await post(send, endpoint, row.event, options);
        if (sent.ok) {
          await client.query(
            "UPDATE ops.lineage_events SET delivered_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1",
            [row.id],
          );
          await client.query("COMMIT");
          result.delivered++;
          continue;
        }
        const reject = sent.status !== undefined && REFUSED.has(sent.status) && row.attempts + 1 >= rejectAfter;
        await client.query(
          `UPDATE ops.lineage_events SET attempts = attempts + 1, last_error = $2,
             next_attempt_at = now() + make_interval(secs => least(300, $3::float8 / 1000 * 2 ^ least(attempts, 20))),
             rejected_at = CASE WHEN $4 THEN now() END
           WHERE id = $1`,
          [row.id, { message: sent.message, status: sent.status ?? null }, options.retryMs ?? 5000, reject],
        );
        await client.query("COMMIT");
        const about = {
          event: row.id,
          runId: row.event.run.runId,
          eventType: row.event.eventType,
          error: sent.message,
        };
        if (reject) {
          options.log.error(about, "the lineage endpoint keeps refusing an event: set aside, the others go on");
          result.rejected++;
          continue;
        }
        options.log.warn(
          { ...about, attempts: row.attempts + 1 },
          "a lineage event was not delivered; tried again later",
        );
        result.stopped = "failed";
        return result;
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        broken = err as Error;
        throw err;
      }
    }
    return result;
  } finally {
    client.release(broken);
  }
}

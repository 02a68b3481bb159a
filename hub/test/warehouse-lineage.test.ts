/**
 * OpenLineage for the warehouse on a real PostgreSQL: every run's events validate against the
 * OpenLineage 2-0-2 schema and each facet against its own schema (../shared/openlineage-spec/, the
 * test oracle); a run has its START first and exactly one COMPLETE or FAIL, with one runId, the
 * datasets with their schema, output statistics, a backfill's window, a failure's message and the
 * data-quality assertions of the run. The relay: with the endpoint down (not listening, then
 * answering 503) for several runs, every event arrives afterwards, in order, once; a failure
 * backs off; two relays at once send each event once; an event refused as invalid is set aside.
 * And the runs with their events over HTTP, and the pruning of the history after its keeping.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import t from "tap";
import { openPool } from "../src/db/pool.js";
import { pruneWarehouseHistory } from "../src/warehouse/history.js";
import { WAREHOUSE_JOBS, type WarehouseJob } from "../src/warehouse/jobs.js";
import {
  deliverLineage,
  LINEAGE_PRODUCER,
  type LineageAssertion,
  type LineageDelivery,
  lineageHook,
  namespaceOfUrl,
  type RunEvent,
  runEvent,
} from "../src/warehouse/lineage.js";
import { backfillWarehouse, type RunContext, type RunHooks, runWarehouse } from "../src/warehouse/runner.js";
import { log, startPlatform } from "./fixtures/platform.js";

// ---- the oracle: the official schemas, loaded from the shared folder at test time
const SPEC_DIR = join(import.meta.dirname, "../../../shared/openlineage-spec");
type Schema = {
  $id: string;
  properties?: Record<string, unknown>;
  $defs?: Record<string, { allOf?: { $ref?: string }[] }>;
};
const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8")) as Schema;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv); // a CommonJS module: its plugin is its default export
const core = readJson(join(SPEC_DIR, "OpenLineage.json"));
ajv.addSchema(core);
const facetFiles = new Map<string, Schema>();
for (const file of readdirSync(join(SPEC_DIR, "facets")).filter((f) => f.endsWith(".json"))) {
  const schema = readJson(join(SPEC_DIR, "facets", file));
  ajv.addSchema(schema);
  facetFiles.set(schema.$id, schema);
}
const validateEvent = ajv.getSchema(core.$id);
if (!validateEvent) throw new Error("the core schema did not compile");

type FacetMap = Record<string, { _schemaURL?: string } & Record<string, unknown>>;

/** Why an event is not valid OpenLineage: core schema, then every facet against its file. */
function problems(event: RunEvent): string[] {
  const found: string[] = [];
  if (!validateEvent?.(event)) found.push(`event: ${ajv.errorsText(validateEvent?.errors)}`);
  // where a facet sits and the facet kind the spec allows there
  const maps: Array<[string, FacetMap | undefined, string]> = [
    ["run.facets", event.run?.facets as FacetMap, "RunFacet"],
    ["job.facets", event.job?.facets as FacetMap, "JobFacet"],
    ...(event.inputs ?? []).flatMap(
      (d, i): Array<[string, FacetMap | undefined, string]> => [
        [`inputs[${i}].facets`, d.facets as FacetMap, "DatasetFacet"],
        [`inputs[${i}].inputFacets`, d.inputFacets as FacetMap, "InputDatasetFacet"],
      ],
    ),
    ...(event.outputs ?? []).flatMap(
      (d, i): Array<[string, FacetMap | undefined, string]> => [
        [`outputs[${i}].facets`, d.facets as FacetMap, "DatasetFacet"],
        [`outputs[${i}].outputFacets`, d.outputFacets as FacetMap, "OutputDatasetFacet"],
      ],
    ),
  ];
  for (const [where, facets, kind] of maps) {
    for (const [key, body] of Object.entries(facets ?? {})) {
      const [id, pointer] = String(body._schemaURL).split("#");
      const file = facetFiles.get(id as string);
      if (!file?.properties?.[key]) {
        found.push(`${where}.${key}: no facet file defines it at ${body._schemaURL}`);
        continue;
      }
      const name = pointer?.replace("/$defs/", "") ?? "";
      const base = file.$defs?.[name]?.allOf?.[0]?.$ref ?? "";
      if (!base.endsWith(`#/$defs/${kind}`)) found.push(`${where}.${key}: a ${base.split("/").at(-1)}, not a ${kind}`);
      const validate = ajv.getSchema(id as string);
      if (!validate?.({ [key]: body })) found.push(`${where}.${key}: ${ajv.errorsText(validate?.errors)}`);
    }
  }
  return found;
}

// ---- the database, the hub's app and readings
const platform = await startPlatform();
t.teardown(() => platform.close());
const { app, pool: owner } = platform;
const loader = openPool({ connectionString: platform.db.url, max: 1 }, log);
t.teardown(() => loader.end());
const hooks: RunHooks = { lineage: lineageHook({ databaseUrl: platform.db.url }) };

const T0 = Date.parse("2026-11-02T10:00:00Z");
const MIN = 60_000;
await owner.query("INSERT INTO raw.edges (edge_id) VALUES ('e1')");
const seriesId = async (device: string, point: string): Promise<number> =>
  (
    await owner.query("INSERT INTO raw.series (edge_id, device_id, point) VALUES ('e1', $1, $2) RETURNING series_id", [
      device,
      point,
    ])
  ).rows[0].series_id;
let seq = 0;
async function store(series: number, samples: Array<{ ts: number; v: number }>) {
  await owner.query(
    `INSERT INTO raw.readings (series_id, seq, ts, value, quality, clock_synced)
     SELECT $1, x.seq, to_timestamp(x.ts / 1000.0), x.v, 1, true
     FROM jsonb_to_recordset($2::jsonb) AS x(seq bigint, ts bigint, v double precision)`,
    [series, JSON.stringify(samples.map((s) => ({ seq: ++seq, ts: s.ts, v: s.v })))],
  );
}
const counter = await seriesId("inv1", "energy_exported");
const power = await seriesId("inv1", "active_power");
let minute = 0;
/** Readings of both series for the next `n` minutes. */
async function moreReadings(n: number) {
  const samples = Array.from({ length: n }, () => minute++).map((m) => ({ ts: T0 + m * MIN, v: 1000 + 10 * m }));
  await store(counter, samples);
  await store(power, samples);
}

const broken: WarehouseJob = {
  ...(WAREHOUSE_JOBS[0] as WarehouseJob),
  name: "broken_job",
  sql: () => "SELECT $1::int[], $2::text[], $3::text[], 1 / 0",
};

interface Row {
  id: string;
  run_id: string;
  job: string;
  event_type: string;
  event: RunEvent;
}
const events = async (): Promise<Row[]> =>
  (await owner.query("SELECT e.id::text, run_id, job, event_type, event FROM ops.lineage_events e ORDER BY e.id")).rows;

t.test("the oracle refuses what is not OpenLineage", async (t) => {
  const [job] = WAREHOUSE_JOBS as [WarehouseJob];
  const run: RunContext = {
    runId: "0190a7e2-5c7b-7d3e-9f2a-1b2c3d4e5f60",
    job,
    kind: "incremental",
    window: { from: "0", to: "10" },
    startedAt: new Date(),
  };
  const database = { namespace: "postgres://127.0.0.1:5432", database: "hub" };
  const assertions: LineageAssertion[] = [{ assertion: "not_null", column: "value", success: true, severity: "error" }];
  const good = runEvent(run, "COMPLETE", { database, columns: new Map(), eventTime: new Date(), assertions });
  t.same(problems(good), [], "a built event is valid");
  const copy = () => structuredClone(good) as RunEvent & Record<string, unknown>;
  const noSuccess = copy();
  const listed = noSuccess.inputs[0]?.inputFacets?.dataQualityAssertions?.assertions as Array<Record<string, unknown>>;
  delete listed[0]?.success;
  t.match(problems(noSuccess), [/dataQualityAssertions/], "an assertion without success fails its facet");
  const badId = copy();
  badId.run.runId = "run-1";
  t.ok(problems(badId).length, "a runId that is no UUID fails");
  const badType = copy();
  (badType as Record<string, unknown>).eventType = "DONE";
  t.ok(problems(badType).length, "an unknown eventType fails");
  const misplaced = copy();
  const input = misplaced.inputs[0] as NonNullable<RunEvent["inputs"][0]>;
  input.facets = input.inputFacets;
  delete input.inputFacets;
  t.match(problems(misplaced), [/not a DatasetFacet/], "an input facet among the dataset facets fails");
  t.equal(namespaceOfUrl("postgres://hub:secret@db.example.com/hub"), "postgres://db.example.com:5432");
  t.equal(namespaceOfUrl("postgresql:///hub?host=/run/postgresql"), undefined);
});

t.test("every run's events validate, START then exactly one COMPLETE or FAIL, one runId", async (t) => {
  await moreReadings(40);
  const first = await runWarehouse(loader, { log, hooks });
  t.match(first, [
    { job: "fact_energy_15min", status: "succeeded" },
    { job: "fact_power_15min", status: "succeeded" },
  ]);
  const count = (await events()).length;
  t.match(await runWarehouse(loader, { log, hooks }), [{ status: "skipped" }, { status: "skipped" }]);
  t.equal((await events()).length, count, "a pass with nothing to load writes no events");
  const range = { from: new Date(T0 - 15 * MIN), to: new Date(T0 + 2 * 60 * MIN) };
  t.ok((await backfillWarehouse(loader, range, { log, hooks })).every((r) => r.status === "succeeded"));
  // a run that carries results of data-quality rules
  const assertions: LineageAssertion[] = [
    { assertion: "not_null", column: "value", success: true, severity: "error", dataset: "raw.readings" },
    { assertion: "row_count_between", success: false, severity: "warn" },
  ];
  await moreReadings(5);
  const checked = await runWarehouse(loader, {
    log,
    jobs: WAREHOUSE_JOBS.slice(0, 1),
    hooks: {
      ...hooks,
      afterLoad: async (_tx, run) => {
        Object.assign(run, { assertions });
        return { blocking: [] };
      },
    },
  });
  t.match(checked, [{ status: "succeeded" }]);
  // failures, incremental and backfill
  await moreReadings(1);
  t.match(await runWarehouse(loader, { log, hooks, jobs: [broken] }), [{ status: "failed" }]);
  t.match(await backfillWarehouse(loader, range, { log, hooks, jobs: [broken] }), [{ status: "failed" }]);

  const rows = await events();
  const invalid = rows.flatMap((r) => problems(r.event).map((p) => `${r.id} ${r.event_type} ${r.job}: ${p}`));
  t.same(invalid, [], `all ${rows.length} events are valid OpenLineage`);
  const { rows: runs } = await owner.query(
    `SELECT id, job, kind, status, rows_written, from_ts, to_ts, error FROM ops.warehouse_runs ORDER BY started_at`,
  );
  t.same(new Set(rows.map((r) => r.run_id)), new Set(runs.map((r) => r.id)), "every run has events, and only runs");
  const { rows: db } = await owner.query("SELECT current_database() AS name");
  const namespace = `postgres://${new URL(platform.db.url).hostname}:${new URL(platform.db.url).port}`;
  for (const run of runs) {
    const mine = rows.filter((r) => r.run_id === run.id);
    const label = `${run.job} ${run.kind} ${run.status}`;
    const terminal = run.status === "succeeded" ? "COMPLETE" : "FAIL";
    t.same(
      mine.map((r) => r.event_type),
      ["START", terminal],
      `${label}: START, then ${terminal}`,
    );
    t.ok(
      mine.every((r) => r.event.run.runId === run.id && r.event.eventType === r.event_type),
      `${label}: one runId`,
    );
    const [start, end] = mine.map((r) => r.event) as [RunEvent, RunEvent];
    t.ok(Date.parse(start.eventTime) <= Date.parse(end.eventTime), `${label}: times do not go back`);
    const job = run.job === "broken_job" ? broken : (WAREHOUSE_JOBS.find((j) => j.name === run.job) as WarehouseJob);
    for (const e of [start, end]) {
      t.equal(e.producer, LINEAGE_PRODUCER);
      t.match(e.job, {
        namespace: "steinmetz-hub",
        name: run.job,
        facets: {
          jobType: { processingType: "BATCH", integration: "STEINMETZ", jobType: "QUERY" },
          sql: { query: job.sql(run.kind), dialect: "postgres" },
        },
      });
      t.same(
        e.inputs.map((d) => [d.namespace, d.name]),
        job.inputs.map((n) => [namespace, `${db[0].name}.${n}`]),
        `${label}: the inputs`,
      );
      t.same(
        e.outputs.map((d) => [d.namespace, d.name]),
        job.outputs.map((n) => [namespace, `${db[0].name}.${n}`]),
        `${label}: the outputs`,
      );
      t.ok(
        [...e.inputs, ...e.outputs].every((d) => (d.facets?.schema?.fields as unknown[] | undefined)?.length),
        `${label}: every dataset with its schema`,
      );
      if (run.kind === "backfill") {
        t.match(e.run.facets?.nominalTime, {
          nominalStartTime: run.from_ts.toISOString(),
          nominalEndTime: run.to_ts.toISOString(),
        });
      } else t.equal(e.run.facets?.nominalTime, undefined, `${label}: no nominal time for an xid window`);
    }
    t.notOk(start.run.facets?.errorMessage || start.outputs.some((o) => o.outputFacets), "START: no outcome yet");
    if (terminal === "FAIL") {
      t.match(end.run.facets?.errorMessage, {
        message: /division by zero/,
        programmingLanguage: "TypeScript",
        stackTrace: /division by zero/,
      });
      t.ok(
        end.outputs.every((o) => !o.outputFacets),
        "a failed run wrote nothing",
      );
    } else if (job.outputs.length === 1) {
      t.equal(end.outputs[0]?.outputFacets?.outputStatistics?.rowCount, run.rows_written, `${label}: rows written`);
    }
  }
  const energy = rows.find((r) => r.job === "fact_energy_15min")?.event.outputs[0]?.facets?.schema?.fields;
  t.match(energy, [
    { name: "series_id", type: "integer", ordinal_position: 1 },
    { name: "edge_id", type: "text" },
    { name: "device_id" },
    { name: "point" },
    { name: "interval_start", type: "timestamp with time zone" },
    { name: "energy_wh", type: "double precision" },
    { name: "estimated", type: "boolean" },
    { name: "resets", type: "integer", ordinal_position: 8 },
  ]);
  const serving = rows.find((r) => r.job === "serving");
  t.ok(
    serving?.event.outputs.every((o) => o.facets?.schema),
    "materialized views have their schema too",
  );
  // the quality results: on the terminal event's inputs they are about
  const [start, end] = rows.filter((r) => r.run_id === checked[0]?.runId).map((r) => r.event) as [RunEvent, RunEvent];
  t.ok(
    start.inputs.every((i) => !i.inputFacets),
    "START carries no assertions",
  );
  const on = (name: string) =>
    end.inputs.find((i) => i.name.endsWith(`.${name}`))?.inputFacets?.dataQualityAssertions?.assertions;
  t.same(on("raw.readings"), [
    { assertion: "not_null", column: "value", success: true, severity: "error" },
    { assertion: "row_count_between", success: false, severity: "warn" },
  ]);
  t.same(on("raw.series"), [{ assertion: "row_count_between", success: false, severity: "warn" }]);
});

t.test("the runs with their events over HTTP (warehouse:read)", async (t) => {
  const get = (url: string, headers: Record<string, string>) => app.inject({ method: "GET", url, headers });
  const res = await get("/api/v1/lineage/runs?job=fact_energy_15min&limit=2", platform.as("analyst"));
  t.equal(res.statusCode, 200);
  const { items } = res.json();
  t.equal(items.length, 2);
  const { rows: newest } = await owner.query(
    "SELECT id, status, kind FROM ops.warehouse_runs WHERE job = 'fact_energy_15min' ORDER BY started_at DESC LIMIT 2",
  );
  t.same(
    items.map((i: { runId: string }) => i.runId),
    newest.map((r) => r.id),
    "newest first",
  );
  t.match(items[0], {
    job: "fact_energy_15min",
    status: newest[0].status,
    kind: newest[0].kind,
    events: [
      {
        eventType: "START",
        deliveredAt: null,
        attempts: 0,
        event: { eventType: "START", run: { runId: items[0].runId } },
      },
      { eventType: "COMPLETE", event: { eventType: "COMPLETE" } },
    ],
  });
  const failed = (await get("/api/v1/lineage/runs?job=broken_job", platform.as("analyst"))).json().items;
  t.match(failed, [
    { status: "failed", events: [{ eventType: "START" }, { eventType: "FAIL" }] },
    { status: "failed" },
  ]);
  const all = (await get("/api/v1/lineage/runs?limit=200", platform.as("analyst"))).json().items;
  t.equal(all.length, (await owner.query("SELECT count(*)::int AS n FROM ops.warehouse_runs")).rows[0].n);
  t.equal((await get("/api/v1/lineage/runs", platform.as("technician"))).statusCode, 403);
  t.equal((await get("/api/v1/lineage/runs", {})).statusCode, 401);
  t.equal((await get("/api/v1/lineage/runs?limit=0", platform.as("analyst"))).statusCode, 400);
});

// ---- a fake Marquez: POST /api/v1/lineage, 201 when up
interface Sink {
  url: string;
  mode: "up" | "down";
  /** Answered 400 (the endpoint refuses it as invalid). */
  refuse?: (event: RunEvent) => boolean;
  delayMs: number;
  requests: number;
  accepted: RunEvent[];
  authorization: Array<string | undefined>;
  server: Server;
}
async function startSink(): Promise<Sink> {
  const sink = { mode: "up", delayMs: 0, requests: 0, accepted: [], authorization: [] } as unknown as Sink;
  sink.server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      sink.requests++;
      if (req.method !== "POST" || req.url !== "/api/v1/lineage") return res.writeHead(404).end();
      if (sink.mode === "down") return res.writeHead(503).end("unavailable");
      const event = JSON.parse(Buffer.concat(chunks).toString("utf8")) as RunEvent;
      if (sink.refuse?.(event)) return res.writeHead(400).end('{"error":"invalid"}');
      setTimeout(() => {
        sink.accepted.push(event);
        sink.authorization.push(req.headers.authorization);
        res.writeHead(201, { "content-type": "application/json" }).end("{}");
      }, sink.delayMs);
    });
  });
  await new Promise<void>((resolve) => sink.server.listen(0, "127.0.0.1", resolve));
  sink.url = `http://127.0.0.1:${(sink.server.address() as AddressInfo).port}`;
  return sink;
}
const stopSink = (sink: Sink) =>
  new Promise<void>((resolve) => {
    sink.server.closeAllConnections();
    sink.server.close(() => resolve());
  });

/** Relays until nothing is left (at most `rounds` calls and 30 s). */
async function drain(pool: typeof loader, options: Parameters<typeof deliverLineage>[1], rounds = 50) {
  const results: LineageDelivery[] = [];
  const until = Date.now() + 30_000;
  for (let i = 0; i < rounds && Date.now() < until; i++) {
    const r = await deliverLineage(pool, options);
    results.push(r);
    if (r.stopped === "done") break;
  }
  return results;
}
const pending = async () =>
  (
    await owner.query(
      `SELECT e.id::text, run_id, event_type, event, attempts, last_error FROM ops.lineage_events e
       WHERE delivered_at IS NULL AND rejected_at IS NULL ORDER BY e.id`,
    )
  ).rows;

t.test("an endpoint down for several runs: everything arrives afterwards, in order, once", async (t) => {
  const sink = await startSink();
  t.teardown(() => stopSink(sink));
  const closed = await startSink();
  await stopSink(closed); // nothing listens there any more
  for (let i = 0; i < 3; i++) {
    await moreReadings(10);
    await runWarehouse(loader, { log, hooks });
    t.match(await deliverLineage(loader, { url: closed.url, log, retryMs: 0 }), { delivered: 0, stopped: "failed" });
  }
  sink.mode = "down";
  for (let i = 0; i < 2; i++) {
    await moreReadings(10);
    await runWarehouse(loader, { log, hooks });
    t.match(await deliverLineage(loader, { url: sink.url, log, retryMs: 0 }), { delivered: 0, stopped: "failed" });
  }
  t.equal(sink.requests, 2, "one try per call: the first failure stops it");
  // a failure with the default backoff: the next call does not try yet
  t.match(await deliverLineage(loader, { url: sink.url, log }), { stopped: "failed" });
  t.match(await deliverLineage(loader, { url: sink.url, log }), { delivered: 0, stopped: "backoff" });
  t.equal(sink.requests, 3, "nothing sent during the backoff");
  const waiting = await pending();
  t.equal(waiting.length, (await events()).length, "nothing delivered, nothing lost");
  t.match(waiting[0], { attempts: 6, last_error: { status: 503, message: /HTTP 503/ } }, "the oldest was tried");
  t.ok(
    waiting.slice(1).every((e) => e.attempts === 0),
    "the events after it wait",
  );
  await owner.query("UPDATE ops.lineage_events SET next_attempt_at = now() WHERE delivered_at IS NULL"); // time passes

  sink.mode = "up";
  const results = await drain(loader, { url: sink.url, log, apiKey: "s3cret", limit: 7, retryMs: 0 });
  t.equal(results.at(-1)?.stopped, "done");
  t.same(
    sink.accepted.map((e) => `${e.run.runId} ${e.eventType}`),
    waiting.map((e) => `${e.run_id} ${e.event_type}`),
    `all ${waiting.length} events arrived once, in order`,
  );
  t.same(
    sink.accepted,
    waiting.map((e) => e.event),
    "as they were stored",
  );
  t.ok(
    sink.authorization.every((a) => a === "Bearer s3cret"),
    "with the API key",
  );
  t.same(await pending(), [], "every event is marked delivered");
  t.match(await deliverLineage(loader, { url: sink.url, log }), { delivered: 0, stopped: "done" });
  t.equal(sink.accepted.length, waiting.length, "nothing twice");
});

t.test("two relays at once send each event once; a held event stops the other relay", async (t) => {
  const sink = await startSink();
  t.teardown(() => stopSink(sink));
  for (let i = 0; i < 3; i++) {
    await moreReadings(10);
    await runWarehouse(loader, { log, hooks });
  }
  const waiting = await pending();
  t.ok(waiting.length >= 6);
  // another process holds the oldest event
  const other = openPool({ connectionString: platform.db.url, max: 1 }, log);
  t.teardown(() => other.end());
  const hold = await other.connect();
  await hold.query("BEGIN");
  await hold.query("SELECT 1 FROM ops.lineage_events WHERE id = $1 FOR UPDATE", [waiting[0]?.id]);
  t.match(await deliverLineage(loader, { url: sink.url, log }), { delivered: 0, stopped: "busy" });
  t.equal(sink.requests, 0, "nothing sent past the held event");
  await hold.query("ROLLBACK");
  hold.release();

  sink.delayMs = 5;
  const [a, b] = await Promise.all([
    drain(loader, { url: sink.url, log, limit: 3 }, 100),
    drain(other, { url: sink.url, log, limit: 3 }, 100),
  ]);
  const sent = (rs: LineageDelivery[]) => rs.reduce((n, r) => n + r.delivered, 0);
  t.equal(sent(a) + sent(b), waiting.length, `${sent(a)} + ${sent(b)} delivered`);
  t.same(
    sink.accepted.map((e) => `${e.run.runId} ${e.eventType}`),
    waiting.map((e) => `${e.run_id} ${e.event_type}`),
    "each once, in order",
  );
  t.same(await pending(), []);
});

t.test("an event the endpoint keeps refusing as invalid is set aside; the others go on", async (t) => {
  const sink = await startSink();
  t.teardown(() => stopSink(sink));
  await moreReadings(10);
  const [run] = await runWarehouse(loader, { log, hooks, jobs: WAREHOUSE_JOBS.slice(0, 1) });
  sink.refuse = (e) => e.run.runId === run?.runId && e.eventType === "START";
  const options = { url: sink.url, log, retryMs: 0, rejectAfter: 2 };
  t.match(
    await deliverLineage(loader, options),
    { delivered: 0, rejected: 0, stopped: "failed" },
    "refused once: retried",
  );
  t.match(await deliverLineage(loader, options), { delivered: 1, rejected: 1, stopped: "done" });
  t.same(
    sink.accepted.map((e) => e.eventType),
    ["COMPLETE"],
  );
  const { rows } = await owner.query(
    "SELECT event_type, delivered_at, rejected_at, attempts, last_error FROM ops.lineage_events WHERE run_id = $1 ORDER BY id",
    [run?.runId],
  );
  t.match(rows, [
    { event_type: "START", delivered_at: null, rejected_at: Date, attempts: 2, last_error: { status: 400 } },
    { event_type: "COMPLETE", delivered_at: Date, rejected_at: null, attempts: 1 },
  ]);
  const res = await app.inject({
    method: "GET",
    url: "/api/v1/lineage/runs?job=fact_energy_15min&limit=1",
    headers: platform.as("analyst"),
  });
  t.match(res.json().items[0].events, [
    { eventType: "START", rejectedAt: String, deliveredAt: null },
    { deliveredAt: String },
  ]);
});

t.test("the history is pruned after its keeping; events an endpoint has not received stay", async (t) => {
  await moreReadings(5);
  await runWarehouse(loader, { log, hooks, jobs: WAREHOUSE_JOBS.slice(0, 1) }); // undelivered events
  const count = async (table: string, where = "true") =>
    (await owner.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${where}`)).rows[0].n as number;
  const before = {
    runs: await count("ops.warehouse_runs"),
    results: await count("ops.quality_results"),
    events: await count("ops.lineage_events"),
    undelivered: await count("ops.lineage_events", "delivered_at IS NULL AND rejected_at IS NULL"),
  };
  // a run's result, and one of no run (a freshness check)
  await owner.query(
    `INSERT INTO ops.quality_results (rule, dataset, run_id, window_kind, status, severity, elements, failures)
     SELECT 'test.rule', 'raw.readings', id, 'incremental', 'pass', 'warn', 1, 0 FROM ops.warehouse_runs LIMIT 1`,
  );
  await owner.query(
    `INSERT INTO ops.quality_results (rule, dataset, window_kind, status, severity, elements, failures)
     VALUES ('edges.freshness', 'raw.edges', 'pass', 'pass', 'warn', 1, 0)`,
  );
  before.results = await count("ops.quality_results");
  t.ok(before.runs > 0 && before.results === 2 && before.undelivered > 0, JSON.stringify(before));
  const watermarks = (await owner.query("SELECT job, watermark FROM ops.warehouse_jobs ORDER BY job")).rows;
  t.same(
    await pruneWarehouseHistory(owner, { keepDays: 90, keepUndelivered: true }),
    { runs: 0, qualityResults: 0, lineageEvents: 0 },
    "nothing is 90 days old yet",
  );
  const later = new Date(Date.now() + 91 * 86_400_000);
  const pruned = await pruneWarehouseHistory(owner, { keepDays: 90, keepUndelivered: true, now: later });
  t.same(pruned, { runs: before.runs, qualityResults: 1, lineageEvents: before.events - before.undelivered });
  t.equal(await count("ops.warehouse_runs"), 0);
  t.equal(await count("ops.quality_results"), 0, "the runs' quality results went with them, the other by age");
  t.equal(await count("ops.lineage_events"), before.undelivered, "the endpoint's events still to send stay");
  t.same(
    (await owner.query("SELECT job, watermark FROM ops.warehouse_jobs ORDER BY job")).rows,
    watermarks,
    "the watermarks stay",
  );
  const rest = await pruneWarehouseHistory(owner, { keepDays: 90, keepUndelivered: false, now: later });
  t.equal(rest.lineageEvents, before.undelivered, "without an endpoint they go too");
});

/**
 * Data-quality rules as data (hub/warehouse/quality-rules.yaml) on a real PostgreSQL: every rule
 * fails on a fixture built to break it and passes on clean data; a bad rules file names the rule,
 * its line and the problem; a failed rule of severity error stops the downstream job (skipped as
 * blocked, naming the rule) until the window is clean, a warning does not; the failure-share
 * gauge and the alert counter; freshness per edge; and the results and the daily report over HTTP.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import t from "tap";
import { openPool } from "../src/db/pool.js";
import { WAREHOUSE_JOBS, type WarehouseJob } from "../src/warehouse/jobs.js";
import {
  checkFreshness,
  evaluateRule,
  loadQualityRules,
  QUALITY_KINDS,
  type QualityRule,
  QualityRulesError,
  qualityHook,
  rulesOfJob,
} from "../src/warehouse/quality.js";
import { type JobRun, runWarehouse } from "../src/warehouse/runner.js";
import { log, startPlatform } from "./fixtures/platform.js";

const platform = await startPlatform();
t.teardown(() => platform.close());
const owner = platform.pool;
const loader = openPool({ connectionString: platform.db.url, max: 1 }, log);
t.teardown(() => loader.end());

const rules = loadQualityRules();
const rule = (name: string): QualityRule => {
  const found = rules.find((r) => r.name === name);
  if (!found) throw new Error(`no rule ${name}`);
  return found;
};
const registry = new Registry();
const afterLoad = qualityHook({ registry, log });

/** A job built on the energy facts, to show what blocking does to a downstream job. */
const downstream: WarehouseJob = {
  name: "energy_downstream",
  description: "Test job reading the energy facts",
  inputs: ["curated.fact_energy_15min"],
  outputs: ["qa.energy_downstream"],
  grain: "none",
  dependsOn: ["fact_energy_15min"],
  sql: () => "SELECT $1::int[], $2::text[], $3::text[]",
};
const jobs = [
  ...WAREHOUSE_JOBS.filter((j) => j.name === "fact_energy_15min" || j.name === "fact_power_15min"),
  downstream,
];
const pass = () => runWarehouse(loader, { log, jobs, hooks: { afterLoad } });
const byJob = (runs: JobRun[], job: string) => runs.find((r) => r.job === job) as JobRun;

/** The stored results of a pass's runs, by rule. */
async function resultsOf(runs: JobRun[]) {
  const ids = runs.map((r) => r.runId).filter(Boolean);
  const { rows } = await owner.query("SELECT * FROM ops.quality_results WHERE run_id = ANY($1::uuid[]) ORDER BY id", [
    ids,
  ]);
  return new Map(rows.map((r) => [r.rule as string, r]));
}

const T0 = Date.parse("2026-11-02T10:00:00Z");
const MIN = 60_000;
let seq = 0;
async function edge(edgeId: string, firstSeen = new Date()) {
  await owner.query("INSERT INTO raw.edges (edge_id, first_seen_at) VALUES ($1, $2)", [edgeId, firstSeen]);
}
async function series(edgeId: string, device: string, point: string): Promise<number> {
  const { rows } = await owner.query(
    "INSERT INTO raw.series (edge_id, device_id, point) VALUES ($1, $2, $3) RETURNING series_id",
    [edgeId, device, point],
  );
  return rows[0].series_id;
}
async function store(seriesId: number, samples: Array<{ ts: number; v: number }>) {
  await owner.query(
    `INSERT INTO raw.readings (series_id, seq, ts, value, quality, clock_synced)
     SELECT $1, x.seq, to_timestamp(x.ts / 1000.0), x.v, 1, true
     FROM jsonb_to_recordset($2::jsonb) AS x(seq bigint, ts bigint, v double precision)`,
    [seriesId, JSON.stringify(samples.map((s) => ({ seq: ++seq, ts: s.ts, v: s.v })))],
  );
}
const minutes = (n: number, value: (m: number) => number, start = T0) =>
  Array.from({ length: n + 1 }, (_, m) => ({ ts: start + m * MIN, v: value(m) }));

/** A site of `kwp` with inverters (linked to telemetry when an edge device is given) and other devices. */
async function site(kwp: number, devices: Array<{ kind: string; edge?: string; device?: string }>) {
  const { rows: c } = await owner.query("INSERT INTO erp.customers (name) VALUES ('Quality GmbH') RETURNING id");
  const { rows: s } = await owner.query(
    "INSERT INTO erp.sites (customer_id, name, kwp) VALUES ($1, 'Roof', $2) RETURNING id",
    [c[0].id, kwp],
  );
  for (const d of devices) {
    await owner.query("INSERT INTO erp.devices (site_id, kind, edge_id, device_id) VALUES ($1, $2, $3, $4)", [
      s[0].id,
      d.kind,
      d.edge ?? null,
      d.device ?? null,
    ]);
  }
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name);
  const values = (await m?.get())?.values ?? [];
  return values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value ?? 0;
}

t.test("the rules file: every kind, each rule with a job that evaluates it", async (t) => {
  t.same([...new Set(rules.map((r) => r.kind))].sort(), [...QUALITY_KINDS].sort(), "all six kinds are used");
  t.match(rule("fact_energy_15min.energy_wh.not_null_share"), { params: { min_share: 0.999 }, severity: "error" });
  t.match(rule("edges.freshness"), { params: { warn_after: 900, error_after: 3600 } });
  const energy = WAREHOUSE_JOBS.find((j) => j.name === "fact_energy_15min") as WarehouseJob;
  t.same(
    rulesOfJob(rules, energy).map((r) => r.name),
    [
      "fact_energy_15min.energy_wh.not_null_share",
      "fact_energy_15min.unique_series_quarter",
      "fact_energy_15min.series_id.references_raw_series",
      "fact_energy_15min.energy_wh.non_negative",
      "readings.counters.non_decreasing",
    ],
  );
});

t.test("a bad rules file: the rule, its line and each problem", async (t) => {
  const good = `  - name: a
    dataset: curated.fact_energy_15min
    kind: unique
    columns: [series_id, interval_start]
    severity: error
    description: fine
`;
  const bad = (text: string) => {
    try {
      loadQualityRules("bad.yaml", { text });
    } catch (err) {
      t.type(err, QualityRulesError);
      return (err as Error).message;
    }
    t.fail("no error");
    return "";
  };
  t.match(bad("rules: []\n"), /^bad\.yaml: the file must hold `rules:`/);
  t.match(
    bad("rules:\n  - name: a\n    name: b\n"),
    /^bad\.yaml: YAML error: Map keys must be unique at line 3, column 5$/,
  );
  const two = bad(`rules:
${good}  - name: b
    dataset: curated.fact_energy_15min
    kind: not_null_share
    column: energy_wh
    serverity: error
    params: { min_share: 99.9 }
    description: percent, not a share
`);
  t.match(two, /rules\[1\] "b" \(line 8\): unknown key `serverity`/);
  t.match(two, /rules\[1\] "b" \(line 8\): severity must be error or warn/);
  t.match(two, /rules\[1\] "b" \(line 8\): params\.min_share must be a number from 0 to 1/);
  t.notMatch(two, /rules\[0\]/, "the good rule is not blamed");
  t.match(
    bad(
      `rules:\n${good}  - name: c\n    dataset: curated.fact_energy_15min\n    kind: not_a_kind\n    column: energy_wh\n    severity: warn\n    description: x\n`,
    ),
    /rules\[1\] "c" \(line 8\): kind must be one of not_null_share, unique/,
  );
  t.match(bad(`rules:\n${good}${good}`), /rules\[1\] "a" \(line 8\): name a is used by an earlier rule/);
  t.match(
    bad(`rules:
  - name: soc
    dataset: staging.readings
    kind: accepted_range
    column: value
    params: { min: 0, maxi: 100 }
    severity: warn
    description: x
`),
    /params\.maxi is not a parameter of accepted_range[\s\S]*no job writes staging\.readings: name the job after which it is checked \(job:\)/,
  );
  t.match(
    bad(`rules:
  - name: fresh
    dataset: raw.edges
    kind: freshness
    params: { warn_after: 2h, error_after: 1h }
    severity: error
    description: x
`),
    /params\.warn_after must be shorter than params\.error_after/,
  );
  t.match(
    bad(`rules:
  - name: r
    dataset: curated.fact_power_15min
    kind: accepted_range
    column: max_w
    params: { max_factor_of: nameplate }
    severity: warn
    description: x
`),
    /params\.max_factor_of must be one of rated_power[\s\S]*params\.factor must be a number above 0/,
  );
  const dir = mkdtempSync(join(tmpdir(), "hub-quality-"));
  const file = join(dir, "quality-rules.yaml");
  writeFileSync(
    file,
    `rules:\n${good}  - name: d\n    dataset: curated.fact_energy_15min\n    kind: unique\n    severity: error\n    description: x\n`,
  );
  t.throws(() => qualityHook({ file }), {
    message: `${file}: rules[1] "d" (line 8): kind unique needs a column`,
  });
});

t.test("not null share, uniqueness and references fail on tables built to break them", async (t) => {
  // the curated tables' own constraints rule these failures out, so the rules run on unconstrained copies
  await owner.query(`CREATE SCHEMA qa;
    CREATE TABLE qa.energy AS SELECT * FROM curated.fact_energy_15min WITH NO DATA;
    CREATE TABLE qa.power AS SELECT * FROM curated.fact_power_15min WITH NO DATA`);
  await edge("q-fixture");
  const known = await series("q-fixture", "inv", "energy_exported");
  const on = (name: string, dataset: string): QualityRule => ({
    ...rule(name),
    dataset,
    key: ["series_id", "interval_start"],
  });
  const all = { kind: "all" } as const;
  const rows = (n: number, value: string, table = "qa.energy") =>
    owner.query(
      table === "qa.energy"
        ? `INSERT INTO qa.energy SELECT ${known}, 'q-fixture', 'inv', 'energy_exported',
             TIMESTAMPTZ '2026-01-01' + g * interval '15 minutes', ${value}, false, 0 FROM generate_series(1, ${n}) g`
        : `INSERT INTO qa.power SELECT ${known}, 'q-fixture', 'inv', 'active_power',
             TIMESTAMPTZ '2026-01-01' + g * interval '15 minutes', 1, 1, 1, 1 FROM generate_series(1, ${n}) g`,
    );
  await rows(2000, "1");
  await owner.query("UPDATE qa.energy SET energy_wh = NULL WHERE interval_start = TIMESTAMPTZ '2026-01-01 00:15Z'");
  const notNull = on("fact_energy_15min.energy_wh.not_null_share", "qa.energy");
  t.match(await evaluateRule(owner, notNull, all), { status: "pass", elements: 2000, failures: 1 }, "99.95 % ≥ 99.9 %");
  await owner.query(
    "UPDATE qa.energy SET energy_wh = NULL WHERE interval_start IN (TIMESTAMPTZ '2026-01-01 00:30Z', TIMESTAMPTZ '2026-01-01 00:45Z')",
  );
  const failed = await evaluateRule(owner, notNull, all);
  t.match(
    failed,
    { status: "fail", severity: "error", elements: 2000, failures: 3, failureShare: 0.0015 },
    "99.85 % < 99.9 %",
  );
  t.equal(failed.sampleKeys.length, 3);
  t.match(failed.sampleKeys, [{ series_id: known, interval_start: String }]);

  await rows(2, "1", "qa.power");
  for (const [prefix, table] of [
    ["fact_energy_15min", "qa.energy"],
    ["fact_power_15min", "qa.power"],
  ] as const) {
    const unique = on(`${prefix}.unique_series_quarter`, table);
    const references = on(`${prefix}.series_id.references_raw_series`, table);
    t.match(await evaluateRule(owner, unique, all), { status: "pass", failures: 0 }, `${table}: unique`);
    t.match(await evaluateRule(owner, references, all), { status: "pass", failures: 0 }, `${table}: references`);
    await owner.query(
      `INSERT INTO ${table} SELECT * FROM ${table} WHERE interval_start = TIMESTAMPTZ '2026-01-01 00:15Z'`,
    );
    t.match(
      await evaluateRule(owner, unique, all),
      { status: "fail", failures: 2, sampleKeys: [{ series_id: known, rows: 2 }] },
      `${table}: a duplicate key fails both its rows`,
    );
    await owner.query(`UPDATE ${table} SET series_id = 987654 WHERE interval_start = TIMESTAMPTZ '2026-01-01 00:30Z'`);
    t.match(
      await evaluateRule(owner, references, all),
      { status: "fail", failures: 1, sampleKeys: [{ series_id: 987654, value: 987654 }] },
      `${table}: a series raw.series does not know`,
    );
  }
  await owner.query("UPDATE qa.energy SET series_id = NULL WHERE interval_start = TIMESTAMPTZ '2026-01-01 01:00Z'");
  const withNull = await evaluateRule(owner, on("fact_energy_15min.unique_series_quarter", "qa.energy"), all);
  t.equal(withNull.failures, 3, "a key with a null in it fails too");
});

t.test("clean data: every rule of the energy and power jobs passes, on rows it really checked", async (t) => {
  await edge("q-clean");
  await site(10, [
    { kind: "inverter", edge: "q-clean", device: "inv" },
    { kind: "inverter" },
    { kind: "battery", edge: "q-clean", device: "bat" },
  ]);
  await store(
    await series("q-clean", "inv", "energy_exported"),
    minutes(30, (m) => 1000 + 10 * m),
  );
  await store(
    await series("q-clean", "inv", "active_power"),
    minutes(30, (m) => 4000 + 30 * m),
  );
  await store(
    await series("q-clean", "bat", "soc"),
    minutes(30, (m) => 40 + 2 * m),
  );
  await store(
    await series("q-clean", "sensor", "irradiance_poa"),
    minutes(30, (m) => 600 + 10 * m),
  );
  const runs = await pass();
  t.match(runs, [
    { job: "fact_energy_15min", status: "succeeded" },
    { job: "fact_power_15min", status: "succeeded" },
    { job: "energy_downstream", status: "succeeded" },
  ]);
  t.notOk(
    runs.some((r) => r.blockedBy),
    "nothing blocks",
  );
  const results = await resultsOf(runs);
  const checked = [...rulesOfJob(rules, jobs[0] as WarehouseJob), ...rulesOfJob(rules, jobs[1] as WarehouseJob)];
  t.equal(results.size, checked.length, "each rule once");
  for (const r of checked) {
    const got = results.get(r.name);
    t.match(got, { status: "pass", failures: "0", failure_share: 0, sample_keys: [] }, r.name);
    t.ok(Number(got?.elements) > 0, `${r.name} checked ${got?.elements} rows`);
  }
  t.equal(
    results.get("fact_power_15min.max_w.within_rated_power")?.elements,
    "3",
    "the inverter's three quarters (5 kW of 10 kWp)",
  );
  t.equal(results.get("readings.soc.between_0_and_100")?.elements, "31", "the window's 31 readings");
  t.equal(results.get("readings.irradiance.between_0_and_1500")?.elements, "31");
  t.equal(await metric("hub_quality_failed_share", { rule: "fact_energy_15min.energy_wh.non_negative" }), 0);
  t.equal(await metric("hub_quality_alerts_total", { rule: "fact_energy_15min.energy_wh.non_negative" }), 0);
});

t.test("negative energy blocks the downstream job, which runs once the window is clean", async (t) => {
  await edge("q-neg");
  const counter = await series("q-neg", "inv", "energy_exported");
  const at = (m: number, v: number) => ({ ts: T0 + m * MIN, v });
  // a counter reading of -500 Wh: a "reset" whose pair gives the quarter −500 Wh
  await store(counter, [at(0, 1000), at(5, 1010), at(10, 1020), at(14, -500), at(20, 1040)]);
  const runs = await pass();
  const name = "fact_energy_15min.energy_wh.non_negative";
  t.match(
    byJob(runs, "fact_energy_15min"),
    { status: "succeeded", blockedBy: [name] },
    "the energy run says which rule failed",
  );
  t.match(byJob(runs, "energy_downstream"), { status: "skipped", reason: "blocked", blockedBy: [name] });
  t.notOk(byJob(runs, "fact_power_15min").blockedBy, "the power job is not downstream");
  const result = (await resultsOf(runs)).get(name);
  t.match(result, {
    status: "fail",
    severity: "error",
    elements: "1",
    failures: "1",
    failure_share: 1,
    window_kind: "incremental",
    job: "fact_energy_15min",
    sample_keys: [{ series_id: counter, interval_start: /^2026-11-02T10:00:00/ }],
  });
  t.ok((result?.sample_keys[0].value as number) < 0, `the quarter's ${result?.sample_keys[0].value} Wh`);
  t.equal((await resultsOf(runs)).get("readings.counters.non_decreasing")?.status, "pass", "a drop to -500 is a reset");
  t.equal(await metric("hub_quality_failed_share", { rule: name, dataset: "curated.fact_energy_15min" }), 1);
  t.equal(
    await metric("hub_quality_alerts_total", { rule: name, dataset: "curated.fact_energy_15min" }),
    1,
    "an alert: 100 % > 1 %",
  );

  // a pass without new readings does not lift the block
  const idle = await pass();
  t.match(byJob(idle, "fact_energy_15min"), { status: "skipped", reason: "up to date" });
  t.match(
    byJob(idle, "energy_downstream"),
    { status: "skipped", reason: "blocked", blockedBy: [name] },
    "still blocked",
  );

  // the wrong reading is removed and the next one arrives: the quarter is computed again
  await owner.query("DELETE FROM raw.readings WHERE series_id = $1 AND value < 0", [counter]);
  await store(counter, [at(25, 1050)]);
  const again = await pass();
  t.match(byJob(again, "fact_energy_15min"), { status: "succeeded" });
  t.notOk(byJob(again, "fact_energy_15min").blockedBy);
  t.match(byJob(again, "energy_downstream"), { status: "succeeded" }, "the downstream job runs again");
  t.match((await resultsOf(again)).get(name), { status: "pass", elements: "1" });
  const { rows } = await owner.query("SELECT energy_wh FROM curated.fact_energy_15min WHERE series_id = $1", [counter]);
  t.same(
    rows.map((r) => r.energy_wh),
    [30],
    "10 + 10 + half of 20",
  );
  t.equal(await metric("hub_quality_failed_share", { rule: name, dataset: "curated.fact_energy_15min" }), 0);
  t.equal(
    await metric("hub_quality_alerts_total", { rule: name, dataset: "curated.fact_energy_15min" }),
    1,
    "no new alert",
  );
});

t.test("a counter that decreases without a reset blocks; a reset does not", async (t) => {
  await edge("q-glitch");
  const glitch = await series("q-glitch", "inv", "energy_exported");
  const reset = await series("q-glitch", "meter", "energy_imported");
  // 10:10 repeats a value of long ago (not below 1 % of the last one); the meter's counter restarts at 5 Wh
  await store(
    glitch,
    minutes(20, (m) => (m === 10 ? 9_990_000 : 10_000_000 + 100 * m)),
  );
  await store(
    reset,
    minutes(20, (m) => (m < 10 ? 50_000 + 10 * m : 5 + 10 * (m - 10))),
  );
  const runs = await pass();
  const name = "readings.counters.non_decreasing";
  t.match(byJob(runs, "fact_energy_15min"), { status: "succeeded", blockedBy: [name] });
  t.match(byJob(runs, "energy_downstream"), { status: "skipped", reason: "blocked", blockedBy: [name] });
  const result = (await resultsOf(runs)).get(name);
  t.match(
    result,
    { status: "fail", severity: "error", elements: "40", failures: "1" },
    "40 pairs of the window, one failing",
  );
  t.match(result?.sample_keys, [{ series_id: glitch, value: 9_990_000, previous: 10_000_900 }]);
  t.equal(
    (await resultsOf(runs)).get("fact_energy_15min.energy_wh.non_negative")?.status,
    "pass",
    "the energy facts alone would not show it (the glitch reads as a reset)",
  );
  t.equal(await metric("hub_quality_alerts_total", { rule: name, dataset: "staging.readings" }), 1, "1/40 > 1 %");
});

t.test("power above 1.1 × rated and a state of charge outside 0–100 % are warnings: nothing is blocked", async (t) => {
  await edge("q-pv");
  // 10 kWp over two inverters: 5 kW each, 5.5 kW allowed; inv3 and inv4 report their rating (3 kW)
  await site(10, [
    { kind: "inverter", edge: "q-pv", device: "inv1" },
    { kind: "inverter", edge: "q-pv", device: "inv2" },
    { kind: "meter", edge: "q-pv", device: "meter" },
  ]);
  const power = async (device: string, values: number[]) => {
    const id = await series("q-pv", device, "active_power");
    await store(
      id,
      values.map((v, i) => ({ ts: T0 + i * 5 * MIN, v })),
    );
    return id;
  };
  const inv1 = await power("inv1", [4000, 6000, 5000]);
  await power("inv2", [4000, 5000, 5400]);
  const inv3 = await power("inv3", [3000, 3400, 3000]);
  await power("inv4", [3000, 3200, 3250]);
  await power("meter", [20_000, 20_000, 20_000]);
  for (const device of ["inv3", "inv4"])
    await store(await series("q-pv", device, "rated_power"), [{ ts: T0, v: 3000 }]);
  const soc = await series("q-pv", "bat", "soc");
  await store(
    soc,
    [50, 101, 100, 0, -1].map((v, i) => ({ ts: T0 + i * MIN, v })),
  );
  await store(
    await series("q-pv", "sensor", "irradiance_poa"),
    [0, 850, -3, 1620].map((v, i) => ({ ts: T0 + i * MIN, v })),
  );
  const runs = await pass();
  t.notOk(
    runs.some((r) => r.blockedBy),
    "warnings block nothing",
  );
  t.match(byJob(runs, "energy_downstream"), { status: "succeeded" });
  const results = await resultsOf(runs);
  const rated = results.get("fact_power_15min.max_w.within_rated_power");
  t.match(
    rated,
    { status: "fail", severity: "warn", elements: "4", failures: "2", failure_share: 0.5 },
    "the meter has no rating",
  );
  t.same(
    rated?.sample_keys
      .map((k: { series_id: number; value: number; limit: number }) => [k.series_id, k.value, Math.round(k.limit)])
      .sort((a: number[], b: number[]) => (a[0] as number) - (b[0] as number)),
    [
      [inv1, 6000, 5500],
      [inv3, 3400, 3300],
    ],
    "the kWp share for inv1, the reported rating for inv3",
  );
  t.match(results.get("readings.soc.between_0_and_100"), {
    status: "fail",
    severity: "warn",
    elements: "5",
    failures: "2",
  });
  t.same(
    results
      .get("readings.soc.between_0_and_100")
      ?.sample_keys.map((k: { value: number }) => k.value)
      .sort(),
    [-1, 101],
  );
  t.match(results.get("readings.irradiance.between_0_and_1500"), {
    status: "fail",
    severity: "warn",
    elements: "4",
    failures: "2",
  });
});

t.test("freshness per edge: warn after 15 minutes, error after an hour", async (t) => {
  const now = new Date();
  const ago = (ms: number) => new Date(now.getTime() - ms);
  const reading = async (edgeId: string, ts: Date, firstSeen = ago(5 * 60 * MIN)) => {
    await edge(edgeId, firstSeen);
    await store(await series(edgeId, "inv", "active_power"), [{ ts: ts.getTime(), v: 1 }]);
  };
  await reading("f-fresh", ago(5 * MIN));
  await reading("f-warn", ago(30 * MIN));
  await reading("f-error", ago(120 * MIN));
  // a clock running ahead does not make an edge fresh: it counts from its first contact
  await reading("f-future", new Date(now.getTime() + 60 * MIN), ago(90 * MIN));
  await edge("f-silent", ago(180 * MIN));
  await edge("f-new", ago(MIN));
  const fresh = rule("edges.freshness");
  const only = (where: string) => [{ ...fresh, where }];
  const [all] = await checkFreshness(owner, { rules: only("edge_id LIKE 'f-%'"), now, registry });
  t.match(all, { status: "fail", severity: "error", elements: 6, failures: 4, failureShare: 4 / 6 });
  t.same(
    all?.sampleKeys.map((k) => [k.edge_id, k.level]),
    [
      ["f-silent", "error"],
      ["f-error", "error"],
      ["f-future", "error"],
      ["f-warn", "warn"],
    ],
    "oldest first",
  );
  t.match(all?.sampleKeys[1], { age_s: 7200 });
  const [warn] = await checkFreshness(owner, { rules: only("edge_id IN ('f-fresh', 'f-warn')"), now });
  t.match(warn, { status: "fail", severity: "warn", elements: 2, failures: 1 }, "only warn_after passed: a warning");
  const [ok] = await checkFreshness(owner, { rules: only("edge_id IN ('f-fresh', 'f-new')"), now });
  t.match(ok, { status: "pass", severity: "error", failures: 0, sampleKeys: [] });
  const { rows } = await owner.query(
    "SELECT status, severity, window_kind, run_id FROM ops.quality_results WHERE rule = 'edges.freshness' ORDER BY id",
  );
  t.match(rows, [
    { status: "fail", severity: "error", window_kind: "pass", run_id: null },
    { status: "fail", severity: "warn" },
    { status: "pass" },
  ]);
  t.equal(await metric("hub_quality_alerts_total", { rule: "edges.freshness", dataset: "raw.edges" }), 1);
});

t.test("results and the daily report over HTTP (warehouse:read)", async (t) => {
  const get = (url: string, role: "analyst" | "technician" = "analyst") =>
    platform.app.inject({ method: "GET", url: `/api/v1${url}`, headers: platform.as(role) });
  const failed = await get("/quality/results?rule=fact_energy_15min.energy_wh.non_negative&status=fail");
  t.equal(failed.statusCode, 200, failed.body);
  t.match(failed.json().items, [
    {
      rule: "fact_energy_15min.energy_wh.non_negative",
      dataset: "curated.fact_energy_15min",
      runId: String,
      job: "fact_energy_15min",
      window: { kind: "incremental", from: String, to: String },
      status: "fail",
      severity: "error",
      elements: 1,
      failures: 1,
      failureShare: 1,
      sampleKeys: [{ interval_start: String }],
      checkedAt: String,
    },
  ]);
  t.equal(failed.json().items.length, 1);
  const limited = await get("/quality/results?dataset=curated.fact_energy_15min&limit=2");
  t.equal(limited.json().items.length, 2);
  t.ok(
    limited.json().items.every((i: { dataset: string }) => i.dataset === "curated.fact_energy_15min"),
    "only the dataset",
  );
  const later = await get(`/quality/results?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
  t.same(later.json().items, []);
  t.equal((await get("/quality/results?status=broken")).statusCode, 400);
  t.equal((await get("/quality/results", "technician")).statusCode, 403);

  const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Berlin" }).format(new Date());
  const report = await get(`/quality/report?date=${today}`);
  t.equal(report.statusCode, 200, report.body);
  t.match(report.json(), { date: today, timeZone: "Europe/Berlin" });
  const datasets = new Map(report.json().datasets.map((d: { dataset: string }) => [d.dataset, d]));
  t.match(datasets.get("curated.fact_energy_15min"), {
    rulesChecked: 4,
    rulesPassed: 3,
    rulesFailed: 1,
    worstFailureShare: 1,
    failedRules: [{ rule: "fact_energy_15min.energy_wh.non_negative", severity: "error", failedChecks: 1 }],
  });
  t.match(datasets.get("staging.readings"), { rulesChecked: 3, rulesFailed: 3 });
  t.match(datasets.get("raw.edges"), { rulesChecked: 1, rulesFailed: 1 });
  t.same((await get("/quality/report")).json().date, today, "today by default");
  t.same((await get("/quality/report?date=2001-01-01")).json().datasets, []);
  t.equal((await get("/quality/report?date=2026-02-30")).statusCode, 400);
  t.equal((await get("/quality/report", "technician")).statusCode, 403);
});

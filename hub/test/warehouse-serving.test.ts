/**
 * The warehouse from ERP and telemetry to serving, on a real PostgreSQL with ERP data written
 * through the API: dimensions (a device's kWp share), fault intervals from the monitor's tickets,
 * hours and material cost per project against what was invoiced, and per site and local day the
 * energy, specific yield, self-consumption, autarky and availability (quarters without data
 * excluded); the dates' quarter-hours on DST days; a pass over unchanged data changes nothing.
 */
import t from "tap";
import { runWarehouse } from "../src/warehouse/runner.js";
import { configureCompany } from "./fixtures/company.js";
import { log, startPlatform } from "./fixtures/platform.js";

const platform = await startPlatform({ poolMax: 20 });
t.teardown(() => platform.close());
const { app, pool } = platform;
const admin = platform.as("admin");
const accountant = platform.as("accountant");

type Json = Record<string, any> & { id: string; version: number };
async function post(url: string, payload: object, headers = admin, status = 201): Promise<Json> {
  const res = await app.inject({ method: "POST", url: `/api/v1${url}`, headers, payload });
  if (res.statusCode !== status) throw new Error(`POST ${url}: ${res.statusCode} ${res.body}`);
  return res.json() as Json;
}
const rows = async (sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows;
const run = () => runWarehouse(pool, { log });

await configureCompany(app, accountant);
const customer = await post("/customers", {
  name: "Bäckerei Korn",
  kind: "business",
  street: "Markt 1",
  postalCode: "34117",
  city: "Kassel",
});
const site = await post("/sites", { customerId: customer.id, name: "Backstube", kwp: 10 });
for (const [kind, deviceId, serialNumber] of [
  ["inverter", "inv1", "INV-1"],
  ["meter", "meter1", "MTR-1"],
  ["other", "sensor1", "IRR-1"],
] as const) {
  await post("/devices", { siteId: site.id, kind, serialNumber, edgeId: "bakery", deviceId });
}

// 2026-11-02 in Berlin is UTC+1: local 00:00 = 23:00 UTC the day before
const DAY = Date.parse("2026-11-01T23:00:00Z");
const Q = 15 * 60_000;
await pool.query("INSERT INTO raw.edges (edge_id) VALUES ('bakery')");
const series = async (device: string, point: string): Promise<number> =>
  (
    await pool.query(
      "INSERT INTO raw.series (edge_id, device_id, point) VALUES ('bakery', $1, $2) RETURNING series_id",
      [device, point],
    )
  ).rows[0].series_id;
let seq = 0;
async function store(id: number, samples: Array<[number, number]>) {
  await pool.query(
    `INSERT INTO raw.readings (series_id, seq, ts, value, quality, clock_synced)
     SELECT $1, x.seq, to_timestamp(x.ts / 1000.0), x.v, 1, true FROM jsonb_to_recordset($2) AS x(seq bigint, ts bigint, v float8)`,
    [id, JSON.stringify(samples.map(([ts, v]) => ({ seq: ++seq, ts, v })))],
  );
}
/** A counter sampled on every boundary of the day (and the next midnight), rising `per(q)` in quarter q. */
const counter = (per: (q: number) => number): Array<[number, number]> => {
  let v = 1_000_000;
  return Array.from({ length: 97 }, (_, q) => {
    const sample: [number, number] = [DAY + q * Q, v];
    v += per(q);
    return sample;
  });
};
// production 500 Wh per quarter 07:00–17:00 (40 quarters = 20 kWh), export 200 Wh in the same
// quarters (8 kWh), import 100 Wh in every quarter (9.6 kWh)
const daylight = (q: number) => q >= 28 && q < 68;
await store(
  await series("inv1", "energy_exported"),
  counter((q) => (daylight(q) ? 500 : 0)),
);
await store(
  await series("meter1", "energy_exported"),
  counter((q) => (daylight(q) ? 200 : 0)),
);
await store(
  await series("meter1", "energy_imported"),
  counter(() => 100),
);
// power: 2 kW in daylight but 0 W at noon (q 48) and no data at all in q 50
const power: Array<[number, number]> = [];
for (let q = 0; q < 96; q++) {
  if (q === 50) continue;
  power.push([DAY + q * Q + 5 * 60_000, daylight(q) && q !== 48 ? 2000 : 0]);
}
await store(await series("inv1", "active_power"), power);
// plane-of-array irradiance 250 W/m² in daylight, one sample per quarter, but none in q 30 and 31
// (a sensor gap: those quarters count in neither yield, so the ratio stays what the rest shows)
const irradiance: Array<[number, number]> = [];
for (let q = 0; q < 96; q++) {
  if (q === 30 || q === 31) continue;
  irradiance.push([DAY + q * Q + 7 * 60_000, daylight(q) ? 250 : 0]);
}
await store(await series("sensor1", "irradiance_poa"), irradiance);

t.test("per site and local day: energy, yield, self-consumption, autarky, availability", async (t) => {
  const passes = await run();
  t.ok(
    passes.every((r) => r.status !== "failed"),
    JSON.stringify(passes),
  );
  t.match(
    passes.find((r) => r.job === "serving"),
    { status: "succeeded" },
  );
  const [day] = await rows("SELECT * FROM serving.site_daily WHERE site_id = $1", [site.id]);
  t.match(day, {
    day: new Date("2026-11-02T00:00:00Z"),
    production_kwh: "20.000",
    export_kwh: "8.000",
    import_kwh: "9.600",
    specific_yield_kwh_per_kwp: "2.000",
    self_consumption_rate: "0.6000",
    autarky_rate: "0.5556",
    availability: "0.9744",
    // 38 daylight quarters with both: 19 kWh / 10 kWp = 1.9 h over 38 × 0.25 h × 0.25 kW/m² / 1 kW/m² = 2.375 h
    insolation_kwh_per_m2: "2.375",
    performance_ratio: "0.8000",
    estimated: false,
  });
  t.match(
    await rows(
      "SELECT month, days, production_kwh, insolation_kwh_per_m2, performance_ratio FROM serving.site_monthly WHERE site_id = $1",
      [site.id],
    ),
    [{ days: "1", production_kwh: "20.000", insolation_kwh_per_m2: "2.375", performance_ratio: "0.8000" }],
  );
  const [quarter] = await rows(
    "SELECT avg_w, samples FROM curated.fact_power_15min WHERE point = 'irradiance_poa' AND interval_start = $1",
    [new Date(DAY + 40 * Q)],
  );
  t.same(quarter, { avg_w: 250, samples: 1 }, "irradiance aggregated per quarter like power");
  t.match(await rows("SELECT kind, kwp_share FROM curated.dim_device WHERE site_id = $1 ORDER BY kind", [site.id]), [
    { kind: "inverter", kwp_share: "10.000" },
    { kind: "meter", kwp_share: null },
    { kind: "other", kwp_share: null },
  ]);
});

t.test("the calendar: 92 and 100 quarter-hours on the DST days", async (t) => {
  const days = await rows(
    "SELECT day::text, quarter_hours FROM curated.dim_date WHERE day IN ('2026-03-29', '2026-10-25', '2026-11-02') ORDER BY day",
  );
  t.same(days, [
    { day: "2026-03-29", quarter_hours: 92 },
    { day: "2026-10-25", quarter_hours: 100 },
    { day: "2026-11-02", quarter_hours: 96 },
  ]);
});

t.test("fault intervals from the monitor's tickets", async (t) => {
  await pool.query(
    `INSERT INTO erp.tickets (site_id, title, source, cause, recovered_at, created_at)
     VALUES ($1, 'Störung', 'device_fault', 'fault:bakery/inv1:E042', '2026-11-02T12:00:00Z', '2026-11-02T10:00:00Z'),
            ($1, 'Keine Daten', 'silence', 'silence:edge:bakery', NULL, '2026-11-02T13:00:00Z')`,
    [site.id],
  );
  await run();
  t.match(
    await rows(
      "SELECT edge_id, device_id, status, code, started_at, ended_at FROM curated.fact_device_status ORDER BY started_at",
    ),
    [
      {
        edge_id: "bakery",
        device_id: "inv1",
        status: "fault",
        code: "E042",
        ended_at: new Date("2026-11-02T12:00:00Z"),
      },
      { edge_id: "bakery", device_id: null, status: "silence", code: null, ended_at: null },
    ],
  );
});

t.test("hours and material per project against what was invoiced, and the margin", async (t) => {
  const project = await post("/projects", {
    customerId: customer.id,
    siteId: site.id,
    title: "Speicher",
    kind: "extension",
  });
  const technician = platform.as("technician");
  await post("/time-bookings", { projectId: project.id, workDate: "2026-11-03", hours: 3 }, technician);
  await post("/time-bookings", { projectId: project.id, workDate: "2026-11-04", hours: 2 }, technician);
  const warehouse = await post("/warehouses", { code: "HQ", name: "Hauptlager" });
  const article = await post("/articles", {
    number: "BAT-5",
    name: "Speicher 5 kWh",
    category: "battery",
    purchasePriceCents: 10_000,
  });
  await post("/stock-movements", { kind: "receipt", articleId: article.id, quantity: 3, toWarehouseId: warehouse.id });
  const move = { articleId: article.id, projectId: project.id };
  await post("/stock-movements", { kind: "issue", quantity: 2, fromWarehouseId: warehouse.id, ...move });
  await post("/stock-movements", { kind: "return", quantity: 1, toWarehouseId: warehouse.id, ...move });
  const draft = await post("/invoices", { customerId: customer.id, projectId: project.id }, accountant);
  await post(
    `/invoices/${draft.id}/hours`,
    { position: 1, hourlyRateCents: 10_000, vatCategory: "S", vatRate: 19 },
    accountant,
  );
  const fin = await app.inject({
    method: "POST",
    url: `/api/v1/invoices/${draft.id}/finalise`,
    headers: { ...accountant, "if-match": '"1"' },
  });
  t.equal(fin.statusCode, 200, fin.body);
  await run();
  t.match(await rows("SELECT * FROM serving.project_margin WHERE project_id = $1", [project.id]), [
    {
      hours: "5.00",
      hours_invoiced: "5.00",
      material_cost_cents: "10000",
      invoiced_net_cents: "50000",
      margin_before_labour_cents: "40000",
      margin_rate: "0.8000",
    },
  ]);
});

t.test("a pass over unchanged data writes nothing and refreshes nothing", async (t) => {
  await run();
  const again = await run();
  t.ok(
    again.every((r) => r.status === "skipped" && r.reason === "up to date"),
    JSON.stringify(again.map((r) => [r.job, r.status, r.reason])),
  );
});

/**
 * The data catalog against the database: every column of every dataset of the raw, staging,
 * curated and serving layers and of the ERP is catalogued (and nothing that is not there); the
 * grants the classification drives agree with it for every layer group and column; a sensitive
 * column cannot be read by the analyst layer, directly or through a view; the API and the
 * OpenMetadata export.
 */
import t from "tap";
import { LAYER_READERS, loadCatalog } from "../src/warehouse/catalog.js";
import { startPlatform } from "./fixtures/platform.js";

const platform = await startPlatform();
t.teardown(() => platform.close());
const { app, pool } = platform;
const catalog = loadCatalog();

t.test("every column in the database is catalogued with a description, and nothing else", async (t) => {
  const { rows } = await pool.query(
    `SELECT n.nspname || '.' || c.relname AS dataset, a.attname AS col
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE n.nspname IN ('raw', 'staging', 'curated', 'serving', 'erp') AND c.relkind IN ('r', 'v', 'm', 'p')
       AND NOT c.relispartition ORDER BY 1, a.attnum`,
  );
  const inDatabase = rows.map((r) => `${r.dataset}.${r.col}`).sort();
  const inCatalog = catalog.flatMap((d) => d.columns.map((c) => `${d.name}.${c.name}`)).sort();
  t.same(
    inDatabase.filter((c) => !inCatalog.includes(c)),
    [],
    "no column uncatalogued",
  );
  t.same(
    inCatalog.filter((c) => !inDatabase.includes(c)),
    [],
    "no catalogued column missing",
  );
  t.same(
    catalog.flatMap((d) => d.columns.filter((c) => !c.description.trim()).map((c) => `${d.name}.${c.name}`)),
    [],
    "every column described",
  );
});

t.test("the grants agree with the classification for every layer group and column", async (t) => {
  const expected = (role: string, layer: string, classification: string) =>
    LAYER_READERS[layer as keyof typeof LAYER_READERS] === role
      ? classification !== "sensitive"
      : role === "steinmetz_app" && layer === "erp";
  const mismatches: string[] = [];
  for (const role of Object.values(LAYER_READERS)) {
    const { rows } = await pool.query(
      `SELECT d.name AS dataset, c.col, has_column_privilege($1, d.name, c.col, 'SELECT') AS granted
       FROM jsonb_to_recordset($2::jsonb) AS d(name text, cols text[]) CROSS JOIN unnest(d.cols) AS c(col)`,
      [role, JSON.stringify(catalog.map((d) => ({ name: d.name, cols: d.columns.map((c) => c.name) })))],
    );
    const classOf = new Map(
      catalog.flatMap((d) => d.columns.map((c) => [`${d.name}.${c.name}`, [d.layer, c.classification]])),
    );
    for (const r of rows) {
      const [layer, classification] = classOf.get(`${r.dataset}.${r.col}`) as [string, string];
      if (r.granted !== expected(role, layer, classification))
        mismatches.push(`${role} ${r.dataset}.${r.col}: ${r.granted}`);
    }
  }
  t.same(mismatches, [], "every role and column as the catalog says");
  const { rows: writes } = await pool.query(
    `SELECT has_table_privilege('steinmetz_integration', 'raw.readings', 'INSERT') AS readings,
       has_table_privilege('steinmetz_integration', 'raw.edges', 'UPDATE') AS edges`,
  );
  t.same(writes[0], { readings: true, edges: true }, "only SELECT is managed: the ingest path still writes raw");
  t.ok(
    catalog.some((d) => d.layer === "curated" && d.columns.some((c) => c.classification === "sensitive")),
    "the curated layer has sensitive columns to withhold",
  );
});

t.test("a sensitive column is not readable by the analyst layer, directly or through a view", async (t) => {
  await pool.query("CREATE ROLE t_analyst LOGIN PASSWORD 'pw-analyst' IN ROLE steinmetz_analyst");
  await pool.query(
    "CREATE VIEW curated.t_customer_names WITH (security_invoker = true) AS SELECT customer_id, name FROM curated.dim_customer",
  );
  await pool.query("GRANT SELECT ON curated.t_customer_names TO steinmetz_analyst");
  t.teardown(() => pool.query("DROP VIEW curated.t_customer_names"));
  const url = new URL(platform.db.url);
  url.username = "t_analyst";
  url.password = "pw-analyst";
  const pg = (await import("pg")).default;
  const analyst = new pg.Client({ connectionString: url.toString() });
  await analyst.connect();
  t.teardown(() => analyst.end());
  const attempt = (sql: string) =>
    analyst.query(sql).then(
      () => "ok",
      (err: { code: string }) => err.code,
    );
  t.equal(await attempt("SELECT customer_id, kind, city FROM curated.dim_customer"), "ok", "what is not sensitive");
  t.equal(await attempt("SELECT name FROM curated.dim_customer"), "42501", "the name directly");
  t.equal(await attempt("SELECT * FROM curated.dim_customer"), "42501", "or with *");
  t.equal(await attempt("SELECT name FROM curated.t_customer_names"), "42501", "or through a view");
  t.equal(await attempt("SELECT * FROM curated.fact_energy_15min LIMIT 1"), "ok");
  t.equal(await attempt("SELECT * FROM raw.readings LIMIT 1"), "42501", "raw is for integration only");
  t.equal(await attempt("SELECT * FROM serving.site_daily LIMIT 1"), "42501", "serving is for the applications");
  const { rows } = await pool.query(
    `SELECT n.nspname || '.' || c.relname AS view FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'v' AND n.nspname IN ('raw', 'staging', 'curated', 'serving', 'erp')
       AND NOT coalesce(c.reloptions @> ARRAY['security_invoker=true'], false)`,
  );
  t.same(rows, [], "every view checks its caller's rights");
});

t.test("the catalog over HTTP, searchable, and as OpenMetadata tables", async (t) => {
  const get = (url: string, role: Parameters<typeof platform.as>[0] = "analyst") =>
    app.inject({ method: "GET", url: `/api/v1${url}`, headers: platform.as(role) });
  t.equal((await get("/catalog/datasets", "technician")).statusCode, 403);
  const res = await get("/catalog/datasets?q=energy");
  t.equal(res.statusCode, 200, res.body);
  const energy = res.json().items.find((d: { name: string }) => d.name === "curated.fact_energy_15min");
  t.match(energy, {
    layer: "curated",
    owner: "data-platform",
    classification: "internal",
    tableType: "Regular",
    columns: [{ name: "series_id", type: "integer", description: "Series id" }],
  });
  await app.inject({
    method: "POST",
    url: "/api/v1/customers",
    headers: platform.as("office"),
    payload: { name: "Familie Sonnenschein", kind: "private" },
  });
  const all = (await get("/catalog/datasets")).json().items as Array<{ name: string; freshness: string | null }>;
  t.equal(all.length, catalog.length, "every dataset");
  t.ok(all.find((d) => d.name === "erp.customers")?.freshness, "ERP freshness from updated_at");
  const om = (await get("/catalog/openmetadata")).json().items;
  const customers = om.find((d: { fullyQualifiedName: string }) =>
    d.fullyQualifiedName.endsWith(".curated.dim_customer"),
  );
  t.match(customers, {
    fullyQualifiedName: /^steinmetz-hub\.[^.]+\.curated\.dim_customer$/,
    tableType: "Regular",
    owners: [{ name: "data-platform", type: "team" }],
  });
  t.match(
    customers.columns.find((c: { name: string }) => c.name === "name"),
    { dataType: "TEXT", tags: [{ tagFQN: "PII.Sensitive", source: "Classification" }] },
  );
});

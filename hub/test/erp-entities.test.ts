/**
 * The ERP entities the resource kit derives from their declarations, through HTTP on a real
 * PostgreSQL: the meta document, CRUD with references, filters, sort, quick search and cursor
 * pages, refusals naming the field with nothing written, the project workflow (every transition
 * allowed or refused with the allowed list, the permission each needs, audited, one winner of a
 * race).
 */
import t, { type Test } from "tap";
import { seedDemoCompany } from "../src/erp/demo-seed.js";
import { ERP_ENTITIES } from "../src/erp/index.js";
import { projects } from "../src/erp/projects/entities.js";
import { startPlatform } from "./fixtures/platform.js";

const platform = await startPlatform();
t.teardown(() => platform.close());
const { app, pool } = platform;
const office = platform.as("office");

type Injected = Awaited<ReturnType<typeof app.inject>>;
type Json = Record<string, unknown> & { id: string; version: number };
const body = (res: Injected) => res.json() as Json;
const post = (url: string, payload: object, headers: Record<string, string> = office) =>
  app.inject({ method: "POST", url: `/api/v1${url}`, headers, payload });
const get = (url: string, headers: Record<string, string> = office) =>
  app.inject({ method: "GET", url: `/api/v1${url}`, headers });
const count = async (sql: string, params: unknown[] = []) =>
  Number((await pool.query<{ n: string }>(sql, params)).rows[0]?.n);

/** Creates a record and returns it (fails the test on anything but 201). */
async function create(t: Test, url: string, payload: object, headers = office): Promise<Json> {
  const res = await post(url, payload, headers);
  t.equal(res.statusCode, 201, `POST ${url}: ${res.body}`);
  return body(res);
}

t.test("the demo company is seeded once, on a database without customers and sites", async (t) => {
  const demo = { edgeId: "edge-demo", inverterSerial: "SIM0000001" };
  t.equal(await seedDemoCompany(pool, demo), true);
  t.equal(await seedDemoCompany(pool, demo), false, "a second start changes nothing");
  const { rows } = await pool.query(`SELECT
      (SELECT count(*) FROM erp.customers)::int AS customers,
      (SELECT status FROM erp.projects) AS project,
      (SELECT sum(reserved)::float FROM erp.stock) AS reserved,
      (SELECT count(*) FROM erp.time_bookings)::int AS bookings,
      (SELECT count(*) FROM erp.tickets)::int AS tickets,
      (SELECT edge_id FROM erp.gateways) AS gateway,
      (SELECT serial_number FROM erp.devices) AS serial,
      (SELECT count(DISTINCT actor_id)::int FROM audit.records WHERE actor_id = 'system:demo-seed') AS audited`);
  t.same(rows[0], {
    customers: 3,
    project: "scheduled",
    reserved: 191,
    bookings: 2,
    tickets: 1,
    gateway: "edge-demo",
    serial: "SIM0000001",
    audited: 1,
  });
  const site = (await get("/sites?q=Sonnenschein")).json().items[0];
  t.match((await get(`/sites/${site.id}`)).json(), {
    gateways: [{ edgeId: "edge-demo" }],
    devices: [{ serialNumber: "SIM0000001" }],
  });
});

t.test("meta: each role sees the entities it may read, with labels, fields and workflow", async (t) => {
  const meta = (await get("/meta/entities")).json() as { entities: Array<Record<string, unknown>> };
  t.same(
    meta.entities.map((e) => e.name),
    ERP_ENTITIES.map((e) => e.name),
  );
  const project = meta.entities.find((e) => e.name === "projects") as {
    label: unknown;
    canWrite: boolean;
    fields: Array<{ key: string; kind: string; readOnly: boolean; options?: unknown[] }>;
    workflow: { initial: string; transitions: Array<{ to: string; allowed: boolean }> };
  };
  t.same(project.label, { de: "Projekt", en: "Project" });
  t.equal(project.canWrite, true);
  t.match(
    project.fields.find((f) => f.key === "status"),
    { kind: "enum", readOnly: true, options: Array },
  );
  t.equal(project.workflow.initial, "lead");
  t.equal(project.workflow.transitions.find((x) => x.to === "invoiced")?.allowed, false, "office does not invoice");
  const tech = (await get("/meta/entities", platform.as("technician"))).json() as {
    entities: Array<{ canWrite: boolean; name: string }>;
  };
  t.equal(tech.entities.find((e) => e.name === "customers")?.canWrite, false);
  const analyst = (await get("/meta/entities", platform.as("analyst"))).json() as { entities: unknown[] };
  t.same(analyst.entities, [], "an analyst reads no ERP entity");
  t.equal((await get("/meta/entities", {})).statusCode, 401);
});

t.test("a customer with contacts, a site with gateway and devices, a project", async (t) => {
  const customer = await create(t, "/customers", { name: "Sonnenschein GbR", kind: "private", city: "Kassel" });
  t.match(customer, {
    number: /^K-\d{5}$/,
    kind: "private",
    country: "DE",
    consentNewsletter: false,
    consentNewsletterAt: null,
  });
  const contact = await create(t, "/contacts", { customerId: customer.id, lastName: "Schein", isPrimary: true });
  const second = await post("/contacts", { customerId: customer.id, lastName: "Sonne", isPrimary: true });
  t.equal(second.statusCode, 409);
  t.match(second.json(), { code: "HUB_ERR_DUPLICATE", problems: [{ path: "/isPrimary" }] });
  const site = await create(t, "/sites", {
    customerId: customer.id,
    name: "Dach Kassel",
    kwp: 9.86,
    commissioningDate: "2026-05-04",
    mastrNumber: "SEE900000000002",
  });
  t.match(site, { kwp: 9.86, commissioningDate: "2026-05-04" });
  await create(t, "/gateways", { siteId: site.id, edgeId: "edge-kassel-1" });
  const inverter = await create(t, "/devices", {
    siteId: site.id,
    kind: "inverter",
    manufacturer: "SunSpec",
    serialNumber: "SN-INV-1",
  });
  const dup = await post("/devices", { siteId: site.id, kind: "meter", serialNumber: "SN-INV-1" });
  t.match(dup.json(), { code: "HUB_ERR_DUPLICATE", problems: [{ path: "/serialNumber" }] });
  const halfLink = await app.inject({
    method: "PATCH",
    url: `/api/v1/devices/${inverter.id}`,
    headers: { ...office, "if-match": `"${inverter.version}"` },
    payload: { edgeId: "edge-kassel-1" },
  });
  t.match(halfLink.json(), { code: "HUB_ERR_VALIDATION", problems: [{ path: "/deviceId" }] });
  const project = await create(t, "/projects", {
    customerId: customer.id,
    siteId: site.id,
    title: "PV 9.86 kWp",
    kind: "installation",
    budgetCents: 1_450_000,
  });
  t.match(project, { number: /^P-\d{5}$/, status: "lead", budgetCents: 1_450_000 });

  const inUse = await app.inject({
    method: "DELETE",
    url: `/api/v1/customers/${customer.id}`,
    headers: { ...office, "if-match": `"${customer.version}"` },
  });
  t.equal(inUse.statusCode, 409);
  t.equal(inUse.json().code, "HUB_ERR_IN_USE");
  t.equal((await get(`/contacts/${contact.id}`)).statusCode, 200, "nothing was deleted");
  t.equal(
    (
      await app.inject({
        method: "DELETE",
        url: `/api/v1/projects/${project.id}`,
        headers: { ...office, "if-match": '"1"' },
      })
    ).statusCode,
    404,
    "projects are never deleted (no such route)",
  );
});

t.test("consents: stamped by the database, a source required", async (t) => {
  const noSource = await post("/customers", { name: "Ohne Quelle", consentNewsletter: true });
  t.equal(noSource.statusCode, 400);
  t.match(noSource.json(), { code: "HUB_ERR_VALIDATION", problems: [{ path: "/consentNewsletterSource" }] });
  const given = await create(t, "/customers", {
    name: "Mit Quelle",
    consentMonitoring: true,
    consentMonitoringSource: "Vertrag 2026-11",
  });
  t.ok(Date.parse(String(given.consentMonitoringAt)) > Date.now() - 60_000, "time of consent stamped");
  const withdrawn = await app.inject({
    method: "PATCH",
    url: `/api/v1/customers/${given.id}`,
    headers: { ...office, "if-match": `"${given.version}"` },
    payload: { consentMonitoring: false },
  });
  t.equal(withdrawn.statusCode, 200);
  t.not(body(withdrawn).consentMonitoringAt, given.consentMonitoringAt, "withdrawal stamped anew");
  const readOnly = await post("/customers", { name: "x", consentNewsletterAt: "2020-01-01T00:00:00Z" });
  t.match(readOnly.json(), { code: "HUB_ERR_VALIDATION", problems: [{ path: "/consentNewsletterAt" }] });
});

t.test("bad input: 4xx naming the field, nothing written", async (t) => {
  const before = await count("SELECT (SELECT count(*) FROM erp.sites) + (SELECT count(*) FROM erp.contacts) AS n");
  const cases: Array<[string, object, string, string]> = [
    [
      "/sites",
      { customerId: "00000000-0000-4000-8000-000000000000", name: "x" },
      "HUB_ERR_REFERENCE_INVALID",
      "/customerId",
    ],
    ["/sites", { customerId: "not-a-uuid", name: "x" }, "HUB_ERR_VALIDATION", "/customerId"],
    ["/sites", { name: "x" }, "HUB_ERR_VALIDATION", "/customerId"],
    [
      "/sites",
      { customerId: "00000000-0000-4000-8000-000000000000", name: "x".repeat(201) },
      "HUB_ERR_VALIDATION",
      "/name",
    ],
    [
      "/sites",
      { customerId: "00000000-0000-4000-8000-000000000000", name: "x", kwp: -1 },
      "HUB_ERR_VALIDATION",
      "/kwp",
    ],
    [
      "/sites",
      { customerId: "00000000-0000-4000-8000-000000000000", name: "x", kwp: "ten" },
      "HUB_ERR_VALIDATION",
      "/kwp",
    ],
    [
      "/sites",
      { customerId: "00000000-0000-4000-8000-000000000000", name: "x", mastrNumber: "123" },
      "HUB_ERR_VALIDATION",
      "/mastrNumber",
    ],
    [
      "/sites",
      { customerId: "00000000-0000-4000-8000-000000000000", name: "x", owner: "me" },
      "HUB_ERR_VALIDATION",
      "/owner",
    ],
    [
      "/contacts",
      { customerId: "00000000-0000-4000-8000-000000000000", lastName: "" },
      "HUB_ERR_VALIDATION",
      "/lastName",
    ],
  ];
  for (const [url, payload, code, path] of cases) {
    const res = await post(url, payload);
    t.equal(res.statusCode, 400, `${url} ${JSON.stringify(payload).slice(0, 80)}`);
    t.match(res.headers["content-type"], /^application\/problem\+json/);
    t.match(res.json(), { code, problems: [{ path }] }, path);
  }
  t.equal(await count("SELECT (SELECT count(*) FROM erp.sites) + (SELECT count(*) FROM erp.contacts) AS n"), before);
  const many = (await post("/customers", { name: "", email: "kein-at", colour: "blau" })).json();
  t.same(
    many.problems.map((p: { path: string }) => p.path).sort(),
    ["/colour", "/email", "/name"],
    "every field at fault is named at once",
  );
  t.equal((await get("/sites?sort=notes")).statusCode, 400, "a field that is not sortable");
  t.equal((await get("/sites?cursor=nope")).json().code, "HUB_ERR_BAD_CURSOR");
  t.equal((await get("/sites/00000000-0000-4000-8000-000000000000")).json().code, "HUB_ERR_NOT_FOUND");
});

t.test("lists: filters, ranges, quick search, sort both ways, cursor pages without repeats", async (t) => {
  const owner = await create(t, "/customers", { name: "Listen AG" });
  const names = ["Alpha", "beta", "Gamma", "delta", "Epsilon", "zeta", "Eta", "Theta"];
  for (const [i, name] of names.entries()) {
    await create(t, "/sites", {
      customerId: owner.id,
      name: `${name} Dach`,
      kwp: i * 2,
      city: i % 2 ? "Fulda" : "Kassel",
    });
  }
  const list = async (query: string) => {
    const res = await get(`/sites?customerId=${owner.id}&${query}`);
    t.equal(res.statusCode, 200, query);
    return (res.json() as { items: Json[]; nextCursor: string | null }).items;
  };
  t.equal((await list("kwp.gte=4&kwp.lte=10")).length, 4, "kwp 4, 6, 8, 10");
  t.same(
    (await list("q=ta%20da&sort=name")).map((s) => s.name),
    ["beta Dach", "delta Dach", "Eta Dach", "Theta Dach", "zeta Dach"],
    "substring, case-insensitive",
  );
  t.equal((await list("q=100%25")).length, 0, "% is literal in a search");
  const asc = (await list("sort=name&limit=500")).map((s) => s.name);
  const desc = (await list("sort=-name&limit=500")).map((s) => s.name);
  t.same(desc, [...asc].reverse());
  for (const sort of ["name", "-name", "createdAt", "-updatedAt"]) {
    const seen: string[] = [];
    let cursor: string | null = "";
    for (let pages = 0; cursor !== null && pages < 20; pages++) {
      const res = await get(`/sites?customerId=${owner.id}&limit=3&sort=${sort}${cursor ? `&cursor=${cursor}` : ""}`);
      const page = res.json() as { items: Json[]; nextCursor: string | null };
      seen.push(...page.items.map((s) => s.id));
      cursor = page.nextCursor;
    }
    t.equal(seen.length, names.length, `${sort}: every site once`);
    t.equal(new Set(seen).size, names.length);
  }
  const customers = (await get("/customers?kind=private,business&limit=500")).json() as { items: Json[] };
  t.equal(customers.items.length, await count("SELECT count(*) AS n FROM erp.customers"));
});

t.test("project workflow: every transition allowed or refused with the allowed list", async (t) => {
  const customer = await create(t, "/customers", { name: "Workflow KG" });
  const workflow = projects.workflow as NonNullable<typeof projects.workflow>;
  const states = (projects.fields.status?.options ?? []).map((o) => o.value);
  const admin = platform.as("admin");
  let checked = 0;
  for (const from of states) {
    const allowed = workflow.transitions.filter((x) => x.from.includes(from)).map((x) => x.to);
    for (const to of states) {
      const project = await create(
        t,
        "/projects",
        { customerId: customer.id, title: `${from}→${to}`, kind: "maintenance" },
        admin,
      );
      await pool.query("UPDATE erp.projects SET status = $2, version = version + 1 WHERE id = $1", [project.id, from]);
      const res = await app.inject({
        method: "POST",
        url: `/api/v1/projects/${project.id}/transitions`,
        headers: { ...admin, "if-match": '"2"' },
        payload: { to },
      });
      checked++;
      if (allowed.includes(to)) {
        t.equal(res.statusCode, 200, `${from} → ${to}`);
        t.match(body(res), { status: to, version: 3 });
      } else {
        t.equal(res.statusCode, 409, `${from} → ${to} refused`);
        t.equal(res.json().code, "HUB_ERR_TRANSITION_NOT_ALLOWED");
        t.match(res.json().detail, `${project.number} is ${from}`, "names the project by its number");
        t.match(res.json().detail, allowed.length ? `can go to ${allowed.join(", ")}, not ${to}` : "no other status");
      }
    }
  }
  t.equal(checked, states.length ** 2);
});

t.test(
  "project workflow: the permission of each transition, audited with its actor, one winner of a race",
  async (t) => {
    const customer = await create(t, "/customers", { name: "Rechte GmbH" });
    const project = await create(t, "/projects", { customerId: customer.id, title: "Rechte", kind: "installation" });
    await pool.query("UPDATE erp.projects SET status = 'commissioned', version = version + 1 WHERE id = $1", [
      project.id,
    ]);
    const move = (headers: Record<string, string>, to: string, version: number) =>
      app.inject({
        method: "POST",
        url: `/api/v1/projects/${project.id}/transitions`,
        headers: { ...headers, "if-match": `"${version}"` },
        payload: { to },
      });
    const byOffice = await move(office, "invoiced", 2);
    t.equal(byOffice.statusCode, 403, "office may not invoice");
    t.match(byOffice.json().detail, "billing:write");
    t.equal((await move(platform.as("technician"), "rework", 2)).statusCode, 403, "technicians read projects only");
    t.equal((await move(office, "rework", 1)).statusCode, 412, "stale If-Match");
    const byAccountant = await move(platform.as("accountant"), "invoiced", 2);
    t.equal(byAccountant.statusCode, 200);
    const { rows } = await pool.query(
      "SELECT actor_id, before->>'status' AS from_state, after->>'status' AS to_state, tags FROM audit.records WHERE table_name = 'projects' AND entity_id = $1 AND op = 'UPDATE' ORDER BY id DESC LIMIT 1",
      [project.id],
    );
    t.same(rows[0], {
      actor_id: platform.userId("accountant"),
      from_state: "commissioned",
      to_state: "invoiced",
      tags: ["projects", "transition"],
    });
    const race = await Promise.all(Array.from({ length: 20 }, () => move(office, "closed", 3)));
    t.same(
      race.map((r) => r.statusCode).sort(),
      [200, ...Array(19).fill(412)],
      "20 concurrent transitions with one version: one succeeds",
    );
    t.equal(
      await count("SELECT count(*) AS n FROM audit.records WHERE entity_id = $1 AND after->>'status' = 'closed'", [
        project.id,
      ]),
      1,
    );
  },
);

/**
 * Inventory through HTTP on a real PostgreSQL: the ledger's trigger keeps stock never negative
 * and never below what is reserved, and a serial number in exactly one place, under concurrent
 * requests; reversals instead of edits; write-offs only once a second person approves them; the
 * balances are the ledger's sum and nobody but the ledger writes them.
 */
import t, { type Test } from "tap";
import { startPlatform } from "./fixtures/platform.js";

const platform = await startPlatform({ poolMax: 30 });
t.teardown(() => platform.close());
const { app, pool } = platform;
const pm = platform.as("project_manager");

type Injected = Awaited<ReturnType<typeof app.inject>>;
type Json = Record<string, unknown> & { id: string; version: number };
const move = (payload: object) => app.inject({ method: "POST", url: "/api/v1/stock-movements", headers: pm, payload });
const json = (res: Injected) => res.json() as Json;

async function create(t: Test, url: string, payload: object, headers = pm): Promise<Json> {
  const res = await app.inject({ method: "POST", url: `/api/v1${url}`, headers, payload });
  t.equal(res.statusCode, 201, `POST ${url}: ${res.body}`);
  return json(res);
}

/** Creates a record for the fixture (before any test runs: throws instead of asserting). */
async function setup(url: string, payload: object, headers = pm): Promise<Json> {
  const res = await app.inject({ method: "POST", url: `/api/v1${url}`, headers, payload });
  if (res.statusCode !== 201) throw new Error(`POST ${url}: ${res.statusCode} ${res.body}`);
  return json(res);
}

async function stockOf(articleId: string, warehouseId: string) {
  const res = await app.inject({
    method: "GET",
    url: `/api/v1/stock?articleId=${articleId}&warehouseId=${warehouseId}`,
    headers: pm,
  });
  return (res.json() as { items: Array<{ quantity: number; reserved: number; available: number }> }).items[0];
}

const office = platform.as("office");
const customer = await setup("/customers", { name: "Lager GmbH" }, office);
const site = await setup("/sites", { customerId: customer.id, name: "Lagerdach" }, office);
const newProject = (title: string) =>
  setup("/projects", { customerId: customer.id, siteId: site.id, title, kind: "installation" }, office);
const p1 = await newProject("P1");
const p2 = await newProject("P2");
const w1 = await setup("/warehouses", { code: "HQ", name: "Hauptlager" });
const w2 = await setup("/warehouses", { code: "VAN-1", name: "Transporter 1" });
const cable = await setup("/articles", { number: "C-6MM", name: "Solarkabel 6 mm²", category: "cable", unit: "m" });
const inverter = await setup("/articles", {
  number: "INV-10K",
  name: "Wechselrichter 10 kW",
  category: "inverter",
  serialised: true,
});

t.test("100 concurrent issues of 1 against a stock of 10: exactly 10 succeed, stock 0", async (t) => {
  await create(t, "/stock-movements", { kind: "receipt", articleId: cable.id, quantity: 10, toWarehouseId: w1.id });
  t.match(await stockOf(cable.id, w1.id), { quantity: 10, reserved: 0, available: 10 });
  const results = await Promise.all(
    Array.from({ length: 100 }, () =>
      move({ kind: "issue", articleId: cable.id, quantity: 1, fromWarehouseId: w1.id, projectId: p1.id }),
    ),
  );
  const ok = results.filter((r) => r.statusCode === 201);
  const refused = results.filter((r) => r.statusCode === 409);
  t.equal(ok.length, 10, "10 issued");
  t.equal(
    refused.length,
    90,
    `90 refused (${results.filter((r) => ![201, 409].includes(r.statusCode)).map((r) => r.body)})`,
  );
  t.ok(refused.every((r) => r.json().code === "HUB_ERR_STOCK_INSUFFICIENT"));
  t.match(refused[0]?.json(), { problems: [{ path: "/quantity" }] });
  t.match(await stockOf(cable.id, w1.id), { quantity: 0 });
  const { rows } = await pool.query(
    `SELECT (SELECT count(*) FROM erp.stock_movements WHERE kind = 'issue' AND article_id = $1)::int AS issues,
            (SELECT quantity FROM erp.project_stock WHERE project_id = $2 AND article_id = $1)::float AS on_project`,
    [cable.id, p1.id],
  );
  t.same(rows[0], { issues: 10, on_project: 10 }, "the ledger and the project agree");
  const back = await move({
    kind: "return",
    articleId: cable.id,
    quantity: 11,
    projectId: p1.id,
    toWarehouseId: w1.id,
  });
  t.equal(back.json().code, "HUB_ERR_STOCK_INSUFFICIENT", "a project cannot return more than it holds");
});

t.test("reservations hold stock for their project; an issue to it uses the reservation up", async (t) => {
  await create(t, "/stock-movements", { kind: "receipt", articleId: cable.id, quantity: 5, toWarehouseId: w1.id });
  const reservation = await create(t, "/reservations", {
    projectId: p2.id,
    articleId: cable.id,
    warehouseId: w1.id,
    quantity: 3,
  });
  t.match(await stockOf(cable.id, w1.id), { quantity: 5, reserved: 3, available: 2 });
  const tooMuch = await create(t, "/reservations", {
    projectId: p1.id,
    articleId: cable.id,
    warehouseId: w1.id,
    quantity: 1,
  });
  const over = await app.inject({
    method: "PATCH",
    url: `/api/v1/reservations/${tooMuch.id}`,
    headers: { ...pm, "if-match": '"1"' },
    payload: { quantity: 3 },
  });
  t.equal(over.json().code, "HUB_ERR_STOCK_INSUFFICIENT", "a reservation cannot exceed what is unreserved");
  const issue = (projectId: string, quantity: number) =>
    move({ kind: "issue", articleId: cable.id, quantity, fromWarehouseId: w1.id, projectId });
  t.equal(
    (await issue(p1.id, 3)).json().code,
    "HUB_ERR_STOCK_INSUFFICIENT",
    "P1 may take its own reservation and what nobody reserved: 2, not 3",
  );
  t.equal((await issue(p1.id, 2)).statusCode, 201);
  t.match(await stockOf(cable.id, w1.id), { quantity: 3, reserved: 3, available: 0 });
  t.equal((await issue(p2.id, 3)).statusCode, 201, "P2 takes what it reserved");
  const after = await app.inject({ method: "GET", url: `/api/v1/reservations/${reservation.id}`, headers: pm });
  t.equal(json(after).quantity, 0, "P2's issue used its reservation up");
  t.match(await stockOf(cable.id, w1.id), { quantity: 0, reserved: 0, available: 0 });
  const p1View = await app.inject({ method: "GET", url: `/api/v1/projects/${p1.id}`, headers: pm });
  t.match(
    p1View.json(),
    {
      bookedHours: 0,
      material: [{ articleId: cable.id, articleNumber: "C-6MM", used: 12, reserved: 0 }],
    },
    "P1: 10 + 2 issued, its reservation used up",
  );
});

t.test("a serial number is in one place: 20 concurrent moves of it, one succeeds", async (t) => {
  const receipt = await create(t, "/stock-movements", {
    kind: "receipt",
    articleId: inverter.id,
    quantity: 1,
    toWarehouseId: w1.id,
    serialNumber: "SN-INV-0001",
  });
  const again = await move({
    kind: "receipt",
    articleId: inverter.id,
    quantity: 1,
    toWarehouseId: w2.id,
    serialNumber: "SN-INV-0001",
  });
  t.equal(again.statusCode, 409);
  t.match(again.json(), { code: "HUB_ERR_SERIAL_CONFLICT", problems: [{ path: "/serialNumber" }] });
  const noSerial = await move({ kind: "receipt", articleId: inverter.id, quantity: 1, toWarehouseId: w1.id });
  t.match(noSerial.json(), { code: "HUB_ERR_VALIDATION", problems: [{ path: "/serialNumber" }] });
  const race = await Promise.all([
    ...Array.from({ length: 10 }, () =>
      move({
        kind: "transfer",
        articleId: inverter.id,
        quantity: 1,
        fromWarehouseId: w1.id,
        toWarehouseId: w2.id,
        serialNumber: "SN-INV-0001",
      }),
    ),
    ...Array.from({ length: 10 }, () =>
      move({
        kind: "issue",
        articleId: inverter.id,
        quantity: 1,
        fromWarehouseId: w1.id,
        projectId: p1.id,
        serialNumber: "SN-INV-0001",
      }),
    ),
  ]);
  t.equal(race.filter((r) => r.statusCode === 201).length, 1, "one move succeeded");
  t.ok(
    race.filter((r) => r.statusCode !== 201).every((r) => r.statusCode === 409),
    `the others were refused: ${[...new Set(race.map((r) => r.json().code))].join(", ")}`,
  );
  const { rows } = await pool.query(
    `SELECT (SELECT count(*) FROM erp.serial_numbers WHERE serial_number = 'SN-INV-0001')::int AS places,
            (SELECT coalesce(sum(quantity), 0) FROM erp.stock WHERE article_id = $1)::float
          + (SELECT coalesce(sum(quantity), 0) FROM erp.project_stock WHERE article_id = $1)::float AS units`,
    [inverter.id],
  );
  t.same(rows[0], { places: 1, units: 1 }, "one unit, in one place");
  const winner = json(race.find((r) => r.statusCode === 201) as Injected);
  if (winner.kind === "transfer") {
    await create(t, "/stock-movements", { reversesId: winner.id, notes: "wrong van" });
  }
  // now in HQ (a reversed transfer) or on P1 (an issue): bring it to P1, then install it at the site
  if (winner.kind === "transfer") {
    await create(t, "/stock-movements", {
      kind: "issue",
      articleId: inverter.id,
      quantity: 1,
      fromWarehouseId: w1.id,
      projectId: p1.id,
      serialNumber: "SN-INV-0001",
    });
  }
  await create(t, "/stock-movements", {
    kind: "install",
    articleId: inverter.id,
    quantity: 1,
    projectId: p1.id,
    siteId: site.id,
    serialNumber: "SN-INV-0001",
  });
  const history = await app.inject({
    method: "GET",
    url: "/api/v1/serial-numbers/SN-INV-0001",
    headers: platform.as("technician"),
  });
  t.equal(history.statusCode, 200);
  const h = history.json() as { location: unknown; movements: Array<{ kind: string; id: string }> };
  t.same(h.location, { kind: "site", id: site.id });
  t.equal(h.movements[0]?.id, receipt.id, "history starts with the receipt");
  t.equal(h.movements.at(-1)?.kind, "install");
  t.equal((await app.inject({ method: "GET", url: "/api/v1/serial-numbers/NOPE", headers: pm })).statusCode, 404);
});

t.test(
  "corrections are reversals, once; the ledger is never edited, the balances written by nobody else",
  async (t) => {
    const wrong = await create(t, "/stock-movements", {
      kind: "receipt",
      articleId: cable.id,
      quantity: 50,
      toWarehouseId: w2.id,
    });
    const before = await stockOf(cable.id, w2.id);
    // taking a receipt back takes stock out, as a write-off does: a second person approves it
    const held = await move({ reversesId: wrong.id, notes: "delivered to HQ, not the van" });
    t.equal(held.statusCode, 202, held.body);
    const approved = await app.inject({
      method: "POST",
      url: `/api/v1/approvals/${held.json().approval.id}/approve`,
      headers: platform.as("admin"),
      payload: {},
    });
    t.equal(approved.statusCode, 200, approved.body);
    const reversal = json(
      await app.inject({
        method: "GET",
        url: `/api/v1/stock-movements/${approved.json().result.stockMovementId}`,
        headers: pm,
      }),
    );
    t.match(reversal, { kind: "receipt", quantity: 50, toWarehouseId: w2.id, reversesId: wrong.id });
    t.equal((await stockOf(cable.id, w2.id))?.quantity, (before?.quantity ?? 0) - 50);
    const twice = await move({ reversesId: wrong.id });
    t.match(twice.json(), { code: "HUB_ERR_DUPLICATE", problems: [{ path: "/reversesId" }] });
    const ofReversal = await move({ reversesId: reversal.id });
    t.match(ofReversal.json(), { code: "HUB_ERR_VALIDATION", problems: [{ path: "/reversesId" }] });
    for (const method of ["PATCH", "DELETE"] as const) {
      const res = await app.inject({
        method,
        url: `/api/v1/stock-movements/${wrong.id}`,
        headers: { ...pm, "if-match": '"1"' },
        payload: method === "PATCH" ? { notes: "x" } : undefined,
      });
      t.equal(res.statusCode, 404, `no ${method} route`);
    }
    await t.rejects(
      pool.query("UPDATE erp.stock_movements SET quantity = 1 WHERE id = $1", [wrong.id]),
      /append-only/,
      "not even the owner",
    );
    await t.rejects(pool.query("DELETE FROM erp.stock_movements WHERE id = $1", [wrong.id]), /append-only/);
    const client = await pool.connect();
    try {
      for (const sql of [
        "UPDATE erp.stock SET quantity = quantity + 100",
        "INSERT INTO erp.serial_numbers (serial_number, article_id, location_kind) VALUES ('X', gen_random_uuid(), 'gone')",
        "DELETE FROM erp.project_stock",
      ]) {
        await client.query("BEGIN; SET LOCAL ROLE steinmetz_app");
        await t.rejects(client.query(sql), { code: "42501" }, `the application role: ${sql}`);
        await client.query("ROLLBACK");
      }
    } finally {
      client.release();
    }
    const { rows } = await pool.query(`
    WITH effect AS (
      SELECT article_id, coalesce(to_warehouse_id, from_warehouse_id) AS warehouse_id,
        CASE WHEN to_warehouse_id IS NOT NULL THEN quantity ELSE -quantity END
          * CASE WHEN reverses_id IS NULL THEN 1 ELSE -1 END AS delta
      FROM erp.stock_movements WHERE kind IN ('receipt', 'issue', 'return', 'write_off')
      UNION ALL
      SELECT article_id, w, CASE WHEN w = to_warehouse_id THEN quantity ELSE -quantity END
          * CASE WHEN reverses_id IS NULL THEN 1 ELSE -1 END
      FROM erp.stock_movements, LATERAL (VALUES (from_warehouse_id), (to_warehouse_id)) v(w) WHERE kind = 'transfer'
    )
    SELECT count(*)::int AS mismatches FROM (
      SELECT article_id, warehouse_id, sum(delta) AS q FROM effect GROUP BY 1, 2
    ) l FULL JOIN erp.stock s USING (article_id, warehouse_id)
    WHERE coalesce(l.q, 0) <> coalesce(s.quantity, 0)`);
    t.equal(rows[0].mismatches, 0, "every balance is the sum of its ledger");
  },
);

t.test("a write-off waits for another project manager's approval; one the stock cannot cover is refused", async (t) => {
  const email = "project_manager-2@example.com";
  await app.authService.createUser({ email, roles: ["project_manager"], password: "correct horse battery" });
  const pm2 = { authorization: `Bearer ${(await app.authService.login(email, "correct horse battery")).token}` };
  const module430 = await create(t, "/articles", { number: "MOD-430", name: "PV-Modul 430 Wp", category: "module" });
  await create(t, "/stock-movements", { kind: "receipt", articleId: module430.id, quantity: 5, toWarehouseId: w1.id });
  const writeOff = (quantity: number) =>
    move({ kind: "write_off", articleId: module430.id, quantity, fromWarehouseId: w1.id, notes: "Glasbruch" });
  const movements = () =>
    pool
      .query("SELECT count(*)::int AS n FROM erp.stock_movements WHERE article_id = $1 AND kind = 'write_off'", [
        module430.id,
      ])
      .then((r) => r.rows[0].n);
  const tooMuch = await writeOff(6);
  t.match(tooMuch.json(), { code: "HUB_ERR_STOCK_INSUFFICIENT", problems: [{ path: "/quantity" }] }, "refused at once");
  const held = await writeOff(2);
  t.equal(held.statusCode, 202, held.body);
  const { approval } = held.json();
  t.match(approval, {
    operation: "stock.write_off",
    status: "pending",
    subject: { entity: "stock", id: `${w1.id}/${module430.id}` },
    payload: { kind: "write_off", quantity: 2, notes: "Glasbruch" },
    facts: { articleNumber: "MOD-430", warehouseCode: "HQ", quantity: 2 },
    approverRoles: ["project_manager", "admin"],
  });
  t.equal(held.headers.location, `/api/v1/approvals/${approval.id}`);
  t.equal(await movements(), 0, "nothing written");
  t.match(await stockOf(module430.id, w1.id), { quantity: 5 });
  t.equal((await writeOff(2)).json().approval.id, approval.id, "the same write-off again: the same request");
  t.equal((await writeOff(3)).json().code, "HUB_ERR_APPROVAL_PENDING", "another of the same stock waits");
  const decide = (headers: Record<string, string>) =>
    app.inject({ method: "POST", url: `/api/v1/approvals/${approval.id}/approve`, headers, payload: {} });
  t.equal((await decide(pm)).json().code, "HUB_ERR_APPROVAL_SELF");
  t.equal(
    (await decide(platform.as("accountant"))).json().code,
    "HUB_ERR_FORBIDDEN",
    "an accountant does not approve stock",
  );
  const approved = await decide(pm2);
  t.equal(approved.statusCode, 200, approved.body);
  t.match(approved.json(), { status: "executed", result: { stockMovementId: String, number: Number } });
  t.equal(await movements(), 1);
  t.match(await stockOf(module430.id, w1.id), { quantity: 3 });
  const { rows } = await pool.query(
    "SELECT actor_id FROM audit.records WHERE table_name = 'stock_movements' AND entity_id = $1",
    [approved.json().result.stockMovementId],
  );
  t.same(
    rows,
    [{ actor_id: (await app.authService.login(email, "correct horse battery")).user.id }],
    "by the approver",
  );
  t.equal((await decide(pm2)).json().code, "HUB_ERR_APPROVAL_CLOSED", "once");
  await create(t, "/stock-movements", { reversesId: approved.json().result.stockMovementId, notes: "doch heil" });
  t.match(await stockOf(module430.id, w1.id), { quantity: 5 }, "its reversal needs no approval");

  // reversing a receipt takes the stock out to nowhere, as a write-off does: it waits too
  const receipt = await create(t, "/stock-movements", {
    kind: "receipt",
    articleId: module430.id,
    quantity: 4,
    toWarehouseId: w1.id,
  });
  const reversal = await move({ reversesId: receipt.id, notes: "falsch gebucht" });
  t.equal(reversal.statusCode, 202, reversal.body);
  t.match(reversal.json().approval, {
    operation: "stock.write_off",
    subject: { entity: "stock", id: `${w1.id}/${module430.id}` },
    payload: { reversesId: receipt.id, notes: "falsch gebucht" },
    facts: { reverses: "receipt", quantity: 4 },
  });
  t.match(await stockOf(module430.id, w1.id), { quantity: 9 }, "nothing taken yet");
  const done = await app.inject({
    method: "POST",
    url: `/api/v1/approvals/${reversal.json().approval.id}/approve`,
    headers: pm2,
    payload: {},
  });
  t.equal(done.statusCode, 200, done.body);
  t.match(await stockOf(module430.id, w1.id), { quantity: 5 }, "reversed once approved");
});

t.test("bad movements: 400 naming the field, nothing written", async (t) => {
  const count = async () => Number((await pool.query("SELECT count(*) FROM erp.stock_movements")).rows[0].count);
  const before = await count();
  const cases: Array<[object, string, string]> = [
    [{ kind: "issue", articleId: cable.id, quantity: 1, toWarehouseId: w1.id }, "HUB_ERR_VALIDATION", "/kind"],
    [{ kind: "receipt", articleId: cable.id, quantity: -1, toWarehouseId: w1.id }, "HUB_ERR_VALIDATION", "/quantity"],
    [{ kind: "receipt", articleId: cable.id, toWarehouseId: w1.id }, "HUB_ERR_VALIDATION", "/quantity"],
    [{ kind: "receipt", quantity: 1, toWarehouseId: w1.id }, "HUB_ERR_VALIDATION", "/articleId"],
    [
      { kind: "receipt", articleId: cable.id, quantity: 1, toWarehouseId: "00000000-0000-4000-8000-000000000000" },
      "HUB_ERR_REFERENCE_INVALID",
      "/toWarehouseId",
    ],
    [
      { kind: "receipt", articleId: cable.id, quantity: 1, toWarehouseId: w1.id, serialNumber: "X1" },
      "HUB_ERR_VALIDATION",
      "/serialNumber",
    ],
    [{ kind: "teleport", articleId: cable.id, quantity: 1 }, "HUB_ERR_VALIDATION", "/kind"],
  ];
  for (const [payload, code, path] of cases) {
    const res = await move(payload);
    t.equal(res.statusCode, 400, JSON.stringify(payload).slice(0, 100));
    t.match(res.json(), { code, problems: [{ path }] }, path);
  }
  t.equal(await count(), before, "nothing written");
});

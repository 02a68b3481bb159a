/**
 * Invoices on a real PostgreSQL, through HTTP: EN 16931 totals with the German VAT categories,
 * numbers given at finalisation without gaps or duplicates under concurrency (a finalisation that
 * fails leaves no gap), and a finalised invoice no route, role or SQL role can change, every
 * attempt audited.
 */
import t from "tap";
import { ROLES } from "../src/platform/principal.js";
import { configureCompany } from "./fixtures/company.js";
import { startPlatform } from "./fixtures/platform.js";

const platform = await startPlatform({ poolMax: 30 });
t.teardown(() => platform.close());
const { app, pool } = platform;
const accountant = platform.as("accountant");

type Injected = Awaited<ReturnType<typeof app.inject>>;
type Json = Record<string, unknown> & { id: string; version: number };

async function setup(url: string, payload: object, headers = accountant): Promise<Json> {
  const res = await app.inject({ method: "POST", url: `/api/v1${url}`, headers, payload });
  if (res.statusCode !== 201) throw new Error(`POST ${url}: ${res.statusCode} ${res.body}`);
  return res.json() as Json;
}
const finalise = (id: string, version: number, headers = accountant) =>
  app.inject({
    method: "POST",
    url: `/api/v1/invoices/${id}/finalise`,
    headers: { ...headers, "if-match": `"${version}"` },
  });

await configureCompany(app, accountant);
const address = { street: "Hauptstraße 1", postalCode: "34117", city: "Kassel" };
const customer = await setup(
  "/customers",
  { name: "Rechnung GmbH", vatId: "DE999999999", email: "rechnung@example.org", ...address },
  platform.as("office"),
);
const line = (invoiceId: string, position: number, extra: object) =>
  setup("/invoice-lines", { invoiceId, position, kind: "flat", description: `Pos. ${position}`, ...extra });

t.test("totals as EN 16931 defines them: line nets, VAT per category and rate", async (t) => {
  const draft = await setup("/invoices", { customerId: customer.id, issueDate: "2026-12-03" });
  t.match(draft, { status: "draft", number: null, typeCode: 380, netCents: null });
  await line(draft.id, 1, { quantity: 23, unitPriceCents: 11_900, vatCategory: "Z", vatRate: 0 }); // PV modules, 0 %
  await line(draft.id, 2, { quantity: 2.5, unitPriceCents: 7_333, vatCategory: "S", vatRate: 19, unit: "HUR" }); // 183.325 → 183.33
  await line(draft.id, 3, { quantity: 3, unitPriceCents: 333, vatCategory: "S", vatRate: 19 });
  await line(draft.id, 4, { quantity: 1, unitPriceCents: 1_999, vatCategory: "S", vatRate: 7 });
  const res = await finalise(draft.id, 1);
  t.equal(res.statusCode, 200, res.body);
  // nets: 273700 + 18333 + 999 + 1999 = 295031; VAT 19 %: round((18333 + 999) × 0.19) = 3673; 7 %: round(1999 × 0.07) = 140
  t.match(res.json(), {
    status: "finalised",
    number: "RE-2026-00001",
    netCents: 295_031,
    vatCents: 3_813,
    grossCents: 298_844,
  });
  t.equal(res.headers.etag, '"2"');
  const view = (await app.inject({ method: "GET", url: `/api/v1/invoices/${draft.id}`, headers: accountant })).json();
  t.same(
    view.lines.map((l: { lineNetCents: number }) => l.lineNetCents),
    [273_700, 18_333, 999, 1_999],
  );
  t.match(view, { issueDate: "2026-12-03", dueDate: "2026-12-17" });
});

t.test("what a draft needs: lines, the VAT id for reverse charge, the rules of each category", async (t) => {
  const empty = await setup("/invoices", { customerId: customer.id });
  t.equal((await finalise(empty.id, 1)).json().code, "HUB_ERR_VALIDATION", "no lines");
  const tryLine = (vat: object) =>
    app.inject({
      method: "POST",
      url: "/api/v1/invoice-lines",
      headers: accountant,
      payload: {
        invoiceId: empty.id,
        position: 1,
        kind: "flat",
        description: "x",
        quantity: 1,
        unitPriceCents: 1,
        ...vat,
      },
    });
  const bad = await tryLine({ vatCategory: "S", vatRate: 16 });
  t.match(bad.json(), { code: "HUB_ERR_VALIDATION", problems: [{ path: "/vatRate" }] });
  const exempt = await tryLine({ vatCategory: "E", vatRate: 0 });
  t.match(exempt.json(), { problems: [{ path: "/exemptionReason" }] });
  const privateCustomer = await setup(
    "/customers",
    { name: "Privat", kind: "private", ...address },
    platform.as("office"),
  );
  const rc = await setup("/invoices", { customerId: privateCustomer.id });
  await line(rc.id, 1, { quantity: 1, unitPriceCents: 100, vatCategory: "AE", vatRate: 0 });
  t.match((await finalise(rc.id, 1)).json(), { code: "HUB_ERR_VALIDATION", problems: [{ path: "/customerId" }] });
  const { rows } = await pool.query("SELECT number FROM erp.invoices WHERE id = $1", [rc.id]);
  t.equal(rows[0].number, null, "still a draft");
});

t.test("50 concurrent finalisations: each number of the range once, no gap; a failed one leaves none", async (t) => {
  const drafts: Json[] = [];
  for (let i = 0; i < 50; i++) {
    const draft = await setup("/invoices", { customerId: customer.id, issueDate: "2027-01-15" });
    await line(draft.id, 1, { quantity: 1, unitPriceCents: 1000 + i, vatCategory: "S", vatRate: 19 });
    drafts.push(draft);
  }
  // one more that fails inside the same race: its number must come back
  const failing = await setup("/invoices", { customerId: customer.id, issueDate: "2027-01-15" });
  const results = await Promise.all([
    ...drafts.map((d) => finalise(d.id, 1)),
    finalise(failing.id, 1), // no lines: refused after the range was reached, rolled back
  ]);
  t.equal(results.filter((r) => r.statusCode === 200).length, 50);
  const numbers = results.filter((r) => r.statusCode === 200).map((r) => r.json().number as string);
  t.same(
    [...numbers].sort(),
    Array.from({ length: 50 }, (_, i) => `RE-2027-${String(i + 1).padStart(5, "0")}`),
    "RE-2027-00001 … 00050, each once",
  );
  const again = await Promise.all(drafts.slice(0, 5).map((d) => finalise(d.id, 2)));
  t.ok(
    again.every((r) => r.json().code === "HUB_ERR_INVOICE_FINALISED"),
    "finalising twice is refused",
  );
  const next = await setup("/invoices", { customerId: customer.id, issueDate: "2027-02-01" });
  await line(next.id, 1, { quantity: 1, unitPriceCents: 1, vatCategory: "S", vatRate: 19 });
  t.equal((await finalise(next.id, 1)).json().number, "RE-2027-00051", "the next number follows without a gap");
});

t.test(
  "a finalised invoice: no route, role or SQL role changes it; every attempt audited; drafts may go",
  async (t) => {
    const draft = await setup("/invoices", { customerId: customer.id });
    const first = await line(draft.id, 1, { quantity: 1, unitPriceCents: 500, vatCategory: "S", vatRate: 19 });
    const scratch = await setup("/invoices", { customerId: customer.id });
    await line(scratch.id, 1, { quantity: 1, unitPriceCents: 1, vatCategory: "S", vatRate: 19 });
    const dropped = await app.inject({
      method: "DELETE",
      url: `/api/v1/invoices/${scratch.id}`,
      headers: { ...accountant, "if-match": '"1"' },
    });
    t.equal(dropped.statusCode, 204, "a draft may be deleted, with its lines; it had no number");
    const done = (await finalise(draft.id, 1)).json();
    const refusedBefore = Number(
      (await pool.query("SELECT count(*) FROM audit.records WHERE op = 'REFUSED'")).rows[0].count,
    );
    let attempts = 0;
    for (const role of ROLES) {
      const headers = platform.as(role);
      const tries: Injected[] = await Promise.all([
        app.inject({
          method: "PATCH",
          url: `/api/v1/invoices/${draft.id}`,
          headers: { ...headers, "if-match": `"${done.version}"` },
          payload: { notes: "changed" },
        }),
        app.inject({
          method: "DELETE",
          url: `/api/v1/invoices/${draft.id}`,
          headers: { ...headers, "if-match": `"${done.version}"` },
        }),
        app.inject({
          method: "PATCH",
          url: `/api/v1/invoice-lines/${first.id}`,
          headers: { ...headers, "if-match": '"1"' },
          payload: { unitPriceCents: 1 },
        }),
        app.inject({
          method: "DELETE",
          url: `/api/v1/invoice-lines/${first.id}`,
          headers: { ...headers, "if-match": '"1"' },
        }),
        app.inject({
          method: "POST",
          url: "/api/v1/invoice-lines",
          headers,
          payload: {
            invoiceId: draft.id,
            position: 2,
            kind: "flat",
            description: "more",
            quantity: 1,
            unitPriceCents: 1,
            vatCategory: "S",
            vatRate: 19,
          },
        }),
      ]);
      for (const res of tries) {
        const code = res.json().code;
        t.ok(["HUB_ERR_INVOICE_FINALISED", "HUB_ERR_FORBIDDEN"].includes(code), `${role}: ${res.statusCode} ${code}`);
        if (code === "HUB_ERR_INVOICE_FINALISED") attempts++;
      }
    }
    t.equal(attempts, 10, "accountant and admin reached the database, five ways each");
    const { rows } = await pool.query(
      "SELECT count(*)::int AS n FROM audit.records WHERE op = 'REFUSED' AND table_name IN ('invoices', 'invoice_lines')",
    );
    t.equal(rows[0].n - refusedBefore, attempts, "each refused attempt is in the audit trail");
    const other = await setup("/invoices", { customerId: customer.id });
    const client = await pool.connect();
    try {
      for (const sql of [
        `UPDATE erp.invoices SET notes = 'x' WHERE id = '${draft.id}'`,
        `DELETE FROM erp.invoices WHERE id = '${draft.id}'`,
        `UPDATE erp.invoice_lines SET unit_price_cents = 1 WHERE id = '${first.id}'`,
        "UPDATE erp.number_ranges SET next_number = 1",
        `UPDATE erp.invoices SET status = 'finalised', number = 'RE-2026-99999' WHERE id = '${other.id}'`,
      ]) {
        await client.query("BEGIN; SET LOCAL ROLE steinmetz_app");
        await t.rejects(client.query(sql), `the application role: ${sql.slice(0, 60)}`);
        await client.query("ROLLBACK");
      }
    } finally {
      client.release();
    }
    await t.rejects(
      pool.query("UPDATE erp.invoices SET notes = 'x' WHERE id = $1", [draft.id]),
      /is finalised/,
      "nor the owner",
    );
    const after = (
      await app.inject({ method: "GET", url: `/api/v1/invoices/${draft.id}`, headers: accountant })
    ).json();
    t.match(after, { number: done.number, netCents: 500, notes: null, version: done.version });
  },
);

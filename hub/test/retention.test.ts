/**
 * Retention on a real PostgreSQL, with data made through the HTTP API and an injected clock: the
 * classes end where § 147 Abs. 4 AO says (an invoice of 2026 is kept through 2034-12-31 and goes
 * on 2035-01-01; a quote of 2026 two years earlier; the audit trail is copied on 2037-01-01 and
 * stays), holds keep records (and a customer's) until released, the archive holds exactly what was
 * removed, nobody else can delete or write the archive, erasure pseudonymises or restricts, the
 * audit chain verifies after every run, runs repeat harmlessly and the schedule runs once a day.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import pg from "pg";
import t, { type Test } from "tap";
import { runtimeDatabaseUrl } from "../src/db/runtime-role.js";
import {
  placeHold,
  type RetentionReport,
  releaseHold,
  requestErasure,
  runRetention,
  runScheduledRetention,
} from "../src/retention/service.js";
import { configureCompany } from "./fixtures/company.js";
import { log, startPlatform } from "./fixtures/platform.js";

const platform = await startPlatform();
t.teardown(() => platform.close());
const { app, pool } = platform;
const accountant = platform.as("accountant");
const office = platform.as("office");
const technician = platform.as("technician");

// a connection as the platform's application role, for direct SQL
const appDb = new pg.Client({ connectionString: await runtimeDatabaseUrl(pool, platform.db.url, log) });
await appDb.connect();
t.teardown(() => appDb.end());

type Json = Record<string, unknown> & { id: string; version: number };

async function post(url: string, payload: object, headers = accountant, status = 201): Promise<Json> {
  const res = await app.inject({ method: "POST", url: `/api/v1${url}`, headers, payload });
  if (res.statusCode !== status) throw new Error(`POST ${url}: ${res.statusCode} ${res.body}`);
  return res.json() as Json;
}
const get = (url: string, headers = accountant) => app.inject({ method: "GET", url: `/api/v1${url}`, headers });
async function move(url: string, to: string, version: number, headers = office): Promise<Json> {
  const res = await app.inject({
    method: "POST",
    url: `/api/v1${url}/transitions`,
    headers: { ...headers, "if-match": `"${version}"` },
    payload: { to },
  });
  if (res.statusCode !== 200) throw new Error(`transition ${url} → ${to}: ${res.statusCode} ${res.body}`);
  return res.json() as Json;
}
async function finalise(id: string): Promise<Json> {
  const res = await app.inject({
    method: "POST",
    url: `/api/v1/invoices/${id}/finalise`,
    headers: { ...accountant, "if-match": '"1"' },
  });
  if (res.statusCode !== 200) throw new Error(`finalise: ${res.statusCode} ${res.body}`);
  return res.json() as Json;
}
const flat = (position: number, unitPriceCents: number) => ({
  position,
  kind: "flat",
  description: `Position ${position}`,
  quantity: 1,
  unitPriceCents,
  vatCategory: "S",
  vatRate: 19,
});
async function invoiceFor(customerId: string, issueDate: string, extra: object = {}): Promise<Json> {
  const draft = await post("/invoices", { customerId, issueDate, ...extra });
  await post("/invoice-lines", { invoiceId: draft.id, ...flat(1, 100_000) });
  return finalise(draft.id);
}
const customerOf = (name: string, extra: object = {}) =>
  post(
    "/customers",
    { name, kind: "private", street: "Sonnenweg 7", postalCode: "34117", city: "Kassel", ...extra },
    office,
  );
const run = (iso: string) => runRetention(pool, { now: new Date(iso) });
const count = async (sql: string, params: unknown[] = []) => Number((await pool.query(sql, params)).rows[0].n);
const exists = async (table: string, id: string, key = "id") =>
  (await count(`SELECT count(*) AS n FROM ${table} WHERE ${key} = $1`, [id])) === 1;

/** Runs `sql` as the application role in a transaction that is rolled back: null if allowed, else the SQLSTATE and constraint. */
async function asApp(sql: string, params: unknown[] = []): Promise<string | null> {
  await appDb.query("BEGIN");
  try {
    await appDb.query(sql, params);
    return null;
  } catch (err) {
    const e = err as { code: string; constraint?: string };
    return e.constraint ? `${e.code}:${e.constraint}` : e.code;
  } finally {
    await appDb.query("ROLLBACK");
  }
}
/** The same as the owner (the migration role, here a superuser). */
async function asOwner(statements: string[], params: unknown[][] = []): Promise<string | null> {
  const client = await pool.connect();
  await client.query("BEGIN");
  try {
    for (const [i, sql] of statements.entries()) await client.query(sql, params[i] ?? []);
    return null;
  } catch (err) {
    const e = err as { code: string; constraint?: string };
    return e.constraint ? `${e.code}:${e.constraint}` : e.code;
  } finally {
    await client.query("ROLLBACK");
    client.release();
  }
}

const RETAINED: Record<string, string> = {
  "erp.quotes": "id",
  "erp.quote_lines": "id",
  "erp.payments": "id",
  "erp.invoices": "id",
  "erp.invoice_lines": "id",
  "erp.invoice_documents": "invoice_id",
  "erp.invoiced_time_bookings": "time_booking_id",
  "erp.time_bookings": "id",
  "erp.tickets": "id",
};
/** Every key of every retained table. */
async function snapshot(): Promise<Record<string, Set<string>>> {
  const out: Record<string, Set<string>> = {};
  for (const [table, key] of Object.entries(RETAINED)) {
    out[table] = new Set((await pool.query(`SELECT ${key}::text AS k FROM ${table}`)).rows.map((r) => r.k));
  }
  return out;
}
/** Runs retention as of `iso` and checks the archive holds exactly what the run removed, table by table. */
async function runAndCompare(t: Test, iso: string): Promise<RetentionReport> {
  const before = await snapshot();
  const report = await run(iso);
  const after = await snapshot();
  for (const [table, key] of Object.entries(RETAINED)) {
    const removed = [...(before[table] as Set<string>)].filter((k) => !after[table]?.has(k)).sort();
    const archived = (
      await pool.query(
        `SELECT ${key}::text AS k FROM archive.${table.slice(4)} WHERE archived_by_run = $1 ORDER BY 1`,
        [report.runId],
      )
    ).rows.map((r) => r.k);
    t.same(archived, removed, `${table}: the archive holds exactly what run ${report.runId} removed`);
    t.equal(report.tables[table]?.deleted, removed.length, `${table}: the report counts it`);
  }
  return report;
}
async function auditVerifies(t: Test, when: string) {
  const res = await get("/audit/verify", platform.as("auditor"));
  t.match(res.json(), { ok: true }, `audit verify passes ${when}`);
}

// The data, made through the API (today is the machine's clock: 2026 when this was written) -----
await configureCompany(app, accountant);
const alice = await customerOf("Familie Sonnenschein", { email: "sonne@example.org", phone: "0561 1234" });
const project = await post("/projects", { customerId: alice.id, title: "PV-Anlage", kind: "installation" }, office);
const site = await post("/sites", { customerId: alice.id, name: "Dach Sonnenweg", street: "Sonnenweg 7" }, office);
// a quote, sent (frozen): letters, 6 years from its creation
const quote = await post("/quotes", { customerId: alice.id, title: "PV-Anlage 9,8 kWp" }, office);
await post("/quote-lines", { quoteId: quote.id, ...flat(1, 500_000) }, office);
await move(`/quotes/${quote.id}`, "sent", 1);
const quoteYear = Number(
  (
    await pool.query(
      "SELECT extract(year FROM created_at AT TIME ZONE 'Europe/Berlin') AS y FROM erp.quotes WHERE id = $1",
      [quote.id],
    )
  ).rows[0].y,
);
// a ticket, cancelled: letters, 6 years from its last entry
const ticket = await post("/tickets", { title: "Wechselrichter prüfen", siteId: site.id }, office);
await move(`/tickets/${ticket.id}`, "cancelled", 1);
// a booking invoiced as hours, one not, in a month that is then closed: vouchers, from the work date
const invoicedBooking = await post(
  "/time-bookings",
  { projectId: project.id, workDate: "2026-11-03", hours: 2 },
  technician,
);
const draft = await post("/invoices", { customerId: alice.id, projectId: project.id, issueDate: "2026-11-02" });
await post("/invoice-lines", { invoiceId: draft.id, ...flat(1, 100_000) });
await post(`/invoices/${draft.id}/hours`, { position: 2, hourlyRateCents: 6_500, vatCategory: "S", vatRate: 19 });
const invoice = await finalise(draft.id);
const booking = await post("/time-bookings", { projectId: project.id, workDate: "2026-11-04", hours: 3 }, technician);
await post("/periods", { month: "2026-11" });
// payments of 2026: one, and one reversed
const payment = await post(`/invoices/${invoice.id}/payments`, { amountCents: 10_000, paidOn: "2026-11-20" });
const wrong = await post(`/invoices/${invoice.id}/payments`, { amountCents: 500, paidOn: "2026-11-21" });
const reversal = await post(`/invoices/${invoice.id}/payments`, { reversesId: wrong.id, paidOn: "2026-11-22" });
// an invoice of 2026 paid in 2027: the payment keeps it until 2036
const late = await invoiceFor(alice.id, "2026-12-15");
const latePayment = await post(`/invoices/${late.id}/payments`, { amountCents: 1_000, paidOn: "2027-01-10" });
// held: one invoice of Bob's, everything of Carol's
const bob = await customerOf("Bob Baumann");
const bobInvoice = await invoiceFor(bob.id, "2026-11-02");
const carol = await customerOf("Carol Clausen");
const carolInvoice = await invoiceFor(carol.id, "2026-11-02");
// erasure: Dora has nothing retained, Emil an invoice of 2026
const dora = await customerOf("Dora Dahl", {
  email: "dora@example.org",
  phone: "0561 999",
  notes: "ruft abends an",
  consentNewsletter: true,
  consentNewsletterSource: "Messe Kassel 2026",
});
await post(
  "/contacts",
  { customerId: dora.id, lastName: "Dahl", firstName: "Dora", email: "dora@example.org" },
  office,
);
const doraSite = await post("/sites", { customerId: dora.id, name: "Haus Dahl", street: "Lindenweg 1" }, office);
const emil = await customerOf("Emil Ebert", { email: "emil@example.org" });
const emilInvoice = await invoiceFor(emil.id, "2026-11-02");

t.test("the classes and the mapping are data, and the mapping names real columns", async (t) => {
  const classes = await pool.query("SELECT class, years FROM ops.retention_classes ORDER BY years");
  t.same(classes.rows, [
    { class: "letters", years: 6 },
    { class: "vouchers", years: 8 },
    { class: "books", years: 10 },
  ]);
  const mapping = await pool.query("SELECT table_name, class, date_column, archive_table FROM ops.retention_tables");
  const byTable = Object.fromEntries(mapping.rows.map((r) => [r.table_name, r]));
  t.match(byTable["erp.invoices"], { class: "vouchers", date_column: "erp.invoices.issue_date" });
  t.match(byTable["erp.payments"], { class: "vouchers", date_column: "erp.payments.paid_on" });
  t.match(byTable["erp.quotes"], { class: "letters", date_column: "erp.quotes.created_at" });
  t.match(byTable["erp.time_bookings"], { class: "vouchers", date_column: "erp.time_bookings.work_date" });
  t.match(byTable["audit.records"], { class: "books", date_column: "audit.records.at" });
  for (const r of mapping.rows) {
    const [schema, table, column] = r.date_column.split(".");
    t.equal(
      await count(
        "SELECT count(*) AS n FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = $3",
        [schema, table, column],
      ),
      1,
      `${r.table_name}: ${r.date_column} exists`,
    );
    // the archive mirrors the table column for column, plus the run and the time
    const columns = async (qualified: string) => {
      const [s, n] = qualified.split(".");
      return (
        await pool.query(
          "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
          [s, n],
        )
      ).rows;
    };
    t.same(
      await columns(r.archive_table),
      [
        ...(await columns(r.table_name)),
        { column_name: "archived_by_run", data_type: "bigint" },
        { column_name: "archived_at", data_type: "timestamp with time zone" },
      ],
      `${r.archive_table} mirrors ${r.table_name}`,
    );
  }
  const state = await pool.query(
    "SELECT record_date::text, expires_on::text FROM ops.retention_state WHERE table_name = 'erp.invoices' AND id = $1",
    [invoice.id],
  );
  t.same(
    state.rows,
    [{ record_date: "2026-11-02", expires_on: "2035-01-01" }],
    "an invoice of 2026 may go on 2035-01-01",
  );
});

t.test("the application role cannot write the archive nor delete a retained record", async (t) => {
  t.equal(await asApp("SELECT count(*) FROM archive.invoices"), null, "it reads the archive");
  t.equal(await asApp("INSERT INTO archive.invoices SELECT i.*, 1, now() FROM erp.invoices i"), "42501");
  t.equal(await asApp("UPDATE archive.invoice_documents SET document = '{}'"), "42501");
  t.equal(await asApp("DELETE FROM archive.audit_records"), "42501");
  t.equal(await asApp("DELETE FROM erp.invoices WHERE id = $1", [invoice.id]), "23514:invoice_finalised");
  t.equal(await asApp("DELETE FROM erp.payments WHERE id = $1", [payment.id]), "23514:ledger_append_only");
  t.equal(await asApp("DELETE FROM erp.time_bookings WHERE id = $1", [booking.id]), "23514:period_closed");
  await appDb.query("BEGIN");
  await appDb.query("SELECT set_config('steinmetz.retention_run', '1', true)");
  const forged = await appDb.query("DELETE FROM erp.invoices WHERE id = $1", [invoice.id]).then(
    () => null,
    (err: { constraint?: string }) => err.constraint,
  );
  await appDb.query("ROLLBACK");
  t.equal(forged, "invoice_finalised", "a forged run setting does not open the gate");
  t.equal(await asApp("SELECT ops.run_retention('2100-01-01')"), "42501", "it cannot run retention");
  t.equal(await asApp("SELECT ops.retention_remove('erp.invoices', $1, 1)", [invoice.id]), "42501");
  t.equal(
    await asApp(
      "INSERT INTO ops.retention_runs (as_of, requested_as_of, as_of_day, run_by) VALUES (now(), now(), current_date, 'x')",
    ),
    "42501",
  );
  t.equal(
    await asApp("INSERT INTO ops.legal_holds (customer_id, reason, placed_by) VALUES ($1, 'x', 'x')", [bob.id]),
    "42501",
  );
  t.equal(await asApp("UPDATE ops.legal_holds SET released_at = now()"), "42501");
  t.equal(await asApp("UPDATE ops.retention_tables SET class = 'letters'"), "42501");
});

t.test("the owner cannot delete a retained record either, but through a run of its own transaction", async (t) => {
  t.equal(await asOwner(["DELETE FROM erp.invoices WHERE id = $1"], [[invoice.id]]), "23514:invoice_finalised");
  t.equal(
    await asOwner(
      [
        "SELECT set_config('steinmetz.retention_run', '999', true)",
        "DELETE FROM erp.invoice_documents WHERE invoice_id = $1",
      ],
      [[], [invoice.id]],
    ),
    "23514:ledger_append_only",
  );
  // the gate checks the period as of the run's clock, and holds, on its own (not only the run's selection)
  const asOfRun = (day: string, sql: string, id: string) =>
    asOwner(
      [
        `WITH r AS (INSERT INTO ops.retention_runs (as_of, requested_as_of, as_of_day, run_by)
                    VALUES ($1::timestamptz, $1::timestamptz, $1::date, 'test') RETURNING id)
         SELECT set_config('steinmetz.retention_run', id::text, true) FROM r`,
        sql,
      ],
      [[day], [id]],
    );
  t.equal(
    await asOfRun("2034-12-31", "DELETE FROM erp.invoices WHERE id = $1", late.id),
    "23514:invoice_finalised",
    "not before its period ended",
  );
  t.equal(
    await asOfRun("2035-01-01", "DELETE FROM erp.invoice_lines WHERE invoice_id = $1", bobInvoice.id),
    null,
    "after it, inside a run (rolled back here)",
  );
  t.equal(
    await asOwner([
      "SELECT ops.run_retention('2030-01-01')",
      "SELECT set_config('steinmetz.retention_run', (SELECT max(id)::text FROM ops.retention_runs), true)",
      `DELETE FROM erp.invoices WHERE id = '${invoice.id}'`,
    ]),
    "23514:invoice_finalised",
    "a finished run opens nothing",
  );
});

t.test("holds: on a record, on a customer; refused subjects; a held record is deleted by nobody", async (t) => {
  const bobHold = await placeHold(pool, {
    table: "erp.invoices",
    recordId: bobInvoice.id,
    reason: "Betriebsprüfung 2026",
    placedBy: "test",
  });
  t.match(bobHold, { table: "erp.invoices", recordId: bobInvoice.id, customerId: null, releasedAt: null });
  const res = await app.inject({
    method: "POST",
    url: "/api/v1/retention/holds",
    headers: platform.as("admin"),
    payload: { customerId: carol.id, reason: "Rechtsstreit Clausen" },
  });
  t.equal(res.statusCode, 201, res.body);
  t.match(res.json(), { customerId: carol.id, placedBy: platform.userId("admin") });
  t.equal(
    (
      await app.inject({
        method: "POST",
        url: "/api/v1/retention/holds",
        headers: office,
        payload: { customerId: carol.id, reason: "x" },
      })
    ).statusCode,
    403,
  );
  await t.rejects(placeHold(pool, { table: "erp.customers", recordId: carol.id, reason: "x", placedBy: "t" }), {
    code: "HUB_ERR_HOLD_SUBJECT",
  });
  await t.rejects(placeHold(pool, { table: "erp.invoices", recordId: carol.id, reason: "x", placedBy: "t" }), {
    code: "HUB_ERR_NOT_FOUND",
  });
  // a held draft quote: nobody deletes it (also where nothing froze it)
  const heldQuote = await post("/quotes", { customerId: bob.id, title: "Speicher" }, office);
  const hold = await placeHold(appDb, { table: "erp.quotes", recordId: heldQuote.id, reason: "Streit", placedBy: "t" });
  const del = await app.inject({
    method: "DELETE",
    url: `/api/v1/quotes/${heldQuote.id}`,
    headers: { ...office, "if-match": '"1"' },
  });
  t.match([del.statusCode, del.json().code], [409, "HUB_ERR_IN_USE"], "the API refuses deleting a held record");
  t.equal(
    await asOwner(["DELETE FROM erp.quotes WHERE id = $1"], [[heldQuote.id]]),
    "23503:legal_hold",
    "so does the owner",
  );
  await releaseHold(appDb, { holdId: hold.id, releasedBy: "t", reason: "erledigt" });
  await t.rejects(releaseHold(pool, { holdId: hold.id, releasedBy: "t" }), { code: "HUB_ERR_HOLD_RELEASED" });
  t.equal(
    await asOwner(["UPDATE ops.legal_holds SET reason = 'anders' WHERE id = $1"], [[hold.id]]),
    "23514:retention_log_immutable",
  );
  t.equal(await asOwner(["DELETE FROM ops.legal_holds WHERE id = $1"], [[hold.id]]), "23514:retention_log_immutable");
  const del2 = await app.inject({
    method: "DELETE",
    url: `/api/v1/quotes/${heldQuote.id}`,
    headers: { ...office, "if-match": '"1"' },
  });
  t.equal(del2.statusCode, 204, "released, the draft may go");
  const list = (await get("/retention/holds", platform.as("auditor"))).json();
  t.same(list.items.map((h: { id: string }) => h.id).sort(), [bobHold.id, res.json().id].sort(), "the active holds");
});

t.test("erasure of a customer without retained records pseudonymises; a second request changes nothing", async (t) => {
  const result = await requestErasure(appDb, { customerId: dora.id, requestedBy: "user:dpo" });
  t.match(result, {
    status: "erased",
    restrictedUntil: null,
    held: false,
    changed: true,
    deleted: { "erp.contacts": 1 },
    pseudonymised: { "erp.sites": 1 },
  });
  t.same(result.pseudonymised["erp.customers"], [
    "city",
    "consent_newsletter",
    "consent_newsletter_source",
    "email",
    "name",
    "notes",
    "phone",
    "postal_code",
    "street",
  ]);
  const customer = (await get(`/customers/${dora.id}`, office)).json();
  t.match(customer, {
    name: `Gelöscht ${dora.number}`,
    email: null,
    phone: null,
    street: null,
    city: null,
    notes: null,
    consentNewsletter: false,
    consentNewsletterSource: null,
  });
  t.match((await get(`/sites/${doraSite.id}`, office)).json(), { street: null, name: /^Anlage / });
  t.equal(await count("SELECT count(*) AS n FROM erp.contacts WHERE customer_id = $1", [dora.id]), 0);
  const audit = () => count("SELECT count(*) AS n FROM audit.records WHERE entity_id = $1", [dora.id]);
  const before = await audit();
  const again = await requestErasure(appDb, { customerId: dora.id, requestedBy: "user:dpo" });
  t.match(again, { status: "erased", changed: false });
  t.equal(await audit(), before, "nothing written the second time");
  t.equal((await get(`/customers/${dora.id}`, office)).json().version, customer.version);
  const stored = (await get(`/retention/erasures/${dora.id}`, platform.as("auditor"))).json();
  t.match(stored, { status: "erased", requestedBy: "user:dpo", completedAt: String });
});

t.test(
  "erasure of a customer with an invoice in its period keeps what the invoice needs, restricted until 2034-12-31",
  async (t) => {
    // the application role cannot move the clock forward to end the period early
    const result = await requestErasure(appDb, {
      customerId: emil.id,
      requestedBy: "user:dpo",
      now: new Date("2040-01-01"),
    });
    t.match(result, {
      status: "restricted",
      restrictedUntil: "2034-12-31",
      held: false,
      kept: { records: { "erp.invoices": { records: 1, keptUntil: "2034-12-31" } } },
    });
    t.same(result.pseudonymised["erp.customers"], ["email"]);
    t.match((await get(`/customers/${emil.id}`, office)).json(), {
      name: "Emil Ebert",
      street: "Sonnenweg 7",
      city: "Kassel",
      email: null,
    });
    const document = (
      await pool.query("SELECT document FROM erp.invoice_documents WHERE invoice_id = $1", [emilInvoice.id])
    ).rows[0].document;
    t.match(
      document.buyer,
      { name: "Emil Ebert", email: "emil@example.org" },
      "the document as finalised is untouched",
    );
    t.match(await requestErasure(appDb, { customerId: emil.id, requestedBy: "user:dpo" }), { changed: false });
    // a held customer: nothing is touched
    const carolResult = await requestErasure(pool, { customerId: carol.id, requestedBy: "user:dpo" });
    t.match(carolResult, {
      status: "restricted",
      held: true,
      restrictedUntil: null,
      pseudonymised: { "erp.customers": [] },
    });
    t.equal((await get(`/customers/${carol.id}`, office)).json().name, "Carol Clausen");
    const http = await app.inject({
      method: "POST",
      url: "/api/v1/retention/erasures",
      headers: platform.as("admin"),
      payload: { customerId: emil.id },
    });
    t.match([http.statusCode, http.json().changed, http.json().status], [200, false, "restricted"]);
  },
);

t.test("letters: a quote and a ticket of 2026 are kept through 2032-12-31 and go on 2033-01-01", async (t) => {
  t.equal(quoteYear, 2026, "(the data was made in 2026)");
  const kept = await runAndCompare(t, `${quoteYear + 6}-12-31T12:00:00Z`);
  t.match(kept.tables["erp.quotes"], { deleted: 0, kept: { period: 1 }, nextExpiry: `${quoteYear + 7}-01-01` });
  t.ok(await exists("erp.quotes", quote.id));
  const gone = await runAndCompare(t, `${quoteYear + 7}-01-01T00:00:00Z`);
  t.match(gone.tables["erp.quotes"], { archived: 1, deleted: 1 });
  t.match(gone.tables["erp.quote_lines"], { archived: 1, deleted: 1, partOf: "erp.quotes" });
  t.match(gone.tables["erp.tickets"], { deleted: 1 });
  t.notOk(await exists("erp.quotes", quote.id));
  t.notOk(await exists("erp.tickets", ticket.id));
  t.ok(await exists("archive.quotes", quote.id));
  t.match(gone.tables["erp.invoices"], { deleted: 0 }, "vouchers stay");
  await auditVerifies(t, "after removing letters");
});

t.test("vouchers: an invoice of 2026 is kept on 2034-12-31 and goes on 2035-01-01 with its parts", async (t) => {
  const kept = await runAndCompare(t, "2034-12-31T12:00:00Z");
  t.match(kept.tables["erp.invoices"], { deleted: 0, nextExpiry: "2035-01-01" });
  t.ok(await exists("erp.invoices", invoice.id));
  const report = await runAndCompare(t, "2035-01-01T00:00:00Z");
  for (const id of [invoice.id, emilInvoice.id]) t.notOk(await exists("erp.invoices", id), "gone");
  for (const id of [payment.id, wrong.id, reversal.id])
    t.notOk(await exists("erp.payments", id), "payments of 2026 gone");
  for (const id of [booking.id, invoicedBooking.id]) {
    t.notOk(await exists("erp.time_bookings", id), "bookings of 2026 gone, also in a closed month");
  }
  t.ok(await exists("archive.invoiced_time_bookings", invoicedBooking.id, "time_booking_id"), "with the hours link");
  t.ok(await exists("archive.invoice_documents", invoice.id, "invoice_id"), "and the document as finalised");
  t.match(report.tables["erp.invoices"], {
    kept: { held: 2, referenced: 1 },
    held: [bobInvoice.id, carolInvoice.id].sort(),
    referenced: [{ id: late.id, by: "erp.payments", constraint: "payments_invoice_id_fkey" }],
  });
  t.ok(await exists("erp.invoices", late.id), "an invoice paid in 2027 stays for its payment");
  t.ok(await exists("erp.invoices", bobInvoice.id), "a held invoice stays");
  t.ok(await exists("erp.invoices", carolInvoice.id), "a held customer's invoice stays");
  t.ok(await exists("erp.invoice_lines", carolInvoice.id, "invoice_id"), "with its lines");
  // the removal is in the audit trail, in the run's name
  const deletion = await pool.query(
    "SELECT actor_id, op FROM audit.records WHERE table_name = 'invoices' AND entity_id = $1 AND op = 'DELETE'",
    [invoice.id],
  );
  t.same(deletion.rows, [{ actor_id: "system:retention", op: "DELETE" }]);
  t.equal(
    await count("SELECT count(*) AS n FROM audit.records WHERE table_name = 'payments' AND op = 'DELETE'"),
    3,
    "payments (audited on insert only) have their removal appended",
  );
  // Emil's restriction ended: the run completed his erasure
  t.match(report.erasures, [{ customerId: emil.id, status: "erased" }]);
  t.match((await get(`/customers/${emil.id}`, office)).json(), { name: `Gelöscht ${emil.number}`, street: null });
  const logged = await pool.query("SELECT status, report FROM ops.retention_runs WHERE id = $1", [report.runId]);
  t.same(logged.rows, [{ status: "done", report }], "the run stores its report");
  await auditVerifies(t, "after removing vouchers");

  const again = await runAndCompare(t, "2035-01-01T00:00:00Z");
  for (const [table, r] of Object.entries(again.tables))
    t.equal(r.deleted, 0, `a second run deletes nothing in ${table}`);
  t.equal(again.tables["audit.records"]?.archived, 0);
  t.same(again.erasures, []);
});

t.test("a held record, and a held customer's, go only after release", async (t) => {
  const holds = (await pool.query("SELECT id, table_name FROM ops.legal_holds WHERE released_at IS NULL")).rows;
  const bobHold = holds.find((h) => h.table_name === "erp.invoices");
  await releaseHold(pool, { holdId: bobHold.id, releasedBy: "test", reason: "Prüfung abgeschlossen" });
  const afterBob = await runAndCompare(t, "2035-01-02T00:00:00Z");
  t.match(afterBob.tables["erp.invoices"], { deleted: 1, held: [carolInvoice.id] });
  t.notOk(await exists("erp.invoices", bobInvoice.id));
  t.ok(await exists("erp.invoices", carolInvoice.id));
  const carolHold = holds.find((h) => h.table_name === null);
  await releaseHold(pool, { holdId: carolHold.id, releasedBy: "test" });
  const afterCarol = await runAndCompare(t, "2035-01-02T00:00:00Z");
  t.match(afterCarol.tables["erp.invoices"], { deleted: 1, held: [] });
  t.notOk(await exists("erp.invoices", carolInvoice.id));
  t.match(afterCarol.erasures, [{ customerId: carol.id, status: "erased" }], "and her erasure is completed");
  await auditVerifies(t, "after removing what was held");
});

t.test("a payment of 2027 keeps its invoice of 2026 until 2036-01-01", async (t) => {
  const report = await runAndCompare(t, "2036-01-01T00:00:00Z");
  t.notOk(await exists("erp.payments", latePayment.id));
  t.notOk(await exists("erp.invoices", late.id));
  t.match(report.tables["erp.invoices"], { deleted: 1, referenced: [] });
});

t.test("books: audit records of 2026 are copied to the archive on 2037-01-01 and stay in the chain", async (t) => {
  const of2026 = "at >= '2026-01-01T00:00:00+01:00' AND at < '2027-01-01T00:00:00+01:00'";
  const before = await run("2036-12-31T12:00:00Z");
  t.equal(before.tables["audit.records"]?.archived, 0, "not on 2036-12-31");
  const last = await count("SELECT max(id) AS n FROM audit.records");
  const expected = await count(`SELECT count(*) AS n FROM audit.records WHERE ${of2026}`);
  t.ok(expected > 100);
  const copied = await run("2037-01-01T00:00:00Z");
  // (the run's own record, appended at the machine's clock, is of 2026 too)
  t.equal(copied.tables["audit.records"]?.archived, expected + 1);
  t.equal(copied.tables["audit.records"]?.deleted, 0);
  t.equal(
    await count(
      `SELECT count(*) AS n FROM audit.records a WHERE ${of2026} AND id <= $1
       AND NOT EXISTS (SELECT FROM archive.audit_records x WHERE x.id = a.id AND x.archived_by_run = $2)`,
      [last, copied.runId],
    ),
    0,
    "every one of them copied",
  );
  t.equal(
    await count(`SELECT count(*) AS n FROM audit.records WHERE ${of2026} AND id <= $1`, [last]),
    expected,
    "and they stay in audit.records",
  );
  const again = await run("2037-01-01T00:00:00Z");
  t.equal(again.tables["audit.records"]?.archived, 2, "a second run copies only what the runs appended since");
  t.equal(await count("SELECT count(*) - count(DISTINCT id) AS n FROM archive.audit_records"), 0, "each record once");
  await auditVerifies(t, "after copying the audit trail");
  const runs = (await get("/retention/runs?limit=2", platform.as("auditor"))).json();
  t.equal(runs.items[0].report.runId, runs.items[0].id);
});

t.test("the schedule runs once a day, on one of several hubs", async (t) => {
  const runsSoFar = () => count("SELECT count(*) AS n FROM ops.retention_runs");
  const start = await runsSoFar();
  // another hub holds the claim: this one skips
  const other = await pool.connect();
  await other.query("BEGIN");
  await other.query("SELECT * FROM ops.retention_schedule FOR UPDATE");
  t.same(await runScheduledRetention(pool, { now: new Date("2037-01-02T03:00:00Z") }), { status: "busy" });
  await other.query("ROLLBACK");
  other.release();
  const now = new Date("2037-01-02T03:00:00Z");
  const results = await Promise.all([
    runScheduledRetention(pool, { now, log }),
    runScheduledRetention(pool, { now, log }),
  ]);
  t.same(
    results.map((r) => r.status).filter((s) => s === "ran"),
    ["ran"],
    "exactly one ran",
  );
  t.equal(await runsSoFar(), start + 1);
  t.match(await runScheduledRetention(pool, { now: new Date("2037-01-02T22:00:00Z") }), {
    status: "done",
    day: "2037-01-02",
  });
  t.match(
    await runScheduledRetention(pool, { now: new Date("2037-01-02T23:30:00Z") }),
    { status: "ran", day: "2037-01-03" },
    "Berlin's next day",
  );
  t.equal(await runsSoFar(), start + 2);
});

t.test("npm run hub -- retention (the CLI)", async (t) => {
  const cli = (...args: string[]) =>
    spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `import pino from "pino"; import { runRetentionCli } from ${JSON.stringify(join(import.meta.dirname, "../src/retention/cli.ts"))};
         await runRetentionCli(process.argv.slice(1), process.env.DATABASE_URL, process.env.HUB_DATA_DIR, pino({ level: "silent" }));`,
        ...args,
      ],
      {
        cwd: join(import.meta.dirname, ".."),
        env: { ...process.env, DATABASE_URL: platform.db.url, HUB_DATA_DIR: platform.dataDir },
        encoding: "utf8",
        timeout: 60_000,
      },
    );
  const ran = cli("run", "--now", "2038-01-01T00:00:00Z");
  t.equal(ran.status, 0, ran.stderr);
  t.match(JSON.parse(ran.stdout), { asOfDay: "2038-01-01", tables: { "erp.invoices": { class: "vouchers" } } });
  t.match(ran.stderr, /erp\.invoices \(vouchers, 8 years\): 0 archived and deleted/);
  const held = cli("hold", "--customer", alice.id, "--reason", "Anfrage Finanzamt", "--by", "cli:test");
  t.equal(held.status, 0, held.stderr);
  t.match(JSON.parse(held.stdout), { customerId: alice.id, placedBy: "cli:test" });
  t.equal(cli("hold", "--customer", alice.id).status, 2, "a hold needs a reason");
  t.equal(cli("frobnicate").status, 2);
  const erase = cli("erase", "--customer", alice.id, "--now", "2038-01-01T00:00:00Z");
  t.equal(erase.status, 0, erase.stderr);
  t.match(JSON.parse(erase.stdout), { status: "restricted", held: true });
});

/**
 * Billing on a real PostgreSQL, through HTTP: quotes accepted into a project and an invoice draft,
 * hours invoiced from time bookings once, cancellation by credit notes once a second accountant
 * approves it (in full or by line, never more than was invoiced, under concurrency), payments that never exceed what is open (under
 * concurrency), open items and the overdue list, the documents rendered from the invoice as
 * finalised, the DATEV export and the company settings.
 */
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { configureCompany } from "./fixtures/company.js";
import { startPlatform } from "./fixtures/platform.js";
import { waitForSaga } from "./fixtures/sagas.js";
import { validateXRechnung } from "./fixtures/xrechnung-validate.js";

const execFileAsync = promisify(execFile);
const platform = await startPlatform({ poolMax: 30, sagas: true });
t.teardown(() => platform.close());
const { app, pool } = platform;
const accountant = platform.as("accountant");
const office = platform.as("office");
/** The second accountant: cancellations wait for another person's approval. */
const accountant2 = await (async () => {
  const email = "accountant-2@example.com";
  await app.authService.createUser({ email, roles: ["accountant"], password: "correct horse battery" });
  return { authorization: `Bearer ${(await app.authService.login(email, "correct horse battery")).token}` };
})();

type Injected = Awaited<ReturnType<typeof app.inject>>;
type Json = Record<string, unknown> & { id: string; version: number };

async function post(url: string, payload: object, headers = accountant, status = 201): Promise<Json> {
  const res = await app.inject({ method: "POST", url: `/api/v1${url}`, headers, payload });
  if (res.statusCode !== status) throw new Error(`POST ${url}: ${res.statusCode} ${res.body}`);
  return res.json() as Json;
}
const get = (url: string, headers = accountant) => app.inject({ method: "GET", url: `/api/v1${url}`, headers });
const move = (url: string, to: string, version: number, headers = office) =>
  app.inject({
    method: "POST",
    url: `/api/v1${url}/transitions`,
    headers: { ...headers, "if-match": `"${version}"` },
    payload: { to },
  });
const finalise = async (id: string): Promise<Json> => {
  const res = await app.inject({
    method: "POST",
    url: `/api/v1/invoices/${id}/finalise`,
    headers: { ...accountant, "if-match": '"1"' },
  });
  if (res.statusCode !== 200) throw new Error(`finalise: ${res.statusCode} ${res.body}`);
  return res.json() as Json;
};
const count = async (sql: string, params: unknown[] = []) => Number((await pool.query(sql, params)).rows[0].n);
const approve = (approvalId: string) =>
  app.inject({ method: "POST", url: `/api/v1/approvals/${approvalId}/approve`, headers: accountant2, payload: {} });
/** Cancels an invoice: the request (202) approved by the second accountant; returns the credit note. */
async function cancel(invoiceId: string, payload: object): Promise<Json> {
  const { approval } = await post(`/invoices/${invoiceId}/cancel`, payload, accountant, 202);
  const res = await approve((approval as Json).id);
  if (res.statusCode !== 200) throw new Error(`approve: ${res.statusCode} ${res.body}`);
  return (await get(`/invoices/${res.json().result.creditNoteId}`)).json() as Json;
}
const codes = (responses: Injected[]) => responses.map((r) => r.json().code ?? r.statusCode).sort();

await configureCompany(app, accountant);
const address = { street: "Sonnenweg 7", postalCode: "34117", city: "Kassel" };
const customer = await post(
  "/customers",
  { name: "Familie Sonnenschein", kind: "private", email: "sonne@example.org", ...address },
  office,
);
const flat = (position: number, quantity: number, unitPriceCents: number, extra: object = {}) => ({
  position,
  kind: "flat",
  description: `Position ${position}`,
  quantity,
  unitPriceCents,
  vatCategory: "S",
  vatRate: 19,
  ...extra,
});
/** A finalised invoice of `lines`. */
async function invoiceOf(lines: object[], extra: object = {}): Promise<Json> {
  const draft = await post("/invoices", { customerId: customer.id, issueDate: "2026-11-02", ...extra });
  for (const l of lines) await post("/invoice-lines", { invoiceId: draft.id, ...l });
  return finalise(draft.id);
}

t.test("a quote is sent, frozen, and accepted: its order makes an ordered project and an invoice draft", async (t) => {
  const quote = await post("/quotes", { customerId: customer.id, title: "PV-Anlage 9,8 kWp" }, office);
  t.match(quote, { status: "draft", number: /^AN-\d{5}$/ });
  for (const l of [
    flat(1, 23, 11_900, { vatCategory: "Z", vatRate: 0, description: "PV-Modul 430 Wp" }),
    flat(2, 1, 189_000, { vatCategory: "Z", vatRate: 0, description: "Wechselrichter" }),
  ]) {
    await post("/quote-lines", { quoteId: quote.id, ...l }, office);
  }
  t.match((await get(`/quotes/${quote.id}`)).json(), { netCents: 462_700, vatCents: 0, grossCents: 462_700 });
  t.equal((await move(`/quotes/${quote.id}`, "sent", 1)).statusCode, 200);
  const edit = await app.inject({
    method: "PATCH",
    url: `/api/v1/quotes/${quote.id}`,
    headers: { ...office, "if-match": '"2"' },
    payload: { title: "anders" },
  });
  t.match(edit.json(), { code: "HUB_ERR_VALIDATION", problems: [{ path: "/status" }] }, "a sent quote is frozen");
  t.equal(
    (await post("/quote-lines", { quoteId: quote.id, ...flat(3, 1, 1) }, office, 400)).code,
    "HUB_ERR_VALIDATION",
    "so are its lines",
  );
  t.equal((await move(`/quotes/${quote.id}`, "accepted", 2, platform.as("technician"))).statusCode, 403);
  const accepted = await move(`/quotes/${quote.id}`, "accepted", 2);
  t.equal(accepted.statusCode, 200, accepted.body);
  const q = accepted.json();
  t.equal(accepted.headers.etag, `"${q.version}"`, "the ETag is the version after the acceptance wrote");
  t.match(q, { status: "accepted", acceptedAt: String });
  t.equal((await waitForSaga(pool, "order-to-commissioning", quote.id)).state, "completed", "the order went through");
  const ordered = (await get(`/quotes/${quote.id}`)).json();
  const project = (await get(`/projects/${ordered.projectId}`)).json();
  t.match(project, { status: "ordered", budgetCents: 462_700, customerId: customer.id, title: "PV-Anlage 9,8 kWp" });
  const draft = (await get(`/invoices/${ordered.invoiceId}`)).json();
  t.match(draft, { status: "draft", projectId: ordered.projectId, notes: `Gemäß unserem Angebot ${quote.number}.` });
  t.same(
    draft.lines.map((l: Json) => [l.description, l.quantity, l.lineNetCents, l.vatCategory]),
    [
      ["PV-Modul 430 Wp", 23, 273_700, "Z"],
      ["Wechselrichter", 1, 189_000, "Z"],
    ],
  );
  const again = await move(`/quotes/${quote.id}`, "sent", ordered.version);
  t.match(again.json(), { code: "HUB_ERR_TRANSITION_NOT_ALLOWED", detail: /no other status/ });
  const existing = await post("/projects", { customerId: customer.id, title: "Speicher", kind: "extension" }, office);
  const second = await post("/quotes", { customerId: customer.id, title: "Speicher", projectId: existing.id }, office);
  await post("/quote-lines", { quoteId: second.id, ...flat(1, 1, 500_000, { vatCategory: "Z", vatRate: 0 }) }, office);
  await move(`/quotes/${second.id}`, "sent", 1);
  await move(`/quotes/${second.id}`, "accepted", 2);
  await waitForSaga(pool, "order-to-commissioning", second.id);
  t.equal(
    (await get(`/quotes/${second.id}`)).json().projectId,
    existing.id,
    "a quote of a project is accepted into it",
  );
  t.equal((await get(`/projects/${existing.id}`)).json().status, "ordered", "which is ordered now");
});

t.test("hours from the project's time bookings are invoiced once", async (t) => {
  const project = await post("/projects", { customerId: customer.id, title: "Wartung", kind: "maintenance" }, office);
  const technician = platform.as("technician");
  for (const [day, hours] of [
    ["2026-11-03", 3.5],
    ["2026-11-04", 2],
  ] as const) {
    await post("/time-bookings", { projectId: project.id, workDate: day, hours }, technician);
  }
  const draft = await post("/invoices", { customerId: customer.id, projectId: project.id });
  const hours = { position: 1, hourlyRateCents: 6_500, vatCategory: "S", vatRate: 19 };
  const line = await post(`/invoices/${draft.id}/hours`, hours);
  t.match(line, { kind: "hours", quantity: 5.5, unit: "HUR", lineNetCents: 35_750, description: /2 Buchungen/ });
  const other = await post("/invoices", { customerId: customer.id, projectId: project.id });
  t.match(
    (await post(`/invoices/${other.id}/hours`, hours, accountant, 400)).detail,
    /no hours booked that are not invoiced/,
    "a second draft finds nothing left",
  );
  await app.inject({
    method: "DELETE",
    url: `/api/v1/invoices/${draft.id}`,
    headers: { ...accountant, "if-match": '"1"' },
  });
  t.match(await post(`/invoices/${other.id}/hours`, hours), { quantity: 5.5 }, "a deleted draft gives its hours back");
  const unlinked = await post("/invoices", { customerId: customer.id });
  t.match((await post(`/invoices/${unlinked.id}/hours`, hours, accountant, 400)).problems, [{ path: "/projectId" }]);
});

t.test("cancellation: a credit note by line, then in full; 20 concurrent approvals credit once", async (t) => {
  const invoice = await invoiceOf([flat(1, 23, 11_900, { vatCategory: "Z", vatRate: 0 }), flat(2, 2, 10_000)]);
  const lines = (await get(`/invoices/${invoice.id}`)).json().lines as Json[];
  const partial = await cancel(invoice.id, {
    lines: [{ lineId: lines[0]?.id, quantity: 2 }],
    notes: "Zwei Module zurückgenommen",
  });
  t.match(partial, {
    typeCode: 381,
    status: "finalised",
    number: /^GS-\d{4}-00001$/,
    correctsId: invoice.id,
    netCents: 23_800,
    vatCents: 0,
    grossCents: 23_800,
    dueDate: null,
  });
  const noteXml = (await get(`/invoices/${partial.id}/xrechnung`)).body;
  t.match(noteXml, /<CreditNote [^>]*>[\s\S]*<cbc:CreditNoteTypeCode>381</);
  t.same(validateXRechnung(noteXml).fatal, [], "so does the credit note's");
  const tooMuch = await post(
    `/invoices/${invoice.id}/cancel`,
    { lines: [{ lineId: lines[0]?.id, quantity: 22 }] },
    accountant,
    409,
  );
  t.match(tooMuch, { code: "HUB_ERR_ALREADY_CREDITED", problems: [{ path: "/lines/0/quantity" }] });
  const unknown = await post(`/invoices/${invoice.id}/cancel`, { lines: [{ lineId: invoice.id }] }, accountant, 400);
  t.match(unknown.problems, [{ path: "/lines/0/lineId" }]);
  const requests = await Promise.all(
    Array.from({ length: 20 }, () =>
      app.inject({ method: "POST", url: `/api/v1/invoices/${invoice.id}/cancel`, headers: accountant, payload: {} }),
    ),
  );
  t.same(codes(requests), Array(20).fill(202), "20 cancellations wait for approval");
  const approvalIds = new Set(requests.map((r) => r.json().approval.id));
  t.equal(approvalIds.size, 1, "as one request");
  const race = await Promise.all(Array.from({ length: 20 }, () => approve([...approvalIds][0] as string)));
  t.same(codes(race), [200, ...Array(19).fill("HUB_ERR_APPROVAL_CLOSED")], "approved and carried out once");
  const approved = race.find((r) => r.statusCode === 200)?.json();
  const full = (await get(`/invoices/${approved.result.creditNoteId}`)).json();
  t.match(full, { number: /-00002$/, netCents: 21 * 11_900 + 20_000, vatCents: 3_800 });
  t.equal(
    await count("SELECT sum(quantity) AS n FROM erp.invoice_lines WHERE credits_line_id = $1", [lines[0]?.id]),
    23,
    "line 1 credited exactly once in all",
  );
  t.equal(
    await count("SELECT count(*) AS n FROM erp.invoices WHERE type_code = 381 AND corrects_id = $1", [invoice.id]),
    2,
  );
  const draft = await post("/invoices", { customerId: customer.id });
  t.match((await post(`/invoices/${draft.id}/cancel`, {}, accountant, 400)).detail, /only a finalised invoice/);
  const direct = await pool
    .query(
      `INSERT INTO erp.invoice_lines (invoice_id, position, kind, description, quantity, unit_price_cents, vat_category,
         vat_rate, credits_line_id) VALUES ($1, 1, 'flat', 'x', 1, 11900, 'Z', 0, $2)`,
      [draft.id, lines[0]?.id],
    )
    .catch((err) => err.constraint);
  t.equal(direct, "invoice_lines_credit_shape", "an invoice's line cannot credit another invoice's (SQL)");
});

t.test("payments: 20 concurrent tenths of an invoice, exactly 10 booked; reversal once; a ledger", async (t) => {
  const invoice = await invoiceOf([flat(1, 1, 100_000)]); // 1,190.00 gross
  const tenth = 11_900;
  const race = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      app.inject({
        method: "POST",
        url: `/api/v1/invoices/${invoice.id}/payments`,
        headers: accountant,
        payload: { amountCents: tenth, paidOn: "2026-11-10", reference: `Teil ${i}` },
      }),
    ),
  );
  t.same(codes(race), [...Array(10).fill(201), ...Array(10).fill("HUB_ERR_OVERPAID")]);
  t.match(race.find((r) => r.statusCode === 409)?.json(), { problems: [{ path: "/amountCents" }] });
  const paid = race.filter((r) => r.statusCode === 201).map((r) => r.json());
  const item = async () =>
    (await get(`/open-items?customerId=${customer.id}`)).json().items.find((i: Json) => i.invoiceId === invoice.id);
  t.equal(await item(), undefined, "nothing open");
  const reversal = await post(`/invoices/${invoice.id}/payments`, { reversesId: paid[0].id, paidOn: "2026-11-11" });
  t.equal(reversal.amountCents, -tenth, "a reversal takes back its payment in full");
  t.match(await item(), { paidCents: 9 * tenth, openCents: tenth });
  const twice = await post(`/invoices/${invoice.id}/payments`, { reversesId: paid[0].id }, accountant, 409);
  t.match(twice.problems, [{ path: "/reversesId" }]);
  t.equal(
    (await post(`/invoices/${invoice.id}/payments`, { amountCents: 0 }, accountant, 400)).code,
    "HUB_ERR_VALIDATION",
  );
  const draft = await post("/invoices", { customerId: customer.id });
  t.match((await post(`/invoices/${draft.id}/payments`, { amountCents: 1 }, accountant, 400)).problems, [
    { path: "/invoiceId" },
  ]);
  for (const sql of ["UPDATE erp.payments SET amount_cents = 1", "DELETE FROM erp.payments", "TRUNCATE erp.payments"]) {
    t.equal(await pool.query(sql).catch((err) => err.constraint), "ledger_append_only", `refused: ${sql}`);
  }
  t.equal((await post(`/invoices/${invoice.id}/payments`, { amountCents: 1 }, office, 403)).code, "HUB_ERR_FORBIDDEN");
});

t.test("open items per customer and the overdue list; a credit note reduces what is open", async (t) => {
  const other = await post("/customers", { name: "Nachbar", kind: "private", ...address }, office);
  const early = await invoiceOf([flat(1, 1, 10_000)], { customerId: other.id, issueDate: "2026-10-01" });
  const late = await invoiceOf([flat(1, 1, 20_000)], { customerId: other.id, issueDate: "2026-11-20" });
  await cancel(late.id, {
    lines: [{ lineId: (await get(`/invoices/${late.id}`)).json().lines[0].id, quantity: 0.5 }],
  });
  const open = (await get(`/open-items?customerId=${other.id}`)).json();
  t.same(
    open.items.map((i: Json) => [i.number, i.dueDate, i.grossCents, i.creditedCents, i.openCents]),
    [
      [early.number, "2026-10-15", 11_900, 0, 11_900],
      [late.number, "2026-12-04", 23_800, 11_900, 11_900],
    ],
  );
  t.equal(open.totalOpenCents, 23_800);
  const overdue = (await get(`/open-items?overdue=true&asOf=2026-11-30&customerId=${other.id}`)).json();
  t.same(
    overdue.items.map((i: Json) => [i.number, i.daysOverdue]),
    [[early.number, 46]],
  );
  t.equal((await get("/open-items", platform.as("technician"))).statusCode, 403);
});

t.test("documents are rendered from the invoice as finalised, whatever changes later", async (t) => {
  const invoice = await invoiceOf([flat(1, 2, 4_990, { description: "Überspannungsschutz „DC“" })]);
  const xml = await get(`/invoices/${invoice.id}/xrechnung`);
  t.equal(xml.statusCode, 200);
  t.match(xml.headers["content-type"], "application/xml");
  t.match(xml.body, `<cbc:ID>${invoice.number}</cbc:ID>`);
  t.match(xml.body, "Familie Sonnenschein");
  t.same(validateXRechnung(xml.body).fatal, [], "the served XRechnung passes EN 16931 and XRechnung 3.0");
  const current = (await get(`/customers/${customer.id}`, office)).json();
  await app.inject({
    method: "PATCH",
    url: `/api/v1/customers/${customer.id}`,
    headers: { ...office, "if-match": `"${current.version}"` },
    payload: { name: "Familie Sonnenschein-Umzug", city: "Fulda" },
  });
  t.equal(
    (await get(`/invoices/${invoice.id}/xrechnung`)).body,
    xml.body,
    "the same XRechnung after the customer moved",
  );
  const pdf = await get(`/invoices/${invoice.id}/pdf`);
  t.equal(pdf.statusCode, 200);
  t.equal(pdf.headers["content-type"], "application/pdf");
  t.equal(pdf.rawPayload.subarray(0, 5).toString(), "%PDF-");
  const draft = await post("/invoices", { customerId: customer.id });
  t.equal((await get(`/invoices/${draft.id}/pdf`)).statusCode, 404, "a draft has no document");
  const noEmail = await post("/customers", { name: "Ohne Mail", kind: "private", ...address }, office);
  const unsendable = await invoiceOf([flat(1, 1, 100)], { customerId: noEmail.id });
  t.match((await get(`/invoices/${unsendable.id}/xrechnung`)).json(), {
    code: "HUB_ERR_XRECHNUNG_DATA",
    problems: [{ path: "/buyer/email" }],
  });
  t.equal(
    await pool.query("UPDATE erp.invoice_documents SET document = '{}'").catch((err) => err.constraint),
    "ledger_append_only",
    "the document as finalised never changes",
  );
  await app.inject({
    method: "PATCH",
    url: `/api/v1/customers/${customer.id}`,
    headers: { ...office, "if-match": `"${current.version + 1}"` },
    payload: { name: "Familie Sonnenschein", city: "Kassel" },
  });
});

t.test("DATEV: the period's documents and payments; an emoji is refused, naming the document", async (t) => {
  const res = await get("/exports/datev?from=2026-11-01&to=2026-11-30");
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.headers["content-type"], "text/csv; charset=windows-1252");
  t.match(res.headers["content-disposition"], /EXTF_Buchungsstapel_2026-11-01_2026-11-30\.csv/);
  const text = res.rawPayload.toString("latin1");
  const lines = text.split("\r\n");
  t.match(
    lines[0],
    /^"EXTF";700;21;"Buchungsstapel";13;\d{17};;"RE";"accountant@example.com";"";29098;55003;20260101;4;20261101;20261130;/,
  );
  const bookings = lines.slice(2).filter(Boolean);
  const documents = await count(
    `SELECT count(*) AS n FROM erp.invoices i WHERE i.status = 'finalised' AND i.issue_date BETWEEN '2026-11-01' AND '2026-11-30'`,
  );
  const paymentsInPeriod = await count(
    "SELECT count(*) AS n FROM erp.payments WHERE paid_on BETWEEN '2026-11-01' AND '2026-11-30'",
  );
  t.ok(
    bookings.length >= documents + paymentsInPeriod,
    `${bookings.length} bookings for ${documents} documents and ${paymentsInPeriod} payments`,
  );
  const emoji = await post("/customers", { name: "Solar 🌞 GmbH", kind: "business", ...address }, office);
  const bad = await invoiceOf([flat(1, 1, 100)], { customerId: emoji.id, issueDate: "2026-12-01" });
  const refused = await get("/exports/datev?from=2026-12-01&to=2026-12-31");
  t.equal(refused.statusCode, 422);
  t.match(refused.json(), { code: "HUB_ERR_DATEV_UNENCODABLE", detail: new RegExp(`${bad.number}.*🌞`) });
  t.equal((await get("/exports/datev?from=2026-12-31&to=2026-12-01")).statusCode, 400);
});

t.test("company settings: If-Match, a checked IBAN, accountants change them, office reads", async (t) => {
  const current = await get("/settings/company", office);
  t.equal(current.statusCode, 200);
  t.match(current.json(), { name: "Sonnenstrom Nordhessen GmbH", datevChart: "SKR03" });
  const patch = (payload: object, headers: Record<string, string>) =>
    app.inject({ method: "PATCH", url: "/api/v1/settings/company", headers, payload });
  t.equal((await patch({ paymentTermsDays: 30 }, accountant)).statusCode, 428);
  t.equal((await patch({ paymentTermsDays: 30 }, { ...accountant, "if-match": '"1"' })).statusCode, 412);
  const etag = current.headers.etag as string;
  t.equal((await patch({ paymentTermsDays: 30 }, { ...office, "if-match": etag })).statusCode, 403);
  t.match((await patch({ iban: "DE02120300000000202052" }, { ...accountant, "if-match": etag })).json(), {
    problems: [{ path: "/iban" }],
  });
  t.match((await patch({ unknown: 1 }, { ...accountant, "if-match": etag })).json(), { code: "HUB_ERR_VALIDATION" });
  const changed = await patch({ paymentTermsDays: 30 }, { ...accountant, "if-match": etag });
  t.equal(changed.json().paymentTermsDays, 30);
  t.equal(
    await count(
      "SELECT count(*) AS n FROM audit.records WHERE table_name = 'company_settings' AND after->>'payment_terms_days' = '30'",
    ),
    1,
    "audited",
  );
  const invoice = await invoiceOf([flat(1, 1, 100)], { issueDate: "2026-11-05" });
  t.equal(invoice.dueDate, "2026-12-05", "due after the settings' payment terms");
});

t.test("GoBD Z3 export: the period's files, and an index.xml that describes exactly them", async (t) => {
  const out = join(platform.dataDir, "z3");
  const run = (...args: string[]) =>
    execFileAsync(process.execPath, ["--import", "tsx", join(import.meta.dirname, "../src/main.ts"), "gobd", ...args], {
      env: { ...process.env, DATABASE_URL: platform.db.url, LOG_LEVEL: "warn" },
      timeout: 60_000,
    });
  const today = new Date().toISOString().slice(0, 10); // the audit records of this run are dated today
  const { stdout } = await run("export", "--from", "2026-11-01", "--to", today, "--out", out);
  const result = JSON.parse(stdout);
  const index = readFileSync(join(out, "index.xml"), "utf8");
  t.match(index, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<!DOCTYPE DataSet SYSTEM "gdpdu-01-08-2002.dtd">/);
  const tables = [...index.matchAll(/<Table>([\s\S]*?)<\/Table>/g)].map((m) => ({
    url: /<URL>(.*?)<\/URL>/.exec(m[1] as string)?.[1],
    columns: [...(m[1] as string).matchAll(/<Variable(?:PrimaryKey|Column)><Name>(.*?)<\/Name>/g)].map((c) => c[1]),
  }));
  t.same(
    tables.map((x) => x.url).sort(),
    readdirSync(out)
      .filter((f) => f !== "index.xml")
      .sort(),
    "every file written is described, and nothing else",
  );
  for (const table of tables) {
    const rows = readFileSync(join(out, table.url as string), "utf8").split("\r\n");
    t.equal(rows.pop(), "", `${table.url}: every record ends with CRLF`);
    t.equal(rows.length, result.files[table.url as string], `${table.url}: ${rows.length} records`);
    for (const row of rows) {
      const fields = row.replace(/"([^"]|"")*"/g, "").split(";").length; // separators outside quotes, plus one
      if (fields !== table.columns.length) {
        t.fail(`${table.url}: ${fields} fields, ${table.columns.length} described: ${row}`);
      }
    }
  }
  const documents = readFileSync(join(out, "belege.csv"), "utf8");
  const gs = await pool.query(
    "SELECT number FROM erp.invoices WHERE type_code = 381 AND status = 'finalised' ORDER BY number LIMIT 1",
  );
  t.match(documents, `"${gs.rows[0].number}";381;`, "credit notes with their type");
  t.match(documents, /;"K-\d+";.*;\d+,\d{2};\d+,\d{2};\d+,\d{2};"20\d\d-/, "amounts with a decimal comma");
  t.ok(result.files["protokoll.csv"] > 0, "the audit trail of the period");
  t.match(readFileSync(join(out, "zahlungen.csv"), "utf8"), /;-119,00;/, "a reversal as a negative amount");
  const bad = await run("export", "--from", "2026-11-31", "--to", "2026-11-30", "--out", out).catch((err) => err);
  t.equal(bad.code, 2, "bad arguments exit 2");
});

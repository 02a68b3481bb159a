/**
 * The hub's business processes on a real PostgreSQL, with the coordinator running: a quote's
 * acceptance starts its order through the outbox (project, stock, installation ticket, gateway
 * enrollment, invoice draft); not enough stock compensates it in reverse; starts over the API are
 * idempotent and permission-checked; cancelling an order reverses it, and a finalised invoice is
 * credited only after a second person approved (the saga waits for the decision).
 */
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import t from "tap";
import {
  createEnrollmentCode,
  readEnrollmentCodes,
  redeemEnrollmentCode,
  withdrawEnrollmentCodes,
} from "../src/pki/enrollment.js";
import { OUTBOX_MAX_ATTEMPTS, publish, relayOutbox } from "../src/sagas/outbox.js";
import { configureCompany } from "./fixtures/company.js";
import { log, startPlatform } from "./fixtures/platform.js";
import { waitForSaga } from "./fixtures/sagas.js";

const platform = await startPlatform({ poolMax: 30, sagas: true });
t.teardown(() => platform.close());
const { app, pool } = platform;
const pm = platform.as("project_manager");
const office = platform.as("office");
const accountant = platform.as("accountant");
const pkiDir = join(platform.dataDir, "pki");

type Json = Record<string, any> & { id: string; version: number };

async function post(url: string, payload: object, headers = pm, status = 201): Promise<Json> {
  const res = await app.inject({ method: "POST", url: `/api/v1${url}`, headers, payload });
  if (res.statusCode !== status) throw new Error(`POST ${url}: ${res.statusCode} ${res.body}`);
  return res.json() as Json;
}
const get = async (url: string, headers = pm) =>
  (await app.inject({ method: "GET", url: `/api/v1${url}`, headers })).json() as Json;
const move = (url: string, to: string, version: number, headers = pm) =>
  app.inject({
    method: "POST",
    url: `/api/v1${url}/transitions`,
    headers: { ...headers, "if-match": `"${version}"` },
    payload: { to },
  });
const start = (type: string, input: object, headers = pm) =>
  app.inject({ method: "POST", url: "/api/v1/sagas", headers, payload: { type, input } });
const rows = async (sql: string, params: unknown[] = []) => (await pool.query(sql, params)).rows;
const validCodes = (edgeId: string) =>
  Object.values(readEnrollmentCodes(pkiDir).codes).filter(
    (c) => c.edgeId === edgeId && c.usedAt === null && Date.parse(c.expiresAt) > Date.now(),
  );

await configureCompany(app, accountant);
const customer = await post(
  "/customers",
  { name: "Familie Sonnenschein", kind: "private", street: "Sonnenweg 7", postalCode: "34117", city: "Kassel" },
  office,
);
const warehouse = await post("/warehouses", { code: "HQ", name: "Hauptlager" });
const van = await post("/warehouses", { code: "VAN", name: "Transporter" });
const module = await post("/articles", { number: "PV-430", name: "PV-Modul 430 Wp", category: "module" });
const service = await post("/articles", { number: "MONT", name: "Montage", category: "service", unit: "set" });
await post("/stock-movements", { kind: "receipt", articleId: module.id, quantity: 30, toWarehouseId: warehouse.id });
await post("/stock-movements", { kind: "receipt", articleId: module.id, quantity: 12, toWarehouseId: van.id });

/** A sent quote for a new site: `modules` panels and 8 hours of mounting. */
async function sentQuote(modules: number, title = "PV-Anlage") {
  const site = await post("/sites", { customerId: customer.id, name: `${title} Dach` }, office);
  const quote = await post("/quotes", { customerId: customer.id, siteId: site.id, title });
  const line = { vatCategory: "Z", vatRate: 0 };
  await post("/quote-lines", {
    quoteId: quote.id,
    position: 1,
    kind: "article",
    articleId: module.id,
    description: "PV-Modul 430 Wp",
    quantity: modules,
    unitPriceCents: 11_900,
    ...line,
  });
  await post("/quote-lines", {
    quoteId: quote.id,
    position: 2,
    kind: "article",
    articleId: service.id,
    description: "Montage",
    quantity: 8,
    unit: "HUR",
    unitPriceCents: 6_500,
    ...line,
  });
  if ((await move(`/quotes/${quote.id}`, "sent", 1)).statusCode !== 200) throw new Error("quote not sent");
  return { quote: await get(`/quotes/${quote.id}`), site };
}

const free = async (warehouseId: string) =>
  Number(
    (
      await rows("SELECT quantity - reserved AS n FROM erp.stock WHERE article_id = $1 AND warehouse_id = $2", [
        module.id,
        warehouseId,
      ])
    )[0].n,
  );

t.test(
  "an accepted quote becomes an order: project, stock, ticket, gateway with its code, invoice draft",
  async (t) => {
    const { quote, site } = await sentQuote(20, "Einfamilienhaus");
    const accepted = await move(`/quotes/${quote.id}`, "accepted", quote.version);
    t.equal(accepted.statusCode, 200, accepted.body);
    const saga = await waitForSaga(pool, "order-to-commissioning", quote.id);
    t.equal(saga.state, "completed", JSON.stringify(saga.error));

    const order = await get(`/quotes/${quote.id}`);
    t.match(order, { status: "accepted", acceptedAt: String, projectId: String, invoiceId: String });
    t.match(await get(`/projects/${order.projectId}`), { status: "ordered", siteId: site.id, budgetCents: 290_000 });
    const reservations = await rows(
      "SELECT article_id, warehouse_id, quantity::int FROM erp.reservations WHERE project_id = $1",
      [order.projectId],
    );
    t.same(
      reservations,
      [{ article_id: module.id, warehouse_id: warehouse.id, quantity: 20 }],
      "panels, not the service, from the fuller warehouse",
    );
    t.equal(await free(warehouse.id), 10);
    const tickets = await rows("SELECT site_id, status, source, title FROM erp.tickets WHERE cause = $1", [
      `order:${saga.id}`,
    ]);
    t.match(tickets, [{ site_id: site.id, status: "new", source: "order", title: "Installation: Einfamilienhaus" }]);
    const gateway = saga.outputs["enroll-gateway"] as { edgeId: string; enrollmentCode: string };
    t.match(await rows("SELECT edge_id FROM erp.gateways WHERE site_id = $1", [site.id]), [
      { edge_id: gateway.edgeId },
    ]);
    t.match(gateway.enrollmentCode, /^stz1\./, "the installer's code is in the step's output");
    t.equal(validCodes(gateway.edgeId).length, 1, "one valid code for the gateway");
    const draft = await get(`/invoices/${order.invoiceId}`, accountant);
    t.match(draft, { status: "draft", projectId: order.projectId, siteId: site.id });
    t.equal(draft.lines.length, 2);

    const detail = await get(`/sagas/${saga.id}`);
    t.same(
      detail.steps.map((s: Json) => [s.step, s.phase, s.outcome]),
      [
        "accept-quote",
        "create-project",
        "reserve-stock",
        "schedule-installation",
        "enroll-gateway",
        "draft-invoice",
      ].map((step) => [step, "action", "succeeded"]),
    );
    t.ok(detail.steps.every((s: Json) => s.ms >= 0 && s.processId === platform.coordinator?.processId));
    t.match(detail.startedBy, "project_manager@example.com", "started in the name of who accepted the quote");
    const trail = await rows(
      "SELECT before, after FROM audit.records WHERE schema_name = 'saga' AND table_name = 'instances' AND entity_id = $1 ORDER BY id",
      [saga.id],
    );
    t.ok(trail.length >= 2, "the saga's start and end are in the audit trail");
    t.notOk(JSON.stringify(trail).includes(gateway.enrollmentCode), "without the enrollment code");

    // the installer's edge redeems the code: the gateway is enrolled
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
    const redeemed = await redeemEnrollmentCode(pkiDir, { code: gateway.enrollmentCode, publicKey: pem });
    t.equal(redeemed.edgeId, gateway.edgeId);
  },
);

t.test("not enough stock anywhere: the order is undone in reverse and the quote is open again", async (t) => {
  const { quote } = await sentQuote(40, "Scheune");
  const before = await free(warehouse.id);
  const started = await start("order-to-commissioning", { quoteId: quote.id });
  t.equal(started.statusCode, 201, started.body);
  const saga = await waitForSaga(pool, "order-to-commissioning", quote.id);
  t.equal(saga.state, "compensated");
  t.match(saga.error, { step: "reserve-stock", code: "HUB_ERR_STOCK_INSUFFICIENT", message: /PV-430/ });
  const detail = await get(`/sagas/${saga.id}`);
  t.same(
    detail.steps.map((s: Json) => `${s.step}:${s.phase}:${s.outcome}`),
    [
      "accept-quote:action:succeeded",
      "create-project:action:succeeded",
      "reserve-stock:action:failed",
      "create-project:compensation:succeeded",
      "accept-quote:compensation:succeeded",
    ],
  );
  const after = await get(`/quotes/${quote.id}`);
  t.match(after, { status: "sent", acceptedAt: null, projectId: null, invoiceId: null });
  t.equal((await rows("SELECT 1 FROM erp.projects WHERE title = 'Scheune'")).length, 0, "the project it made is gone");
  t.equal(await free(warehouse.id), before, "nothing stays reserved");
});

t.test("starting over the API: once per quote, with permission, checked input", async (t) => {
  const { quote } = await sentQuote(2, "Garage");
  const first = await start("order-to-commissioning", { quoteId: quote.id });
  t.equal(first.statusCode, 201, first.body);
  t.match(first.headers.location, new RegExp(`/api/v1/sagas/${first.json().id}$`));
  const again = await start("order-to-commissioning", { quoteId: quote.id });
  t.equal(again.statusCode, 200, "the same quote again: the same saga");
  t.equal(again.json().id, first.json().id);
  t.equal(
    (await start("order-to-commissioning", { quoteId: quote.id }, office)).statusCode,
    403,
    "office reads sagas only",
  );
  const bad = await start("order-to-commissioning", { quoteId: "nope", extra: 1 });
  t.equal(bad.statusCode, 400);
  t.ok(
    bad.json().problems.some((p: Json) => p.path.startsWith("/input")),
    bad.body,
  );
  const unknown = await start("make-coffee", {});
  t.match(unknown.json(), {
    code: "HUB_ERR_VALIDATION",
    problems: [{ path: "/type", message: /order-to-commissioning/ }],
  });
  t.equal((await waitForSaga(pool, "order-to-commissioning", quote.id)).state, "completed");
});

t.test("a quote for a project in progress keeps its status; one for a cancelled project is refused", async (t) => {
  const project = await post("/projects", { customerId: customer.id, title: "Erweiterung", kind: "extension" });
  await pool.query("UPDATE erp.projects SET status = 'scheduled' WHERE id = $1", [project.id]);
  const quote = await post("/quotes", { customerId: customer.id, projectId: project.id, title: "Wallbox" });
  await move(`/quotes/${quote.id}`, "sent", 1);
  t.equal((await move(`/quotes/${quote.id}`, "accepted", 2)).statusCode, 200);
  t.equal((await waitForSaga(pool, "order-to-commissioning", quote.id)).state, "completed");
  t.match(await get(`/projects/${project.id}`), { status: "scheduled" }, "not set back to ordered");
  const gone = await post("/projects", { customerId: customer.id, title: "Abgesagt", kind: "extension" });
  await pool.query("UPDATE erp.projects SET status = 'cancelled' WHERE id = $1", [gone.id]);
  const late = await post("/quotes", { customerId: customer.id, projectId: gone.id, title: "Zu spät" });
  await move(`/quotes/${late.id}`, "sent", 1);
  const refused = await move(`/quotes/${late.id}`, "accepted", 2);
  t.match(refused.json(), { code: "HUB_ERR_TRANSITION_NOT_ALLOWED", detail: /cancelled/ }, "at once, not later");
  t.match(await get(`/quotes/${late.id}`), { status: "sent" });
});

/** A completed order of `modules` panels. */
async function completedOrder(modules: number, title: string) {
  const { quote, site } = await sentQuote(modules, title);
  await move(`/quotes/${quote.id}`, "accepted", quote.version);
  const saga = await waitForSaga(pool, "order-to-commissioning", quote.id);
  if (saga.state !== "completed") throw new Error(`order ${title}: ${saga.state}`);
  return { quote: await get(`/quotes/${quote.id}`), site, saga };
}

t.test("cancelling an order before installation reverses every step; a draft invoice is deleted", async (t) => {
  const before = await free(warehouse.id);
  const { quote, site, saga } = await completedOrder(5, "Carport");
  const edgeId = (saga.outputs["enroll-gateway"] as { edgeId: string }).edgeId;
  const res = await start("cancel-order", { quoteId: quote.id, reason: "Kunde tritt zurück" });
  t.equal(res.statusCode, 201, res.body);
  const cancel = await waitForSaga(pool, "cancel-order", quote.id);
  t.equal(cancel.state, "completed", JSON.stringify(cancel.error));
  t.match(await get(`/quotes/${quote.id}`), { status: "cancelled" });
  t.match(await get(`/projects/${quote.projectId}`), { status: "cancelled" });
  t.equal((await rows("SELECT 1 FROM erp.invoices WHERE id = $1", [quote.invoiceId])).length, 0, "the draft is gone");
  t.equal(await free(warehouse.id), before, "the stock is free again");
  t.match(await rows("SELECT status FROM erp.tickets WHERE cause = $1", [`order:${saga.id}`]), [
    { status: "cancelled" },
  ]);
  t.equal((await rows("SELECT 1 FROM erp.gateways WHERE site_id = $1", [site.id])).length, 0, "the gateway is gone");
  t.equal(validCodes(edgeId).length, 0, "its code no longer redeems");
  const twice = await start("cancel-order", { quoteId: quote.id, reason: "Kunde tritt zurück" });
  t.equal(twice.statusCode, 200, "cancelling twice is the same cancellation");
  const other = await start("cancel-order", { quoteId: quote.id, reason: "anders" });
  t.match(other.json(), { code: "HUB_ERR_IDEMPOTENCY_MISMATCH" }, "another reason for the same order is refused");
});

t.test("a finalised invoice is credited only after a second person's approval; the saga waits", async (t) => {
  const { quote } = await completedOrder(3, "Werkstatt");
  const fin = await app.inject({
    method: "POST",
    url: `/api/v1/invoices/${quote.invoiceId}/finalise`,
    headers: { ...accountant, "if-match": '"1"' },
  });
  t.equal(fin.statusCode, 200, fin.body);
  t.equal((await start("cancel-order", { quoteId: quote.id, reason: "Dach ungeeignet" })).statusCode, 201);
  const waiting = await waitForSaga(pool, "cancel-order", quote.id, ["waiting"]);
  const [request] = await rows(
    "SELECT id, requested_by, payload FROM ops.approval_requests WHERE subject_id = $1 AND status = 'pending'",
    [quote.invoiceId],
  );
  t.equal(request.requested_by, platform.userId("project_manager"), "asked in the name of who cancels");
  t.equal(request.payload.sagaId, waiting.id);
  const detail = await get(`/sagas/${waiting.id}`);
  t.match(detail.steps.at(-1), { step: "settle-invoice", outcome: "waiting" });

  const decide = (headers: Record<string, string>, verb = "approve") =>
    app.inject({ method: "POST", url: `/api/v1/approvals/${request.id}/${verb}`, headers, payload: { comment: "ok" } });
  t.equal((await decide(pm)).statusCode, 403, "not the requester (nor a role the policy names)");
  t.equal((await decide(platform.as("admin"))).statusCode, 200, "an admin approves");
  const done = await waitForSaga(pool, "cancel-order", quote.id);
  t.equal(done.state, "completed", JSON.stringify(done.error));
  const credit = (done.outputs["settle-invoice"] as { creditNoteId: string }).creditNoteId;
  t.match(await get(`/invoices/${credit}`, accountant), {
    typeCode: 381,
    status: "finalised",
    correctsId: quote.invoiceId,
  });
  t.match(await get(`/projects/${quote.projectId}`), { status: "cancelled" });
});

t.test("a rejected credit: the cancellation ends compensated and the order stands", async (t) => {
  const { quote } = await completedOrder(2, "Gartenhaus");
  await app.inject({
    method: "POST",
    url: `/api/v1/invoices/${quote.invoiceId}/finalise`,
    headers: { ...accountant, "if-match": '"1"' },
  });
  await start("cancel-order", { quoteId: quote.id, reason: "zu teuer" });
  await waitForSaga(pool, "cancel-order", quote.id, ["waiting"]);
  const [request] = await rows("SELECT id FROM ops.approval_requests WHERE subject_id = $1 AND status = 'pending'", [
    quote.invoiceId,
  ]);
  const rejected = await app.inject({
    method: "POST",
    url: `/api/v1/approvals/${request.id}/reject`,
    headers: accountant,
    payload: { comment: "Vertrag bindend" },
  });
  t.equal(rejected.statusCode, 200, rejected.body);
  const done = await waitForSaga(pool, "cancel-order", quote.id);
  t.equal(done.state, "compensated");
  t.match(done.error, { step: "settle-invoice", message: /rejected.*Vertrag bindend/ });
  t.match(await get(`/projects/${quote.projectId}`), { status: "ordered" });
  t.match(await get(`/quotes/${quote.id}`), { status: "accepted" });
});

t.test("a project past ordered or scheduled is not cancelled (nothing is touched)", async (t) => {
  const { quote } = await completedOrder(1, "Balkon");
  await pool.query("UPDATE erp.projects SET status = 'installed' WHERE id = $1", [quote.projectId]);
  await start("cancel-order", { quoteId: quote.id, reason: "zu spät" });
  const done = await waitForSaga(pool, "cancel-order", quote.id);
  t.match(done, { state: "compensated", error: { step: "check-order", message: /installed: too late/ } });
  t.match(await get(`/invoices/${quote.invoiceId}`, accountant), { status: "draft" });
});

t.test("the outbox: delivered once in order; a failing handler is retried, then dead-lettered", async (t) => {
  const seen: string[] = [];
  let failures = 0;
  const handlers = new Map([
    ["test.ok", async (_tx: unknown, e: { key: string | null }) => void seen.push(e.key ?? "")],
    [
      "test.broken",
      async () => {
        failures++;
        throw new Error("the handler is broken");
      },
    ],
  ]);
  await publish(pool, { topic: "test.ok", key: "a", payload: {} });
  await publish(pool, { topic: "test.broken", key: "x", payload: { n: 1 } });
  await publish(pool, { topic: "test.ok", key: "b", payload: {} });
  const connect = () => pool.connect();
  const relay = () => relayOutbox(connect, handlers, { log, deadLetters: platform.deadLetters });
  // the hub's own coordinator has no handler for these topics: it leaves them alone
  t.equal(await relay(), 2);
  t.same(seen, ["a", "b"]);
  for (let i = 1; i < OUTBOX_MAX_ATTEMPTS; i++) {
    await pool.query("UPDATE saga.outbox SET available_at = now() WHERE topic = 'test.broken'");
    await relay();
  }
  t.equal(failures, OUTBOX_MAX_ATTEMPTS);
  const [event] = await rows("SELECT attempts, published_at, error FROM saga.outbox WHERE topic = 'test.broken'");
  t.match(event, { attempts: OUTBOX_MAX_ATTEMPTS, published_at: null, error: { message: "the handler is broken" } });
  await relay();
  t.equal(failures, OUTBOX_MAX_ATTEMPTS, "no longer tried");
  t.match(await rows("SELECT payload FROM ops.dead_letters WHERE source = 'outbox'"), [
    { payload: { topic: "test.broken", key: "x" } },
  ]);
});

t.test("enrollment codes are fenced by the saga's claim: a stale token changes nothing", async (t) => {
  const owner = crypto.randomUUID();
  const url = "https://hub.example.com";
  const first = await createEnrollmentCode(pkiDir, "gw-fenced", { url, fenced: { owner, fence: 5 } });
  await t.rejects(createEnrollmentCode(pkiDir, "gw-fenced", { url, fenced: { owner, fence: 4 } }), {
    code: "HUB_ERR_FENCED",
  });
  await t.rejects(withdrawEnrollmentCodes(pkiDir, "gw-fenced", { fenced: { owner, fence: 4 } }), {
    code: "HUB_ERR_FENCED",
  });
  t.same(
    validCodes("gw-fenced").map((c) => c.expiresAt),
    [first.expiresAt],
    "the code of the newer claim is the only one, untouched",
  );
  const again = await createEnrollmentCode(pkiDir, "gw-fenced", { url, fenced: { owner, fence: 6 } });
  t.same(
    validCodes("gw-fenced").map((c) => c.expiresAt),
    [again.expiresAt],
    "a newer claim replaces it",
  );
  t.equal(await withdrawEnrollmentCodes(pkiDir, "gw-fenced", { fenced: { owner, fence: 7 } }), 1);
  await t.rejects(
    createEnrollmentCode(pkiDir, "gw-fenced", { url, fenced: { owner, fence: 6 } }),
    {
      code: "HUB_ERR_FENCED",
    },
    "after the withdrawal, the older claim cannot issue one again",
  );
  t.equal(validCodes("gw-fenced").length, 0);
});

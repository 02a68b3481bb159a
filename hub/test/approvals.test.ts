/**
 * Four-eyes approvals on a real PostgreSQL, through HTTP: the policies are data; a finalisation
 * above the amount and every cancellation wait for a second person, who carries them out in the
 * same transaction, exactly once under 20 concurrent approvals; nobody decides their own request
 * (also by an API token of theirs, also in SQL as the owner), nor with a role the policy does not
 * name, nor twice, nor after its expiry; a rejection does nothing; every decision is audited with
 * its actor. An operation without an executor (edge power limits) stays approved until carried out.
 */
import t from "tap";
import {
  approvalStatus,
  decide,
  expireApprovals,
  markExecuted,
  requestApproval,
  requiresApproval,
} from "../src/approvals/index.js";
import { inAuditedTransaction } from "../src/platform/audit-context.js";
import type { Principal, Role } from "../src/platform/principal.js";
import { configureCompany } from "./fixtures/company.js";
import { startPlatform } from "./fixtures/platform.js";

const platform = await startPlatform({ poolMax: 30 });
t.teardown(() => platform.close());
const { app, pool } = platform;
const accountant = platform.as("accountant");
const office = platform.as("office");

type Injected = Awaited<ReturnType<typeof app.inject>>;
type Json = Record<string, unknown> & { id: string; version: number };
type Headers = Record<string, string>;

/** A second user with `role`, logged in: the other pair of eyes. */
async function secondUser(role: Role): Promise<{ headers: Headers; id: string; principal: Principal }> {
  const email = `${role}-2@example.com`;
  const password = "correct horse battery";
  const user = await app.authService.createUser({ email, roles: [role], password, displayName: `${role} 2` });
  const { token } = await app.authService.login(email, password);
  const principal: Principal = { id: user.id, kind: "user", name: email, roles: [role] };
  return { headers: { authorization: `Bearer ${token}` }, id: user.id, principal };
}
const accountant2 = await secondUser("accountant");

async function post(url: string, payload: object, headers: Headers = accountant, status = 201): Promise<Json> {
  const res = await app.inject({ method: "POST", url: `/api/v1${url}`, headers, payload });
  if (res.statusCode !== status) throw new Error(`POST ${url}: ${res.statusCode} ${res.body}`);
  return res.json() as Json;
}
const get = (url: string, headers: Headers = accountant) =>
  app.inject({ method: "GET", url: `/api/v1${url}`, headers });
const finalise = (id: string, headers: Headers = accountant) =>
  app.inject({ method: "POST", url: `/api/v1/invoices/${id}/finalise`, headers: { ...headers, "if-match": '"1"' } });
const decideOver = (id: string, decision: "approve" | "reject", headers: Headers, comment?: string) =>
  app.inject({
    method: "POST",
    url: `/api/v1/approvals/${id}/${decision}`,
    headers,
    payload: comment === undefined ? {} : { comment },
  });
const code = (res: Injected) => res.json().code ?? res.statusCode;
const count = async (sql: string, params: unknown[] = []) => Number((await pool.query(sql, params)).rows[0].n);

await configureCompany(app, accountant);
const customer = await post(
  "/customers",
  { name: "Stadtwerke Nord", kind: "business", street: "Am Hafen 1", postalCode: "34117", city: "Kassel" },
  office,
);
const flat = (unitPriceCents: number, extra: object = {}) => ({
  position: 1,
  kind: "flat",
  description: "PV-Anlage",
  quantity: 1,
  unitPriceCents,
  vatCategory: "S",
  vatRate: 19,
  ...extra,
});
/** A draft with one line. */
async function draftOf(line: object): Promise<Json> {
  const draft = await post("/invoices", { customerId: customer.id, issueDate: "2026-11-02" });
  await post("/invoice-lines", { invoiceId: draft.id, ...line });
  return draft;
}
/** A finalised invoice (below the approval amount). */
async function invoiceOf(unitPriceCents: number): Promise<Json> {
  const draft = await draftOf(flat(unitPriceCents));
  const res = await finalise(draft.id);
  if (res.statusCode !== 200) throw new Error(`finalise: ${res.statusCode} ${res.body}`);
  return res.json() as Json;
}
const auditOf = async (id: string) =>
  (
    await pool.query(
      `SELECT op, actor_id, after->>'status' AS status FROM audit.records
       WHERE schema_name = 'ops' AND table_name = 'approval_requests' AND entity_id = $1 ORDER BY id`,
      [id],
    )
  ).rows;

t.test("the policies are data: the application reads them and cannot change them", async (t) => {
  const { rows } = await pool.query(
    `SELECT operation, trigger_kind, threshold_cents::int AS threshold, currency, approver_roles,
       extract(epoch FROM ttl)::int / 3600 AS ttl_hours FROM ops.approval_policies ORDER BY operation`,
  );
  t.same(rows, [
    {
      operation: "edge.power_limit",
      trigger_kind: "always",
      threshold: null,
      currency: null,
      approver_roles: ["admin"],
      ttl_hours: 72,
    },
    {
      operation: "invoice.cancel",
      trigger_kind: "always",
      threshold: null,
      currency: null,
      approver_roles: ["accountant", "admin"],
      ttl_hours: 72,
    },
    {
      operation: "invoice.finalise",
      trigger_kind: "amount_above",
      threshold: 1_000_000,
      currency: "EUR",
      approver_roles: ["accountant", "admin"],
      ttl_hours: 72,
    },
    {
      operation: "stock.write_off",
      trigger_kind: "always",
      threshold: null,
      currency: null,
      approver_roles: ["project_manager", "admin"],
      ttl_hours: 72,
    },
  ]);
  t.equal(await requiresApproval(pool, "invoice.finalise", { amountCents: 1_000_000 }), null, "not above: none");
  t.match(await requiresApproval(pool, "invoice.finalise", { amountCents: 1_000_001 }), {
    operation: "invoice.finalise",
    thresholdCents: 1_000_000,
    approverRoles: ["accountant", "admin"],
  });
  t.match(await requiresApproval(pool, "invoice.finalise"), { operation: "invoice.finalise" }, "no amount: held");
  t.match(await requiresApproval(pool, "invoice.cancel"), { trigger: "always" });
  t.equal(await requiresApproval(pool, "invoice.print"), null, "an operation without policy needs none");
  const client = await pool.connect();
  try {
    for (const sql of [
      "UPDATE ops.approval_policies SET approver_roles = ARRAY['office']",
      "INSERT INTO ops.approval_policies (operation, description, trigger_kind, approver_roles) VALUES ('x.y', 'x', 'always', ARRAY['office'])",
      "DELETE FROM ops.approval_policies",
      "DELETE FROM ops.approval_requests",
    ]) {
      await client.query("BEGIN; SET LOCAL ROLE steinmetz_app");
      await t.rejects(client.query(sql), { code: "42501" }, `the application role: ${sql}`);
      await client.query("ROLLBACK");
    }
  } finally {
    client.release();
  }
});

t.test("a finalisation at or below the amount needs no approval", async (t) => {
  const small = await draftOf(flat(100_000));
  const res = await finalise(small.id);
  t.equal(res.statusCode, 200, res.body);
  t.match(res.json(), { status: "finalised", grossCents: 119_000 });
  const exact = await draftOf(flat(1_000_000, { vatCategory: "Z", vatRate: 0 }));
  t.match((await finalise(exact.id)).json(), { status: "finalised", grossCents: 1_000_000 }, "exactly 10,000.00 EUR");
  t.equal(
    await count("SELECT count(*) AS n FROM ops.approval_requests WHERE subject_id = ANY($1)", [[small.id, exact.id]]),
    0,
  );
});

t.test("above the amount: held (202), finalised when another accountant approves, audited", async (t) => {
  const draft = await draftOf(flat(900_000)); // 10,710.00 EUR gross
  const held = await finalise(draft.id);
  t.equal(held.statusCode, 202, held.body);
  const { approval } = held.json();
  t.match(approval, {
    operation: "invoice.finalise",
    subject: { entity: "invoices", id: draft.id },
    status: "pending",
    facts: { amountCents: 1_071_000, currency: "EUR" },
    approverRoles: ["accountant", "admin"],
    requestedBy: platform.userId("accountant"),
    decidedBy: null,
    result: null,
  });
  t.equal(held.headers.location, `/api/v1/approvals/${approval.id}`);
  t.equal(Date.parse(approval.expiresAt) - Date.parse(approval.requestedAt), 72 * 3_600_000, "expires after 72 h");
  t.match((await get(`/invoices/${draft.id}`)).json(), { status: "draft", number: null }, "nothing finalised");
  const again = await finalise(draft.id);
  t.equal(again.statusCode, 202);
  t.equal(again.json().approval.id, approval.id, "asking again returns the pending request");

  const self = await decideOver(approval.id, "approve", accountant);
  t.equal(self.statusCode, 409);
  t.equal(code(self), "HUB_ERR_APPROVAL_SELF", "the requester cannot approve");
  const { token } = await app.authService.createApiToken(platform.userId("accountant"), { name: "script" });
  t.equal(
    code(await decideOver(approval.id, "approve", { authorization: `Bearer ${token}` })),
    "HUB_ERR_APPROVAL_SELF",
    "nor by an API token of theirs",
  );
  for (const role of ["project_manager", "office", "auditor", "technician"] as const) {
    const res = await decideOver(approval.id, "approve", platform.as(role));
    t.equal(res.statusCode, 403, `${role}: ${res.body}`);
    t.equal(code(res), "HUB_ERR_FORBIDDEN");
  }
  t.match((await get(`/approvals/${approval.id}`)).json(), { status: "pending" }, "still pending");

  const approved = await decideOver(approval.id, "approve", accountant2.headers, "geprüft");
  t.equal(approved.statusCode, 200, approved.body);
  const decided = approved.json();
  t.match(decided, {
    status: "executed",
    decidedBy: accountant2.id,
    decidedByName: "accountant-2@example.com",
    comment: "geprüft",
    decidedAt: String,
    executedAt: String,
    result: { invoiceId: draft.id, number: /^RE-2026-\d{5}$/, grossCents: 1_071_000 },
  });
  t.match((await get(`/invoices/${draft.id}`)).json(), { status: "finalised", number: decided.result.number });

  for (const decision of ["approve", "reject"] as const) {
    const twice = await decideOver(approval.id, decision, accountant2.headers, "noch einmal");
    t.equal(code(twice), "HUB_ERR_APPROVAL_CLOSED", `the approver cannot ${decision} it again`);
  }
  t.same(
    await auditOf(approval.id),
    [
      { op: "INSERT", actor_id: platform.userId("accountant"), status: "pending" },
      { op: "UPDATE", actor_id: accountant2.id, status: "approved" },
      { op: "UPDATE", actor_id: accountant2.id, status: "executed" },
    ],
    "request, decision and execution in the audit trail, each with its actor",
  );
  const finalised = await pool.query(
    `SELECT actor_id, tags FROM audit.records WHERE table_name = 'invoices' AND entity_id = $1
       AND after->>'status' = 'finalised'`,
    [draft.id],
  );
  t.same(finalised.rows, [{ actor_id: accountant2.id, tags: ["approvals", "approve"] }], "finalised by the approver");
});

t.test("a rejection does nothing; a draft changed after the request is not finalised", async (t) => {
  const draft = await draftOf(flat(2_000_000));
  const approval = (await finalise(draft.id)).json().approval;
  const lineId = (await get(`/invoices/${draft.id}`)).json().lines[0].id;
  const line = (await get(`/invoice-lines/${lineId}`)).json();
  const edit = await app.inject({
    method: "PATCH",
    url: `/api/v1/invoice-lines/${line.id}`,
    headers: { ...accountant, "if-match": `"${line.version}"` },
    payload: { unitPriceCents: 5_000_000 },
  });
  t.equal(edit.statusCode, 200, edit.body);
  const stale = await decideOver(approval.id, "approve", accountant2.headers);
  t.equal(code(stale), "HUB_ERR_APPROVAL_STALE", "what was approved is not what the draft is now");
  t.match((await get(`/approvals/${approval.id}`)).json(), { status: "pending", decidedBy: null }, "nothing decided");
  t.match((await get(`/invoices/${draft.id}`)).json(), { status: "draft" });
  t.equal(code(await finalise(draft.id)), "HUB_ERR_APPROVAL_PENDING", "a request for other lines waits for this one");

  t.equal((await decideOver(approval.id, "reject", accountant2.headers)).statusCode, 400, "a rejection says why");
  const rejected = await decideOver(approval.id, "reject", accountant2.headers, "Preis geändert");
  t.equal(rejected.statusCode, 200, rejected.body);
  t.match(rejected.json(), { status: "rejected", comment: "Preis geändert", result: null, executedAt: null });
  t.match((await get(`/invoices/${draft.id}`)).json(), { status: "draft", number: null }, "still a draft");
  t.equal(await count("SELECT count(*) AS n FROM erp.invoice_documents WHERE invoice_id = $1", [draft.id]), 0);
  t.same(
    (await auditOf(approval.id)).map((r) => [r.op, r.actor_id, r.status]),
    [
      ["INSERT", platform.userId("accountant"), "pending"],
      ["UPDATE", accountant2.id, "rejected"],
    ],
  );
  const anew = await finalise(draft.id);
  t.equal(anew.statusCode, 202);
  t.not(anew.json().approval.id, approval.id, "after the rejection it can be asked for again");
  t.match(anew.json().approval.facts, { amountCents: 5_950_000 });
});

t.test("cancellation: always held; 20 concurrent approvals carry it out exactly once", async (t) => {
  const invoice = await invoiceOf(50_000);
  const requests = await Promise.all(
    Array.from({ length: 5 }, () => post(`/invoices/${invoice.id}/cancel`, { notes: "Storno" }, accountant, 202)),
  );
  const ids = new Set(requests.map((r) => (r.approval as Json).id));
  t.equal(ids.size, 1, "concurrent identical requests: one pending request");
  const [id] = [...ids] as [string];
  t.match(requests[0]?.approval, {
    operation: "invoice.cancel",
    facts: { number: invoice.number, amountCents: 59_500 },
  });
  t.equal(
    await count("SELECT count(*) AS n FROM erp.invoices WHERE corrects_id = $1", [invoice.id]),
    0,
    "no credit note",
  );
  const race = await Promise.all(Array.from({ length: 20 }, () => decideOver(id, "approve", accountant2.headers)));
  t.same(race.map(code).sort(), [200, ...Array(19).fill("HUB_ERR_APPROVAL_CLOSED")], "one executes, 19 find it closed");
  const done = race.find((r) => r.statusCode === 200)?.json();
  t.match(done, {
    status: "executed",
    result: { creditNoteId: String, number: /^GS-2026-\d{5}$/, grossCents: 59_500 },
  });
  t.equal(await count("SELECT count(*) AS n FROM erp.invoices WHERE corrects_id = $1", [invoice.id]), 1);
  t.match((await get(`/invoices/${done.result.creditNoteId}`)).json(), {
    typeCode: 381,
    status: "finalised",
    correctsId: invoice.id,
    notes: "Storno",
  });
  t.equal(
    await count(
      "SELECT count(*) AS n FROM audit.records WHERE table_name = 'approval_requests' AND entity_id = $1 AND op = 'UPDATE'",
      [id],
    ),
    2,
    "approved and executed once each",
  );
  const nothingLeft = await post(`/invoices/${invoice.id}/cancel`, {}, accountant, 409);
  t.equal(nothingLeft.code, "HUB_ERR_ALREADY_CREDITED", "a request that could not be carried out is refused at once");
  t.equal(
    await count("SELECT count(*) AS n FROM ops.approval_requests WHERE subject_id = $1", [invoice.id]),
    1,
    "and not recorded",
  );
});

t.test("the database refuses self-decisions, second decisions and forged requests, whoever writes", async (t) => {
  const invoice = await invoiceOf(10_000);
  const { approval } = await post(`/invoices/${invoice.id}/cancel`, {}, accountant, 202);
  const id = (approval as Json).id;
  const refusal = (sql: string, params: unknown[] = []) =>
    pool.query(sql, params).then(
      () => "accepted",
      (err) => err.constraint ?? err.message,
    );
  t.equal(
    await refusal(
      "UPDATE ops.approval_requests SET status = 'approved', decided_by = requested_by, decided_at = now() WHERE id = $1",
      [id],
    ),
    "approval_requests_not_self",
    "the owner cannot approve it as the requester",
  );
  t.equal(
    await refusal(
      `INSERT INTO ops.approval_requests (operation, subject_type, subject_id, requested_by, status, decided_by, decided_at)
       VALUES ('invoice.cancel', 'invoices', gen_random_uuid()::text, 'a', 'approved', 'b', now())`,
    ),
    "approval_requests_decided",
    "a request starts pending",
  );
  t.equal(
    await refusal(
      "INSERT INTO ops.approval_requests (operation, subject_type, subject_id, requested_by) VALUES ('invoice.cancel', 'invoices', $1, 'someone')",
      [invoice.id],
    ),
    "approval_requests_one_pending",
    "one pending request per operation and subject",
  );
  t.equal(
    await refusal("UPDATE ops.approval_requests SET payload = '{\"lines\": []}' WHERE id = $1", [id]),
    "approval_requests_immutable",
    "what is asked for never changes",
  );
  t.equal(
    await refusal(
      "UPDATE ops.approval_requests SET status = 'executed', executed_at = now(), result = '{}' WHERE id = $1",
      [id],
    ),
    "approval_requests_decided",
    "nothing is carried out before it is approved",
  );
  t.equal((await decideOver(id, "reject", accountant2.headers, "falsch")).statusCode, 200);
  for (const status of ["approved", "pending", "rejected"]) {
    t.equal(
      await refusal(
        "UPDATE ops.approval_requests SET status = $2, decided_by = 'x', decided_at = now(), comment = 'x' WHERE id = $1",
        [id, status],
      ),
      "approval_requests_decided",
      `a rejected request does not become ${status}`,
    );
  }
});

t.test(
  "expiry: a request past expires_at reads expired, cannot be approved, and is marked by expireApprovals",
  async (t) => {
    const invoice = await invoiceOf(20_000);
    const { approval } = await post(`/invoices/${invoice.id}/cancel`, {}, accountant, 202);
    const id = (approval as Json).id;
    await pool.query("UPDATE ops.approval_requests SET expires_at = now() - interval '1 minute' WHERE id = $1", [id]);
    t.match((await get(`/approvals/${id}`)).json(), { status: "expired" }, "reads as expired at once");
    t.equal(
      (await pool.query("SELECT status FROM ops.approval_requests WHERE id = $1", [id])).rows[0].status,
      "pending",
    );
    const late = await decideOver(id, "approve", accountant2.headers);
    t.equal(code(late), "HUB_ERR_APPROVAL_CLOSED");
    t.match(late.json().detail, /expired/);
    t.equal(code(await decideOver(id, "reject", accountant2.headers, "zu spät")), "HUB_ERR_APPROVAL_CLOSED");
    const direct = await pool
      .query(
        "UPDATE ops.approval_requests SET status = 'approved', decided_by = 'someone-else', decided_at = now() WHERE id = $1",
        [id],
      )
      .catch((err) => err.constraint);
    t.equal(direct, "approval_requests_expired", "the database refuses to approve it too");
    t.equal(await count("SELECT count(*) AS n FROM erp.invoices WHERE corrects_id = $1", [invoice.id]), 0, "not done");
    t.ok((await expireApprovals(pool)) >= 1, "expireApprovals marks it");
    t.match(
      (await pool.query("SELECT status, decided_at, decided_by FROM ops.approval_requests WHERE id = $1", [id]))
        .rows[0],
      {
        status: "expired",
        decided_at: Date,
        decided_by: null,
      },
    );
    t.equal(await expireApprovals(pool), 0, "once");
    const again = await post(`/invoices/${invoice.id}/cancel`, {}, accountant, 202);
    t.not((again.approval as Json).id, id, "a new request may be made for the subject");
    await pool.query("UPDATE ops.approval_requests SET expires_at = now() - interval '1 second' WHERE id = $1", [
      (again.approval as Json).id,
    ]);
    const third = await post(`/invoices/${invoice.id}/cancel`, { notes: "neu" }, accountant, 202);
    t.not((third.approval as Json).id, (again.approval as Json).id, "an expired one not yet marked does not block");
    t.equal(
      (await pool.query("SELECT status FROM ops.approval_requests WHERE id = $1", [(again.approval as Json).id]))
        .rows[0].status,
      "expired",
      "it was marked when the new one was asked for",
    );
  },
);

t.test("listing: newest first, by status and operation, what I may decide, in pages; who may read", async (t) => {
  const page = await get("/approvals?status=pending&operation=invoice.cancel&limit=2");
  t.equal(page.statusCode, 200, page.body);
  const items = page.json().items as Json[];
  t.ok(items.length >= 1);
  t.ok(items.every((i) => i.status === "pending" && i.operation === "invoice.cancel"));
  const all = (await get("/approvals?limit=500")).json().items as Array<{ requestedAt: string }>;
  t.same(
    all.map((i) => i.requestedAt),
    [...all.map((i) => i.requestedAt)].sort().reverse(),
    "newest first",
  );
  const paged: string[] = [];
  let cursor: string | null = null;
  do {
    const res: Injected = await get(`/approvals?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
    paged.push(...(res.json().items as Json[]).map((i) => i.id));
    cursor = res.json().nextCursor;
  } while (cursor);
  t.same(
    paged,
    (all as unknown as Json[]).map((i) => i.id),
    "pages give every request once, in order",
  );
  const mine = (await get("/approvals?decidable=true")).json().items as Json[];
  t.same(mine, [], "the accountant asked for every pending one: none to decide");
  const theirs = (await get("/approvals?decidable=true", accountant2.headers)).json().items as Json[];
  t.ok(theirs.length >= 1 && theirs.every((i) => i.status === "pending"), "the second accountant has some");
  t.same((await get("/approvals?decidable=true", platform.as("project_manager"))).json().items, [], "none of billing");
  t.equal((await get("/approvals", platform.as("auditor"))).statusCode, 200, "the auditor reads them");
  t.equal((await get("/approvals", platform.as("technician"))).statusCode, 403);
  t.equal((await get("/approvals", office)).statusCode, 403);
  t.equal((await get("/approvals?cursor=nope")).json().code, "HUB_ERR_BAD_CURSOR");
  t.equal((await get("/approvals/00000000-0000-4000-8000-000000000000")).statusCode, 404);
  const openapi = (await app.inject({ method: "GET", url: "/api/v1/openapi.json" })).json();
  t.ok(openapi.paths["/api/v1/approvals/{id}/approve"]?.post, "in the OpenAPI document");
  t.ok(openapi.paths["/api/v1/stock-movements"]?.post?.responses?.["202"], "a held write-off is documented");
  t.ok(openapi.paths["/api/v1/invoices/{id}/cancel"]?.post?.responses?.["202"]);
});

t.test("an operation without executor stays approved until it is carried out", async (t) => {
  // a policy of its own: every shipped operation has its executor (the edge power limit queues its command)
  await pool.query(
    `INSERT INTO ops.approval_policies (operation, description, trigger_kind, approver_roles)
     VALUES ('test.manual_step', 'Carried out by hand', 'always', ARRAY['admin'])`,
  );
  const admin2 = await secondUser("admin");
  const admin: Principal = { id: platform.userId("admin"), kind: "user", name: "admin@example.com", roles: ["admin"] };
  const inTx = <T>(principal: Principal, work: (tx: Parameters<typeof requestApproval>[0]) => Promise<T>) =>
    inAuditedTransaction(pool, { actorId: principal.id, actorName: principal.name }, work);
  const request = await inTx(admin, (tx) =>
    requestApproval(tx, {
      operation: "test.manual_step",
      subject: { entity: "edges", id: "edge-1" },
      payload: { limitWatts: 7_000 },
      facts: {},
      principal: admin,
    }),
  );
  t.match(request, { status: "pending", approverRoles: ["admin"] });
  await t.rejects(
    inTx(admin, (tx) => decide(tx, request.id, admin, "approve")),
    { code: "HUB_ERR_APPROVAL_SELF" },
  );
  await t.rejects(
    inTx(accountant2.principal, (tx) => decide(tx, request.id, accountant2.principal, "approve")),
    {
      code: "HUB_ERR_FORBIDDEN",
    },
  );
  const approved = await inTx(admin2.principal, (tx) => decide(tx, request.id, admin2.principal, "approve", "ok"));
  t.match(approved, { status: "approved", decidedBy: admin2.id, executedAt: null });
  t.match(await approvalStatus(pool, request.id), { status: "approved", result: null }, "what a saga step polls");
  const executed = await inTx(admin2.principal, (tx) => markExecuted(tx, request.id, { acknowledged: true }));
  t.match(executed, { status: "executed", result: { acknowledged: true } });
  await t.rejects(
    inTx(admin2.principal, (tx) => markExecuted(tx, request.id, {})),
    { code: "HUB_ERR_APPROVAL_CLOSED" },
    "once",
  );
  await t.rejects(approvalStatus(pool, "00000000-0000-4000-8000-000000000000"), { code: "HUB_ERR_NOT_FOUND" });
});

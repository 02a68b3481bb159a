/**
 * Service tickets and time bookings on a real PostgreSQL: tickets the hub opens itself for device
 * faults and silence (one open ticket per cause, also under concurrency; recovery noted, closing
 * left to people), the ticket workflow, and closed periods no route, role or SQL role can change,
 * with every refused attempt audited and no booking slipping into a month while it is closed.
 */
import t, { type Test } from "tap";
import { tickets } from "../src/erp/service/entities.js";
import { checkSilence, recordDeviceStates } from "../src/erp/service/monitor.js";
import { ROLES } from "../src/platform/principal.js";
import { startPlatform } from "./fixtures/platform.js";

const platform = await startPlatform({ poolMax: 30 });
t.teardown(() => platform.close());
const { app, pool } = platform;
const office = platform.as("office");
const tech = platform.as("technician");

type Injected = Awaited<ReturnType<typeof app.inject>>;
type Json = Record<string, unknown> & { id: string; version: number };
const json = (res: Injected) => res.json() as Json;

async function setup(url: string, payload: object, headers = office): Promise<Json> {
  const res = await app.inject({ method: "POST", url: `/api/v1${url}`, headers, payload });
  if (res.statusCode !== 201) throw new Error(`POST ${url}: ${res.statusCode} ${res.body}`);
  return json(res);
}
const transition = (id: string, version: number, to: string, headers = office) =>
  app.inject({
    method: "POST",
    url: `/api/v1/tickets/${id}/transitions`,
    headers: { ...headers, "if-match": `"${version}"` },
    payload: { to },
  });
const openTickets = async (cause: string) =>
  (
    await pool.query(
      "SELECT id, site_id, device_id, occurrences, recovered_at, status, version FROM erp.tickets WHERE cause = $1 AND status NOT IN ('closed', 'cancelled')",
      [cause],
    )
  ).rows;

const customer = await setup("/customers", { name: "Service KG" });
const site = await setup("/sites", { customerId: customer.id, name: "Service-Dach" });
await setup("/gateways", { siteId: site.id, edgeId: "edge-svc" });
const inverter = await setup("/devices", { siteId: site.id, kind: "inverter", serialNumber: "SN-SVC-1" });
await pool.query("INSERT INTO raw.edges (edge_id) VALUES ('edge-svc'), ('edge-quiet')");
await pool.query("UPDATE erp.devices SET edge_id = 'edge-svc', device_id = 'inv-1' WHERE id = $1", [inverter.id]);
const project = await setup("/projects", { customerId: customer.id, title: "Wartung", kind: "maintenance" });

t.test("a manual ticket: SLA from its priority, the workflow's transitions", async (t) => {
  const ticket = await setup("/tickets", { title: "Wechselrichter piept", siteId: site.id, priority: "critical" });
  t.match(ticket, { number: /^T-\d{5}$/, status: "new", source: "manual", cause: null });
  t.equal(Date.parse(String(ticket.slaDueAt)) - Date.parse(String(ticket.createdAt)), 4 * 3_600_000, "critical: 4 h");
  const workflow = tickets.workflow as NonNullable<typeof tickets.workflow>;
  const states = (tickets.fields.status?.options ?? []).map((o) => o.value);
  for (const from of states) {
    const allowed = workflow.transitions.filter((x) => x.from.includes(from)).map((x) => x.to);
    for (const to of states) {
      const one = await setup("/tickets", { title: `${from}→${to}` });
      await pool.query("UPDATE erp.tickets SET status = $2, version = version + 1 WHERE id = $1", [one.id, from]);
      const res = await transition(one.id, 2, to, tech);
      if (allowed.includes(to)) t.equal(res.statusCode, 200, `${from} → ${to}`);
      else {
        t.equal(res.statusCode, 409, `${from} → ${to} refused`);
        t.match(res.json(), { code: "HUB_ERR_TRANSITION_NOT_ALLOWED" });
      }
    }
  }
  t.equal(
    (await transition(ticket.id, 1, "assigned", platform.as("accountant"))).statusCode,
    403,
    "accountants read no tickets",
  );
});

t.test(
  "a device fault opens one ticket per cause; a repeat counts; recovery is noted, closing is people's",
  async (t) => {
    const fault = {
      edgeId: "edge-svc",
      deviceId: "inv-1",
      to: "fault",
      errorCode: "EDGE_ERR_MODBUS_TIMEOUT",
      errorMessage: "no answer within 1000 ms",
      at: new Date(),
    };
    t.match(await recordDeviceStates(pool, [fault]), { opened: 1 });
    const cause = "fault:edge-svc/inv-1:EDGE_ERR_MODBUS_TIMEOUT";
    let open = await openTickets(cause);
    t.equal(open.length, 1);
    t.match(open[0], { site_id: site.id, device_id: inverter.id, occurrences: 1, recovered_at: null });
    t.match(await recordDeviceStates(pool, [fault]), { opened: 0, repeated: 1 }, "the same fault again");
    t.match(
      await recordDeviceStates(pool, [{ ...fault, errorCode: "EDGE_ERR_MODBUS_EXCEPTION" }]),
      { opened: 1 },
      "another code, another cause",
    );
    t.match(await recordDeviceStates(pool, [{ ...fault, to: "ok", at: new Date() }]), { recovered: 2 });
    open = await openTickets(cause);
    t.equal(open.length, 1);
    t.match(open[0], { occurrences: 2, status: "new" });
    t.ok(open[0].recovered_at, "recovery noted; the ticket stays open");
    const { rows: audit } = await pool.query(
      "SELECT DISTINCT actor_id FROM audit.records WHERE table_name = 'tickets' AND entity_id = $1",
      [open[0].id],
    );
    t.same(audit, [{ actor_id: "system:monitoring" }]);
    // people resolve and close it; the next fault opens a new one
    t.equal((await transition(open[0].id, open[0].version, "resolved")).statusCode, 200);
    t.equal((await transition(open[0].id, open[0].version + 1, "closed")).statusCode, 200);
    t.match(await recordDeviceStates(pool, [fault]), { opened: 1 }, "after closing, a new ticket");
    const unlinked = await recordDeviceStates(pool, [{ ...fault, deviceId: "meter-9" }]);
    t.equal(unlinked.opened, 1);
    t.match(
      (await openTickets("fault:edge-svc/meter-9:EDGE_ERR_MODBUS_TIMEOUT"))[0],
      { site_id: site.id, device_id: null },
      "site from the gateway",
    );
  },
);

t.test("20 concurrent reports of one fault: exactly one open ticket", async (t) => {
  const fault = { edgeId: "edge-svc", deviceId: "inv-1", to: "fault", errorCode: "EDGE_ERR_RACE", at: new Date() };
  const results = await Promise.all(Array.from({ length: 20 }, () => recordDeviceStates(pool, [fault])));
  t.equal(
    results.reduce((n, r) => n + r.opened, 0),
    1,
    "one opened",
  );
  t.equal(
    results.reduce((n, r) => n + r.repeated, 0),
    19,
    "19 counted on it",
  );
  t.match(await openTickets("fault:edge-svc/inv-1:EDGE_ERR_RACE"), [{ occurrences: 20 }]);
});

t.test("silence: an edge or a linked device without data beyond the threshold opens one ticket", async (t) => {
  await pool.query("UPDATE raw.edges SET last_seen_at = now() - interval '2 hours' WHERE edge_id = 'edge-quiet'");
  await pool.query("UPDATE raw.edges SET last_seen_at = now() WHERE edge_id = 'edge-svc'");
  const first = await checkSilence(pool, 3_600_000);
  t.equal(first.opened, 2, "the quiet edge, and the linked inverter of a reporting edge that sent no reading");
  t.equal((await openTickets("silence:edge:edge-quiet")).length, 1);
  t.match(await openTickets("silence:device:edge-svc/inv-1"), [{ device_id: inverter.id, site_id: site.id }]);
  t.match(await checkSilence(pool, 3_600_000), { opened: 0 }, "a second pass opens nothing");
  const twice = await Promise.all([checkSilence(pool, 3_600_000), checkSilence(pool, 3_600_000)]);
  t.equal(twice[0].opened + twice[1].opened, 0);
  await pool.query("UPDATE raw.edges SET last_seen_at = now() WHERE edge_id = 'edge-quiet'");
  t.match(await checkSilence(pool, 3_600_000), { recovered: 1 });
  t.ok((await openTickets("silence:edge:edge-quiet"))[0]?.recovered_at, "noted, still open");
});

async function book(workDate: string, hours: number, headers = tech, extra: object = {}) {
  return app.inject({
    method: "POST",
    url: "/api/v1/time-bookings",
    headers,
    payload: { projectId: project.id, workDate, hours, ...extra },
  });
}

t.test("bookings: the user by default, corrections only as counter-bookings", async (t) => {
  const res = await book("2026-11-10", 7.5);
  t.equal(res.statusCode, 201, res.body);
  t.match(json(res), { userId: platform.userId("technician"), hours: 7.5, workDate: "2026-11-10" });
  t.match((await book("2026-11-11", -2)).json(), { code: "HUB_ERR_VALIDATION", problems: [{ path: "/hours" }] });
  t.match(
    (await book("2026-11-11", 2, tech, { ticketId: json(res).id })).json(),
    { code: "HUB_ERR_VALIDATION" },
    "project and ticket",
  );
});

t.test("a closed month: no route, role or SQL role changes its bookings; every attempt audited", async (t) => {
  const booking = json(await book("2026-11-12", 4));
  const december = json(await book("2026-12-01", 3));
  t.equal(
    (await app.inject({ method: "POST", url: "/api/v1/periods", headers: tech, payload: { month: "2026-11" } }))
      .statusCode,
    403,
  );
  const close = await app.inject({
    method: "POST",
    url: "/api/v1/periods",
    headers: platform.as("accountant"),
    payload: { month: "2026-11" },
  });
  t.equal(close.statusCode, 201, close.body);
  t.match(close.json(), { month: "2026-11", bookings: 2, hours: 11.5, closedBy: platform.userId("accountant") });
  const again = await app.inject({
    method: "POST",
    url: "/api/v1/periods",
    headers: platform.as("admin"),
    payload: { month: "2026-11" },
  });
  t.equal(again.json().code, "HUB_ERR_PERIOD_CLOSED");
  const refusedBefore = Number(
    (await pool.query("SELECT count(*) FROM audit.records WHERE op = 'REFUSED'")).rows[0].count,
  );
  let attempts = 0;
  for (const role of ROLES) {
    const headers = platform.as(role);
    const tries: Array<Promise<Injected>> = [
      book("2026-11-13", 1, headers, { userId: platform.userId("technician") }),
      app.inject({
        method: "PATCH",
        url: `/api/v1/time-bookings/${booking.id}`,
        headers: { ...headers, "if-match": `"${booking.version}"` },
        payload: { hours: 5 },
      }),
      app.inject({
        method: "DELETE",
        url: `/api/v1/time-bookings/${booking.id}`,
        headers: { ...headers, "if-match": `"${booking.version}"` },
      }),
      app.inject({
        method: "PATCH",
        url: `/api/v1/time-bookings/${december.id}`,
        headers: { ...headers, "if-match": `"${december.version}"` },
        payload: { workDate: "2026-11-30" },
      }),
    ];
    for (const res of await Promise.all(tries)) {
      const code = res.json().code;
      t.ok(["HUB_ERR_PERIOD_CLOSED", "HUB_ERR_FORBIDDEN"].includes(code), `${role}: ${res.statusCode} ${code}`);
      if (code === "HUB_ERR_PERIOD_CLOSED") {
        attempts++;
        t.equal(res.statusCode, 409);
        t.match(res.json(), { problems: [{ path: "/workDate" }] });
      }
    }
  }
  t.ok(attempts >= 8, `${attempts} attempts reached the database (admin, project manager, technician)`);
  const { rows } = await pool.query(
    "SELECT count(*)::int AS n, array_agg(DISTINCT actor_id) AS actors FROM audit.records WHERE op = 'REFUSED' AND table_name = 'time_bookings'",
  );
  t.equal(rows[0].n - refusedBefore, attempts, "each refused attempt is in the audit trail");
  t.ok(rows[0].actors.includes(platform.userId("admin")), "also the admin's");
  await t.rejects(
    pool.query("UPDATE erp.time_bookings SET hours = 1 WHERE id = $1", [booking.id]),
    /period 2026-11 is closed/,
    "not even the owner in SQL",
  );
  await t.rejects(pool.query("DELETE FROM erp.periods"), /append-only/, "a period is never reopened");
  const correction = await book("2026-12-02", -4, tech, { correctsId: booking.id, description: "Nov. 12 was 0 h" });
  t.equal(correction.statusCode, 201, "the correction goes into an open month");
  t.match((await pool.query("SELECT hours::float FROM erp.time_bookings WHERE id = $1", [booking.id])).rows[0], {
    hours: 4,
  });
});

t.test("closing a month while bookings for it arrive: none slips in after the close", async (t: Test) => {
  const pm = platform.as("project_manager");
  const bookings: Array<Promise<Injected>> = [];
  let closing: Promise<Injected> | undefined;
  for (let i = 0; i < 40; i++) {
    bookings.push(book(`2026-10-${String(1 + (i % 28)).padStart(2, "0")}`, 1, i % 2 ? tech : pm));
    if (i === 20) {
      const headers = platform.as("accountant");
      closing = app.inject({ method: "POST", url: "/api/v1/periods", headers, payload: { month: "2026-10" } });
    }
  }
  const booked = await Promise.all(bookings);
  const closed = (await closing) as Injected;
  t.equal(closed.statusCode, 201);
  t.ok(
    booked.every((r) => r.statusCode === 201 || r.json().code === "HUB_ERR_PERIOD_CLOSED"),
    "booked or refused as closed",
  );
  const ok = booked.filter((r) => r.statusCode === 201).length;
  const { rows } = await pool.query(
    "SELECT count(*)::int AS n, coalesce(sum(hours), 0)::float AS h FROM erp.time_bookings WHERE work_date >= '2026-10-01' AND work_date < '2026-11-01'",
  );
  t.same(rows[0], { n: ok, h: ok }, "what was acknowledged is what is stored");
  t.match(closed.json(), { bookings: ok, hours: ok }, "and what the month summed to when it was closed");
});

t.test(
  "GET /sites/{id}: gateways, each device with its link, reported state and latest readings, open tickets",
  async (t) => {
    await pool.query(
      `INSERT INTO raw.edge_devices (edge_id, device_id, profile, device_class, serial_number, firmware, state, state_since, last_error_code, last_error_message)
     VALUES ('edge-svc', 'inv-1', 'inverter/sunspec-inverter-tcp', 'inverter', 'SN-SVC-1', '1.2.3', 'fault', now(), 'EDGE_ERR_MODBUS_TIMEOUT', 'no answer')`,
    );
    const { rows } = await pool.query(
      "INSERT INTO raw.series (edge_id, device_id, point) VALUES ('edge-svc', 'inv-1', 'active_power'), ('edge-svc', 'inv-1', 'energy_exported') RETURNING series_id",
    );
    for (const [i, r] of rows.entries()) {
      await pool.query(
        "INSERT INTO raw.readings (series_id, seq, ts, value, quality, clock_synced) VALUES ($1, $2, now() - interval '1 minute', 1, 1, true), ($1, $3, now(), $4, 1, true)",
        [r.series_id, 10 + i * 2, 11 + i * 2, 4200 + i],
      );
    }
    const res = await app.inject({ method: "GET", url: `/api/v1/sites/${site.id}`, headers: tech });
    t.equal(res.statusCode, 200);
    const body = res.json();
    t.match(body, { id: site.id, name: "Service-Dach", gateways: [{ edgeId: "edge-svc" }] });
    t.ok(body.openTickets >= 2, `${body.openTickets} open tickets`);
    t.match(body.devices, [
      {
        id: inverter.id,
        serialNumber: "SN-SVC-1",
        link: { edgeId: "edge-svc", deviceId: "inv-1" },
        state: { state: "fault", errorCode: "EDGE_ERR_MODBUS_TIMEOUT", firmware: "1.2.3" },
        latest: [
          { point: "active_power", value: 4200, quality: "good" },
          { point: "energy_exported", value: 4201, quality: "good" },
        ],
      },
    ]);
    t.equal(res.headers.etag, `"${body.version}"`);
  },
);

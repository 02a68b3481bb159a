/**
 * The hub's web app in a real browser (Chromium from @sparticuz/chromium, driven by playwright-core)
 * against a real hub and PostgreSQL on 127.0.0.1: login (a wrong password first), the generic list
 * (filter, sort, quick search, pages, a shared link, column choice, CSV export opened and checked),
 * a create with validation errors, an edit meeting a 412 (reapplied), a workflow transition from
 * the stage bar and in bulk, the command palette and the shortcut help, a viewer-only user who
 * sees no edit controls and gets 403, German and English. axe-core checks every page for serious
 * and critical violations; no request leaves the hub's origin and no page error reaches the
 * console. Screenshots at 1280 and 360 px go to .artifacts/hub-app/ (not committed).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { AuthService } from "@steinmetz/hub";
import type { BrowserContext, Page } from "playwright-core";
import { Registry } from "prom-client";
import t, { type Test } from "tap";
import { openPool } from "../../hub/src/db/pool.js";
import { qualityHook } from "../../hub/src/warehouse/quality.js";
import { runWarehouse } from "../../hub/src/warehouse/runner.js";
import { seller } from "../../hub/test/fixtures/billing-documents.js";
import { artifactsDir, launchBrowser } from "../support/browser.js";
import { log, startDatabase, startTestHub, waitFor } from "../support/harness.js";

const db = await startDatabase();
t.teardown(() => db.stop());
const hub = await startTestHub(db.url);
t.teardown(() => hub.close());
const browser = await launchBrowser();
t.teardown(() => browser.close());

const pool = openPool({ connectionString: db.url, max: 2 }, log);
t.teardown(() => pool.end());
const auth = new AuthService(pool);
const PASSWORD = "Sonnenstrom 2026!";
const office = await auth.createUser({
  email: "buero@example.com",
  displayName: "Olga Office",
  roles: ["office"],
  password: PASSWORD,
});
await auth.createUser({
  email: "pruefer@example.com",
  displayName: "Paul Prüfer",
  roles: ["auditor"],
  password: PASSWORD,
});
const { token } = await auth.createApiToken(office.id, { name: "test" });
const origin = hub.httpUrl;

/** The hub's API as the office user (a bearer token: no CSRF). */
async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${origin}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, etag: res.headers.get("etag"), body: text ? JSON.parse(text) : undefined };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const shots = artifactsDir("hub-app");
let shotNumber = 0;

/** A browser context whose every request stays on the hub's origin, and the console's errors. */
async function openContext(
  width: number,
): Promise<{ context: BrowserContext; page: Page; errors: string[]; foreign: string[] }> {
  const context = await browser.newContext({
    viewport: { width, height: 900 },
    locale: "de-DE",
    acceptDownloads: true,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  const foreign: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("request", (req) => {
    if (!req.url().startsWith(`${origin}/`) && !req.url().startsWith("blob:") && !req.url().startsWith("data:"))
      foreign.push(req.url());
  });
  return { context, page, errors, foreign };
}

/** Serious and critical axe-core violations on the page as it is now, and a screenshot of it. */
async function audit(t: Test, page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${String(++shotNumber).padStart(2, "0")}-${name}.png`), fullPage: true });
  type Violation = { id: string; impact: string; nodes: { target: string[] }[] };
  // axe-core's source evaluated in the page (the CSP keeps inline scripts out, not the test's own)
  const violations = (await page.evaluate(`(async () => {
    if (!window.axe) new Function(${JSON.stringify(axeSource)})();
    return (await window.axe.run({ resultTypes: ["violations"] })).violations;
  })()`)) as Violation[];
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  t.same(
    bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`),
    [],
    `${name}: no serious or critical accessibility violations`,
  );
}

async function login(page: Page, email: string) {
  await page.goto(`${origin}/`);
  await page.getByTestId("email").fill(email);
  await page.getByTestId("password").fill(PASSWORD);
  await page.getByTestId("login").click();
  await page.getByTestId("user").waitFor();
}

const { page, errors, foreign, context } = await openContext(1280);
t.teardown(() => context.close());

t.test("login: a wrong password is refused in German, the right one enters", async (t) => {
  await page.goto(`${origin}/`);
  t.equal(await page.locator("html").getAttribute("lang"), "de");
  await page.getByRole("heading", { name: "Anmelden beim Hub" }).waitFor();
  await audit(t, page, "login");
  await page.getByTestId("email").fill("buero@example.com");
  await page.getByTestId("password").fill("falsch falsch falsch");
  await page.getByTestId("login").click();
  t.match(await page.getByTestId("error").textContent(), /E-Mail oder Passwort stimmt nicht/);
  await page.getByTestId("password").fill(PASSWORD);
  await page.getByTestId("login").click();
  t.equal(await page.getByTestId("user").textContent(), "Olga Office");
  t.ok(await page.getByTestId("tile-customers").isVisible(), "the office sees the customers");
  await audit(t, page, "home");
  // a reload keeps the session and what it needs to write (the CSRF token comes from /auth/me)
  await page.reload();
  await page.getByTestId("user").waitFor();
});

t.test("create: the form checks itself as the hub declares, then saves", async (t) => {
  await page.getByTestId("nav-customers").click();
  await page.getByTestId("new-record").click();
  await page.getByTestId("save").click();
  t.equal(await page.getByTestId("error-f-name").textContent(), "Pflichtfeld", "the name is required");
  await page.getByTestId("f-name").fill("Sonnenhof GmbH");
  await page.getByTestId("f-email").fill("kein-at-zeichen");
  t.equal(await page.getByTestId("error-f-email").textContent(), "Keine gültige E-Mail-Adresse", "checked as typed");
  await audit(t, page, "customer-new-invalid");
  await page.getByTestId("f-email").fill("info@sonnenhof.example");
  await page.getByTestId("f-kind").selectOption("business");
  await page.getByTestId("save").click();
  await page.getByRole("heading", { name: "Kunde: Sonnenhof GmbH" }).waitFor();
  t.match(page.url(), /#\/e\/customers\/[0-9a-f-]{36}$/);
  const id = page.url().split("/").at(-1) as string;
  const stored = await api("GET", `/customers/${id}`);
  t.match(stored.body, { name: "Sonnenhof GmbH", email: "info@sonnenhof.example", kind: "business" });
});

t.test("edit: a 412 shows what changed meanwhile; my change is applied on top", async (t) => {
  const id = page.url().split("/").at(-1) as string;
  await page.getByTestId("f-city").fill("Kassel");
  // someone else changes the phone meanwhile
  const before = await api("GET", `/customers/${id}`);
  t.equal(
    (await api("PATCH", `/customers/${id}`, { phone: "0561 123" }, { "if-match": before.etag as string })).status,
    200,
  );
  await page.getByTestId("save").click();
  const dialog = page.getByTestId("conflict");
  await dialog.getByRole("heading", { name: "Inzwischen geändert" }).waitFor();
  t.match(await dialog.textContent(), /0561 123/, "what is saved now");
  t.match(await dialog.textContent(), /Kassel/, "what I typed");
  await audit(t, page, "conflict");
  await page.getByTestId("conflict-reapply").click();
  await page.getByTestId("save").click();
  await page.getByText("Gespeichert").waitFor();
  t.match((await api("GET", `/customers/${id}`)).body, { city: "Kassel", phone: "0561 123" }, "neither change is lost");
  // the timeline: both changes with who made them, and a comment
  const timeline = page.getByTestId("timeline");
  await waitFor("my change in the timeline", async () => (await timeline.locator('[data-field="city"]').count()) === 1);
  t.match(await timeline.locator('[data-field="city"]').textContent(), /Ort: – → Kassel/);
  t.match(await timeline.locator('[data-field="phone"]').textContent(), /Telefon: – → 0561 123/);
  t.match(await timeline.locator('li[data-op="INSERT"]').textContent(), /buero@example\.com.*angelegt/s);
  await page.getByLabel("Kommentar").fill("Kunde möchte Rückruf am Vormittag.");
  await page.getByTestId("add-comment").click();
  await timeline.locator('li[data-kind="comment"]').waitFor();
  t.match(await timeline.locator('li[data-kind="comment"]').first().textContent(), /Rückruf am Vormittag/);
  const history = await api("GET", `/customers/${id}/timeline`);
  t.equal(history.body.items[0].kind, "comment", "newest first");
});

t.test("list: filter, sort, search and pages in the URL; columns; CSV for German Excel", async (t) => {
  for (let i = 1; i <= 55; i++) {
    const res = await api("POST", "/customers", {
      name: `Kunde ${String(i).padStart(2, "0")}`,
      kind: i % 5 === 0 ? "private" : "business",
      city: i % 2 ? "Kassel" : "Fulda",
    });
    if (res.status !== 201) throw new Error(`customer ${i}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  await page.goto(`${origin}/#/e/customers`);
  await page.getByTestId("list-table").waitFor();
  t.equal(await page.getByTestId("row").count(), 50, "the first page");
  await page.getByTestId("next-page").click();
  await waitFor("the second page", async () => (await page.getByTestId("row").count()) === 6);

  await page.getByTestId("filter-kind").selectOption("private");
  await waitFor("filtered rows", async () => (await page.getByTestId("row").count()) === 11);
  t.match(page.url(), /kind=private/, "the filter is in the URL");
  await page.getByTestId("sort-name").click();
  await waitFor("sorted by name", async () => /sort=name/.test(page.url()));
  const names = await page.locator('[data-testid="row"] td[data-field="name"]').allTextContents();
  t.same(
    names,
    [...names].sort((a, b) => a.localeCompare(b, "de")),
    "sorted by name",
  );
  await page.getByTestId("sort-name").click();
  await waitFor("descending", async () => /sort=-name/.test(page.url()));
  await page.getByTestId("quick-search").fill("Kunde 1");
  await page.getByTestId("quick-search").press("Enter");
  await waitFor("searched", async () => (await page.getByTestId("row").count()) === 2);
  t.same(await page.locator('[data-testid="row"] td[data-field="name"]').allTextContents(), ["Kunde 15", "Kunde 10"]);
  await audit(t, page, "customers-filtered");

  // the same link in another tab shows the same rows
  const shared = await context.newPage();
  await shared.goto(page.url());
  await shared.getByTestId("list-table").waitFor();
  t.same(await shared.locator('[data-testid="row"] td[data-field="name"]').allTextContents(), ["Kunde 15", "Kunde 10"]);
  await shared.close();

  // choose the columns: the city goes, the phone comes (kept for the next visit)
  await page.getByRole("button", { name: "Spalten" }).click();
  await page.getByTestId("column-chooser").getByLabel("Telefon").check();
  await page.getByTestId("column-chooser").getByLabel("Ort").uncheck();
  t.equal(await page.locator('td[data-field="phone"]').count(), 2);
  t.equal(await page.locator('td[data-field="city"]').count(), 0);

  const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-csv").click()]);
  const csv = readFileSync((await download.path()) as string, "utf8");
  t.ok(csv.startsWith("\uFEFF"), "UTF-8 with a byte order mark");
  const lines = csv.slice(1).trimEnd().split("\r\n");
  t.equal(lines[0]?.split(";")[1], "Name", "semicolons between the German headers");
  t.equal(lines.length, 3, "the header and the two rows of the filter");
  t.match(lines[1], /;Kunde 15;/);
});

t.test("workflow: the stage bar's transitions and a bulk transition with a result per row", async (t) => {
  const tickets = await Promise.all(
    ["Wechselrichter meldet Fehler", "Zähler ohne Werte", "Batterie lädt nicht"].map(async (title) => {
      const res = await api("POST", "/tickets", { title, priority: "normal" });
      if (res.status !== 201) throw new Error(`ticket: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body as { id: string };
    }),
  );
  await page.goto(`${origin}/#/e/tickets/${tickets[0]?.id}`);
  const stages = page.getByTestId("stages");
  await stages.waitFor();
  t.equal(await stages.locator('[aria-current="step"]').getAttribute("data-state"), "new");
  await page.getByTestId("to-in_progress").click();
  await waitFor(
    "in progress",
    async () => (await stages.locator('[aria-current="step"]').getAttribute("data-state")) === "in_progress",
  );
  t.notOk(await page.getByTestId("to-closed").count(), "closing needs resolving first: no button");
  await audit(t, page, "ticket");
  t.equal((await api("GET", `/tickets/${tickets[0]?.id}`)).body.status, "in_progress");

  // in bulk: cancel all three; the one in progress may not be cancelled and says so
  await page.goto(`${origin}/#/e/tickets`);
  await page.getByTestId("list-table").waitFor();
  for (const ticket of tickets) await page.locator(`tr[data-id="${ticket.id}"] input[type="checkbox"]`).check();
  await page.getByTestId("bulk-to-cancelled").click();
  const results = page.getByTestId("bulk-results");
  await results.waitFor();
  t.equal(await results.locator('[data-ok="true"]').count(), 2);
  t.equal(await results.locator('[data-ok="false"]').count(), 1);
  t.match(await results.locator('[data-ok="false"]').textContent(), /Wechselrichter meldet Fehler/);
});

t.test(
  "tickets as a board: a drag and the card's menu call the transition API; a move not allowed is refused",
  async (t) => {
    const ticket = (await api("POST", "/tickets", { title: "Zählerschrank prüfen", priority: "high" })).body as {
      id: string;
    };
    await page.goto(`${origin}/#/e/tickets`);
    await page.getByTestId("board-link").click();
    const board = page.getByTestId("board");
    const card = board.locator(`.card[data-id="${ticket.id}"]`);
    await card.waitFor();
    t.equal(await card.locator("xpath=ancestor::section[@data-state]").getAttribute("data-state"), "new");
    await audit(t, page, "board");
    await card.dragTo(board.locator('[data-state="in_progress"]'), { sourcePosition: { x: 3, y: 3 } });
    await waitFor(
      "moved to in progress",
      async () => (await api("GET", `/tickets/${ticket.id}`)).body.status === "in_progress",
    );
    await board.locator('[data-state="in_progress"]').locator(`.card[data-id="${ticket.id}"]`).waitFor();
    // closing needs resolving first: the hub refuses, the card says so and stays
    await board
      .locator(`.card[data-id="${ticket.id}"]`)
      .dragTo(board.locator('[data-state="closed"]'), { sourcePosition: { x: 3, y: 3 } });
    await board.locator(`.card[data-id="${ticket.id}"] [data-testid="error"]`).waitFor();
    t.equal((await api("GET", `/tickets/${ticket.id}`)).body.status, "in_progress", "not closed");
    // by keyboard: the card's menu
    await board.locator(`.card[data-id="${ticket.id}"] select`).selectOption("resolved");
    await waitFor("resolved", async () => (await api("GET", `/tickets/${ticket.id}`)).body.status === "resolved");
  },
);

t.test("site page: devices with their state, tickets, and charts drawn from real readings", async (t) => {
  const customer = (await api("POST", "/customers", { name: "Familie Sonne", kind: "private" })).body;
  const site = (
    await api("POST", "/sites", { customerId: customer.id, name: "PV Dach Sonne", city: "Kassel", kwp: 10 })
  ).body;
  t.ok(site?.id, "a site");
  for (const [kind, serial, device] of [
    ["inverter", "INV-SONNE-1", "inverter-1"],
    ["meter", "MTR-SONNE-1", "grid-meter"],
  ]) {
    const res = await api("POST", "/devices", {
      siteId: site.id,
      kind,
      serialNumber: serial,
      manufacturer: "Test",
      edgeId: "edge-sonne",
      deviceId: device,
    });
    t.equal(res.status, 201, `${kind} linked`);
  }
  const inverter = (await api("GET", `/devices?siteId=${site.id}&kind=inverter`)).body.items[0];
  t.equal(
    (await api("POST", "/tickets", { title: "Wechselrichter prüfen", siteId: site.id, deviceId: inverter.id })).status,
    201,
  );
  // readings from 6 hours before the last quarter-hour until this minute, one a minute: the
  // inverter's power and counter, the meter's power
  const now = Math.floor(Date.now() / 60_000) * 60_000;
  const from = Math.floor(now / 900_000) * 900_000 - 6 * 3_600_000;
  const minutes = (now - from) / 60_000;
  await pool.query("INSERT INTO raw.edges (edge_id) VALUES ('edge-sonne')");
  await pool.query(
    "SELECT raw.ensure_readings_partition(d::date) FROM generate_series($1::timestamptz - interval '1 day', $1::timestamptz + interval '1 day', interval '1 day') d",
    [new Date(now)],
  );
  const series = new Map<string, number>();
  for (const [device, point] of [
    ["inverter-1", "active_power"],
    ["inverter-1", "energy_exported"],
    ["grid-meter", "active_power"],
  ] as const) {
    const { rows } = await pool.query(
      "INSERT INTO raw.series (edge_id, device_id, point) VALUES ('edge-sonne', $1, $2) RETURNING series_id",
      [device, point],
    );
    series.set(`${device}/${point}`, rows[0].series_id);
  }
  await pool.query(
    `INSERT INTO raw.readings (series_id, seq, ts, value, quality, clock_synced)
     SELECT s.id, row_number() OVER (), to_timestamp(($1::bigint + m * 60000) / 1000.0),
       CASE WHEN s.k = 'counter' THEN 1000000 + m * 50 ELSE s.w END, 1, true
     FROM generate_series(0, $5::int) m,
       (VALUES ($2::int, 'power', 3000.0), ($3::int, 'counter', 0.0), ($4::int, 'power', -1200.0)) AS s(id, k, w)`,
    [
      from,
      series.get("inverter-1/active_power"),
      series.get("inverter-1/energy_exported"),
      series.get("grid-meter/active_power"),
      minutes,
    ],
  );
  // as the hub runs it: with the data-quality rules of each run's outputs
  const loaded = await runWarehouse(pool, {
    log,
    hooks: { afterLoad: qualityHook({ registry: new Registry(), log }) },
  });
  t.notOk(
    loaded.some((r) => r.status === "failed"),
    "the warehouse loaded the readings",
  );

  // the hub downsamples: 6 hours of minutes into at most 50 buckets
  const q = new URLSearchParams({
    from: new Date(from).toISOString(),
    to: new Date(now).toISOString(),
    maxPoints: "50",
  });
  const power = (await api("GET", `/sites/${site.id}/power?${q}`)).body;
  t.ok(power.t.length <= 50, `${power.t.length} buckets of ${power.bucketS} s`);
  const inv = power.series.find((x: { serialNumber: string }) => x.serialNumber === "INV-SONNE-1");
  t.ok(
    inv.avg.every((v: number | null) => v === 3000),
    "each bucket's average of the inverter's power",
  );
  t.equal(
    (await api("GET", `/sites/${site.id}/power?from=${q.get("to")}&to=${q.get("from")}`)).status,
    400,
    "an inverted range is refused",
  );

  await page.goto(`${origin}/#/e/sites/${site.id}`);
  const devices = page.getByTestId("site-devices");
  await devices.waitFor();
  t.equal(await devices.locator('tr[data-serial="INV-SONNE-1"] td[data-state]').getAttribute("data-state"), "online");
  t.match(await devices.locator('tr[data-serial="INV-SONNE-1"] [data-testid="open-tickets"]').textContent(), /1 offen/);
  t.match(await page.getByTestId("site-tickets").textContent(), /Wechselrichter prüfen/);
  await page.getByTestId("power-chart").locator("canvas").waitFor();
  t.match(
    await page.getByTestId("power-chart").textContent(),
    /INV-SONNE-1/,
    "a line per device, named by its serial number",
  );
  await page.getByTestId("range-week").click();
  // the week's days (today's alone may hold less: the six hours may begin yesterday)
  await waitFor(
    "the week's production",
    async () => (await page.getByTestId("kpi-production").textContent()) === "18 kWh",
  );
  t.pass("6 h to the last quarter-hour at 50 Wh a minute: 18 kWh");
  await page.getByTestId("day-chart").locator("canvas").waitFor();
  await audit(t, page, "site");
  // drag across the chart: the hub draws the chosen hours again at a finer resolution
  await page.getByTestId("power-chart").scrollIntoViewIfNeeded();
  const box = (await page.getByTestId("power-chart").locator(".u-over").boundingBox()) as {
    x: number;
    y: number;
    width: number;
    height: number;
  };
  await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.97, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  await page.getByTestId("zoom-reset").waitFor();
  t.match(await page.locator("figcaption").first().textContent(), /ein Punkt je \d+ s/);
});

t.test("keyboard: the command palette goes anywhere, ? lists the shortcuts, Esc closes", async (t) => {
  await page.goto(`${origin}/#/`);
  await page.getByTestId("tile-customers").waitFor();
  await page.keyboard.press("Control+k");
  await page.getByTestId("palette-input").waitFor();
  await audit(t, page, "palette");
  await page.keyboard.type("neu kunde");
  await page.keyboard.press("Enter");
  await waitFor("a new customer's form", async () => page.url().endsWith("#/e/customers/new"));
  await page.getByTestId("f-name").waitFor();
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  await page.keyboard.press("?");
  await page.getByTestId("shortcuts").getByRole("heading", { name: "Tastenkürzel" }).waitFor();
  await page.keyboard.press("Escape");
  await waitFor("the help closed", async () => !(await page.getByTestId("shortcuts").isVisible()));
  await page.keyboard.press("Control+k");
  await page.getByTestId("palette-input").waitFor();
  await page.keyboard.type("tickets");
  await page.keyboard.press("Enter");
  await waitFor("the tickets list", async () => page.url().endsWith("#/e/tickets"));
});

t.test("English is one click away", async (t) => {
  await page.getByTestId("language").click();
  await page.getByRole("heading", { name: "Tickets" }).waitFor();
  t.equal(await page.locator("html").getAttribute("lang"), "en");
  t.equal(await page.getByTestId("logout").textContent(), "Log out");
  await page.getByTestId("language").click();
  t.equal(await page.getByTestId("logout").textContent(), "Abmelden");
});

t.test("a viewer-only user sees no edit controls and is refused a write", async (t) => {
  const viewer = await openContext(1280);
  t.teardown(() => viewer.context.close());
  await login(viewer.page, "pruefer@example.com");
  const id = (await api("GET", "/customers?limit=1")).body.items[0].id as string;
  await viewer.page.goto(`${origin}/#/e/customers`);
  await viewer.page.getByTestId("list-table").waitFor();
  t.equal(await viewer.page.getByTestId("new-record").count(), 0, "no New button");
  await viewer.page.goto(`${origin}/#/e/customers/${id}`);
  await viewer.page.getByTestId("read-only").waitFor();
  t.equal(await viewer.page.getByTestId("save").count(), 0, "no Save button");
  t.equal(await viewer.page.locator("input, select, textarea").count(), 0, "no inputs");
  await audit(t, viewer.page, "viewer-customer");
  const status = await viewer.page.evaluate(`(async () => {
    const me = await (await fetch("/api/v1/auth/me")).json();
    const res = await fetch("/api/v1/customers/${id}", {
      method: "PATCH",
      headers: { "content-type": "application/json", "x-csrf-token": me.csrfToken, "if-match": '"1"' },
      body: JSON.stringify({ city: "Berlin" }),
    });
    return res.status;
  })()`);
  t.equal(status, 403, "the API refuses the viewer's write");

  // the auditor's data pages: quality, the catalog with its classification, lineage, the audit trail
  const v = viewer.page;
  await v.getByTestId("nav-data-quality").click();
  await v.getByRole("heading", { name: "Datenqualität" }).waitFor();
  // today's checks of the site's readings, per dataset
  await v.locator('[data-testid="quality-report"] tr[data-dataset="curated.fact_energy_15min"]').waitFor();
  await v.getByTestId("nav-data-catalog").click();
  await v.getByTestId("catalog-q").fill("customers");
  await v.getByTestId("catalog-q").press("Enter");
  const customers = v.locator('[data-testid="catalog"] tr[data-dataset="erp.customers"]');
  await customers.locator("button").click();
  t.equal(
    await v.locator('[data-testid="catalog-columns"] tr[data-column="email"]').getAttribute("data-classification"),
    "sensitive",
    "the customers' e-mail is personal data",
  );
  await audit(t, v, "catalog");
  await v.getByTestId("nav-data-lineage").click();
  await v.getByTestId("lineage").waitFor();
  await v.getByTestId("nav-data-audit").click();
  await v.getByTestId("audit-records").locator("tbody tr").first().waitFor();
  await v.getByTestId("audit-verify").click();
  t.equal(await v.getByTestId("audit-verified").getAttribute("data-ok"), "true", "the hash chain holds");
  await audit(t, v, "audit");
  t.same(viewer.errors, []);
  t.same(viewer.foreign, []);
});

t.test("approvals: the requester cannot decide their own; a second project manager approves", async (t) => {
  const pm1 = await auth.createUser({
    email: "pl1@example.com",
    displayName: "Petra Leitung",
    roles: ["project_manager"],
    password: PASSWORD,
  });
  await auth.createUser({
    email: "pl2@example.com",
    displayName: "Peter Leitung",
    roles: ["project_manager"],
    password: PASSWORD,
  });
  const pm1Token = (await auth.createApiToken(pm1.id, { name: "test" })).token;
  const asPm1 = { authorization: `Bearer ${pm1Token}` };
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${origin}/api/v1${path}`, {
      method: "POST",
      headers: { ...asPm1, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { id: string; approval: { id: string } } };
  };
  const warehouse = (await post("/warehouses", { code: "HQ", name: "Hauptlager" })).body;
  const article = (await post("/articles", { number: "MOD-430", name: "PV-Modul 430 Wp", category: "module" })).body;
  t.equal(
    (
      await post("/stock-movements", {
        kind: "receipt",
        articleId: article.id,
        quantity: 5,
        toWarehouseId: warehouse.id,
      })
    ).status,
    201,
  );
  const held = await post("/stock-movements", {
    kind: "write_off",
    articleId: article.id,
    quantity: 2,
    fromWarehouseId: warehouse.id,
    notes: "Glasbruch",
  });
  t.equal(held.status, 202, "the write-off waits for approval");

  const requester = await openContext(1280);
  t.teardown(() => requester.context.close());
  await login(requester.page, "pl1@example.com");
  await requester.page.getByTestId("nav-approvals").click();
  await requester.page.getByTestId("nothing-to-decide").waitFor();
  t.equal(
    await requester.page.locator('[data-testid="my-requests"] tr[data-status="pending"]').count(),
    1,
    "my own request, pending",
  );

  const approver = await openContext(1280);
  t.teardown(() => approver.context.close());
  await login(approver.page, "pl2@example.com");
  await approver.page.keyboard.press("Control+k");
  await approver.page.getByTestId("palette-input").waitFor();
  await approver.page.keyboard.type("freigaben");
  await approver.page.keyboard.press("Enter");
  await waitFor("the approvals", async () => approver.page.url().endsWith("#/approvals"));
  const card = approver.page.locator(`[data-testid="to-decide"] [data-id="${held.body.approval.id}"]`);
  await card.waitFor();
  const text = await card.textContent();
  t.match(text, /Bestand abschreiben.*beantragt von pl1@example\.com/s, "what and who");
  t.match(text, /Artikelnummer\s*MOD-430/, "the facts to decide on");
  t.match(text, /Menge\s*2/);
  await audit(t, approver.page, "approvals");
  await card.getByTestId("reject").click();
  t.match(await card.textContent(), /Bitte begründen Sie die Ablehnung/, "a rejection says why");
  await card.getByLabel("Kommentar").fill("Bruch ist fotografiert, passt.");
  await card.getByTestId("approve").click();
  await approver.page.getByText("Freigegeben und ausgeführt").waitFor();
  const decided = await fetch(`${origin}/api/v1/approvals/${held.body.approval.id}`, { headers: asPm1 }).then((r) =>
    r.json(),
  );
  t.match(decided, { status: "executed", decidedByName: "pl2@example.com", comment: "Bruch ist fotografiert, passt." });
  const stock = await fetch(`${origin}/api/v1/stock?articleId=${article.id}`, { headers: asPm1 }).then((r) => r.json());
  t.match(JSON.stringify(stock), /"quantity":3/, "two written off");
  // the stock screen shows what is left
  await approver.page.getByTestId("nav-stock").click();
  await approver.page.getByTestId("stock-filter").fill("MOD-430");
  t.equal(
    await approver.page
      .locator('[data-testid="stock"] tr[data-article="MOD-430"] [data-testid="available"]')
      .textContent(),
    "3",
  );
  await approver.page.getByTestId("serial").fill("KEINE-SERIE");
  await approver.page.getByTestId("serial-find").click();
  t.match(await approver.page.locator(".serial-lookup [data-testid=error]").textContent(), /Nicht gefunden/);
  await audit(t, approver.page, "stock");
  await requester.page.reload();
  await requester.page.locator('[data-testid="my-requests"] tr[data-status="executed"]').waitFor();
  t.same([...requester.errors, ...approver.errors], []);
});

t.test("sagas: the steps with their timings; a waiting saga aborted from the screen", async (t) => {
  const { rows } = await pool.query(
    `INSERT INTO saga.instances (type, version, idempotency_key, input, state, position, run_at, started_by, error)
     VALUES ('cancel-order', 1, 'ui-test-waiting', '{}', 'waiting', 0, now() + interval '1 day', 'pl1@example.com', NULL),
            ('cancel-order', 1, 'ui-test-failed', '{}', 'failed', 0, now(), 'pl1@example.com', '{"step": "refund", "code": "HUB_ERR_INTERNAL"}')
     RETURNING id, state`,
  );
  const failed = rows.find((r) => r.state === "failed").id as string;
  const waiting = rows.find((r) => r.state === "waiting").id as string;
  await pool.query(
    `INSERT INTO saga.step_runs (saga_id, position, step, phase, attempt, outcome, error, fence, started_at, finished_at)
     VALUES ($1, 0, 'refund', 'action', 1, 'failed', '{"message": "kaputt"}', 1, now() - interval '2 seconds', now())`,
    [failed],
  );
  const pm = await openContext(1280);
  t.teardown(() => pm.context.close());
  await login(pm.page, "pl2@example.com");
  await pm.page.getByTestId("nav-sagas").click();
  await pm.page.getByTestId("saga-state").selectOption("failed");
  await pm.page.locator(`tr[data-id="${failed}"] button`).click();
  const detail = pm.page.getByTestId("saga-detail");
  await detail.getByTestId("saga-steps").locator('tr[data-outcome="failed"]').waitFor();
  t.match(
    await detail.getByTestId("saga-steps").textContent(),
    /refund.*Ausführung.*failed/s,
    "the failed step and its attempt",
  );
  t.ok(await detail.getByTestId("saga-retry").isVisible(), "a failed saga can be retried");
  await audit(t, pm.page, "sagas");
  await pm.page.getByTestId("saga-state").selectOption("waiting");
  await pm.page.locator(`tr[data-id="${waiting}"] button`).click();
  await pm.page.getByTestId("saga-abort").click();
  await waitFor("the aborted saga compensated", async () => {
    const res = await fetch(`${origin}/api/v1/sagas/${waiting}`, { headers: { authorization: `Bearer ${token}` } });
    return ((await res.json()) as { state: string }).state === "compensated";
  });
  // commands to an edge: diagnostics queued at once, a power limit held for an admin's approval
  await pm.page.getByTestId("nav-commands").click();
  await pm.page.getByTestId("command-edge").selectOption("edge-sonne");
  await pm.page.getByTestId("command-type").selectOption("diagnostics");
  await pm.page.getByTestId("send-command").click();
  await pm.page.locator('[data-testid="commands"] tr[data-type="diagnostics"][data-state="queued"]').waitFor();
  await pm.page.getByTestId("command-type").selectOption("power_limit");
  await pm.page.getByTestId("command-limit").fill("60");
  await pm.page.getByTestId("send-command").click();
  await pm.page.getByText("wartet auf die Freigabe einer zweiten Person").waitFor();
  await pm.page
    .locator('[data-testid="commands"] tr[data-type="power_limit"][data-state="pending_approval"]')
    .waitFor();
  await audit(t, pm.page, "commands");
  t.same(pm.errors, []);
});

t.test(
  "invoices: finalise a draft, its PDF and XRechnung, a cancellation held for approval, the DATEV export",
  async (t) => {
    const acct = await auth.createUser({
      email: "buchhaltung@example.com",
      displayName: "Anna Buch",
      roles: ["accountant"],
      password: PASSWORD,
    });
    const asAcct = { authorization: `Bearer ${(await auth.createApiToken(acct.id, { name: "test" })).token}` };
    const send = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(`${origin}/api/v1${path}`, {
        method,
        headers: { ...asAcct, ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return {
        status: res.status,
        etag: res.headers.get("etag"),
        body: (await res.json()) as Record<string, unknown> & { id: string },
      };
    };
    const { name, street, postalCode, city, country, vatId, taxNumber, registration, managingDirectors } = seller;
    const { contactName, phone, email, iban, bic, bankName } = seller;
    const settings = await send("GET", "/settings/company");
    const stored = await send(
      "PATCH",
      "/settings/company",
      {
        name,
        street,
        postalCode,
        city,
        country,
        vatId,
        taxNumber,
        registration,
        managingDirectors,
        contactName,
        phone,
        email,
        iban,
        bic,
        bankName,
        datevAdvisorNumber: 29098,
        datevClientNumber: 55003,
        datevAccountZ: 8338,
      },
      { "if-match": settings.etag as string },
    );
    t.equal(stored.status, 200, "the company's settings");
    const customer = await api("POST", "/customers", {
      name: "Rechnungskunde GmbH",
      email: "rechnung@example.com",
      kind: "business",
      street: "Am Markt 1",
      postalCode: "34117",
      city: "Kassel",
    });
    const draft = await send("POST", "/invoices", { customerId: customer.body.id, issueDate: "2026-11-02" });
    t.equal(
      (
        await send("POST", "/invoice-lines", {
          invoiceId: draft.body.id,
          position: 1,
          kind: "flat",
          description: "Wartung",
          quantity: 1,
          unitPriceCents: 25_000,
          vatCategory: "S",
          vatRate: 19,
        })
      ).status,
      201,
    );

    const accountant = await openContext(1280);
    t.teardown(() => accountant.context.close());
    const a = accountant.page;
    await login(a, "buchhaltung@example.com");
    await a.goto(`${origin}/#/e/invoices/${draft.body.id}`);
    await a.getByTestId("invoice-finalise").click();
    await a.getByText("Festgeschrieben", { exact: true }).first().waitFor();
    await a.getByTestId("invoice-pdf").waitFor();
    // the PDF opens in the browser's viewer (inline); what the link serves:
    const href = (await a.getByTestId("invoice-pdf").getAttribute("href")) as string;
    t.equal(
      await a.evaluate(`fetch(${JSON.stringify(href)}).then((r) => r.text()).then((x) => x.slice(0, 5))`),
      "%PDF-",
      "the PDF",
    );
    const [xml] = await Promise.all([a.waitForEvent("download"), a.getByTestId("invoice-xrechnung").click()]);
    t.match(readFileSync((await xml.path()) as string, "utf8"), /<(ubl:)?Invoice[\s>]/, "the XRechnung (UBL)");
    await audit(t, a, "invoice");
    await a.getByTestId("invoice-cancel").click();
    await a.getByText("Wartet auf die Freigabe einer zweiten Person").waitFor();

    await a.goto(`${origin}/#/e/invoices`);
    await a.locator("#datev-from").fill("2026-11-01");
    await a.locator("#datev-to").fill("2026-11-30");
    const [datev] = await Promise.all([a.waitForEvent("download"), a.getByTestId("datev-export").click()]);
    t.match(readFileSync((await datev.path()) as string, "latin1"), /^"EXTF";700;21;/, "DATEV's Buchungsstapel");
    t.same(accountant.errors, []);
  },
);

t.test("at 360 px: the list and a record are usable on a phone", async (t) => {
  const phone = await openContext(360);
  t.teardown(() => phone.context.close());
  await login(phone.page, "buero@example.com");
  await phone.page.goto(`${origin}/#/e/customers`);
  await phone.page.getByTestId("list-table").waitFor();
  const width = (await phone.page.evaluate("document.documentElement.scrollWidth")) as number;
  t.ok(width <= 360, `the page does not scroll sideways (${width} px)`);
  await audit(t, phone.page, "phone-customers");
  await phone.page.locator('[data-testid="row"] a').first().click();
  await phone.page.getByTestId("save").waitFor();
  await audit(t, phone.page, "phone-customer");
  t.same(phone.errors, []);
});

t.test("no page error and no request off the hub's origin", async (t) => {
  t.same(errors, [], "no console errors");
  t.same(foreign, [], "every request went to the hub");
});

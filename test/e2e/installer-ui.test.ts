/**
 * The installer UI in a real browser (Chromium from @sparticuz/chromium, driven by playwright-core)
 * against a real edge agent, the Modbus simulator and a real hub, all on 127.0.0.1: first-run setup,
 * login, the add-device wizard from scan to save, live values, settings with a field error, the
 * buffer and sync page showing what the hub acknowledged, rollback, a viewer who cannot save, and
 * the language switch. Screenshots of every step go to .artifacts/installer-ui/ (not committed).
 */
import { join } from "node:path";
import { startEdgeAgent } from "@steinmetz/edge";
import { startSunSpecInverterSim } from "@steinmetz/sim";
import type { Page } from "playwright-core";
import t from "tap";
import { artifactsDir, launchBrowser } from "../support/browser.js";
import { EdgeClient } from "../support/edge-client.js";
import {
  adminHeaders,
  daytimeClock,
  log,
  startDatabase,
  startTestHub,
  stored,
  tempDir,
  waitFor,
} from "../support/harness.js";

const db = await startDatabase();
t.teardown(() => db.stop());
const hub = await startTestHub(db.url);
t.teardown(() => hub.close());
// daylight for the whole test, whatever the time of the run: the live values must move
const sim = await startSunSpecInverterSim({ speed: 60, meter: true, now: daytimeClock() });
t.teardown(() => sim.close());
const dir = tempDir("edge-ui");
const edge = await startEdgeAgent({
  configFile: join(dir, "site.yaml"), // missing: a fresh appliance
  dataDir: dir,
  insecureDev: true,
  httpPort: 0,
  log,
  sync: { backoff: { initialDelayMs: 100, maxDelayMs: 1000 } },
});
t.teardown(() => edge.close());
const browser = await launchBrowser();
t.teardown(() => browser.close());

const PASSWORD = "Sonnenstrom 2026";
const shots = artifactsDir("installer-ui");
let shotNumber = 0;
const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(shots, `${String(++shotNumber).padStart(2, "0")}-${name}.png`), fullPage: true });
const byId = (page: Page, id: string) => page.getByTestId(id);
/** Waits until an element's attribute (or text, with `attr` null) satisfies `check`. */
const until = (page: Page, id: string, attr: string | null, check: (v: string | null) => boolean) =>
  waitFor(`${id} ${attr ?? "text"}`, async () => {
    const el = byId(page, id);
    return check(attr === null ? await el.textContent() : await el.getAttribute(attr));
  });
/** Console errors other than the browser's own note on a refused request (401/403/400 answers are expected). */
function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(err.message));
  return errors;
}
/** Form controls on the page that no label names (for screen readers). */
const unlabelled = (page: Page): Promise<string[]> =>
  page.evaluate(`[...document.querySelectorAll("input, select, textarea")]
    .filter((el) => el.type !== "hidden" && el.labels.length === 0 && !el.getAttribute("aria-label"))
    .map((el) => el.outerHTML.slice(0, 80))`);
const installerApi = new EdgeClient(edge.httpUrl);
const configVersion = async () =>
  ((await installerApi.call("GET", "/api/v1/config")).body as { version: number }).version;

// Phone first: the installer on the roof.
const phone = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: "de-DE" });
t.teardown(() => phone.close());
const page = await phone.newPage();
page.setDefaultTimeout(15_000);
const errors = consoleErrors(page);

t.test("first-run setup, then logout and a refused wrong password", async (t) => {
  await page.goto(edge.httpUrl);
  await byId(page, "setup-site-name").waitFor();
  t.equal(await page.locator("html").getAttribute("lang"), "de", "German by default");
  t.same(await unlabelled(page), [], "every setup field has a label");
  await shot(page, "setup");
  await byId(page, "setup-site-name").fill("Hof Berger");
  await byId(page, "setup-username").fill("anna");
  await byId(page, "setup-password").fill(PASSWORD);
  await byId(page, "setup-password-repeat").fill(PASSWORD);
  await byId(page, "setup-submit").click();
  await byId(page, "flow-pv").waitFor();
  t.equal(await byId(page, "site-name").textContent(), "Hof Berger");
  await shot(page, "dashboard-empty");

  await byId(page, "user-menu").click();
  await byId(page, "logout").click();
  await byId(page, "login-username").waitFor();
  await byId(page, "login-username").fill("anna");
  await byId(page, "login-password").fill("falsches Passwort");
  await byId(page, "login-submit").click();
  const error = byId(page, "error");
  await error.waitFor();
  t.equal(await error.getAttribute("data-code"), "EDGE_ERR_AUTH_FAILED", "wrong password refused");
  await shot(page, "login-refused");
  await byId(page, "login-password").fill(PASSWORD);
  await byId(page, "login-submit").click();
  await byId(page, "flow-pv").waitFor();
  await installerApi.login("anna", PASSWORD);
});

t.test("the wizard scans the simulator, test-reads with the suggested profile and saves", async (t) => {
  await byId(page, "menu-button").click();
  await byId(page, "nav-devices").click();
  await byId(page, "add-device").click();
  await byId(page, "wizard-type-tcp").click();
  await byId(page, "wizard-host").fill(sim.host);
  await byId(page, "wizard-port").fill(String(sim.port));
  await byId(page, "wizard-unit-ids").fill("1,2");
  await byId(page, "wizard-scan").click();
  const inverter = byId(page, `finding-${sim.unitId}-0`);
  await inverter.waitFor();
  await byId(page, `finding-${sim.unitId}-1`).waitFor();
  await shot(page, "scan-findings");
  await inverter.click();
  t.equal(await byId(page, "wizard-profile").inputValue(), "inverter/sunspec-inverter-tcp", "suggested profile taken");
  await byId(page, "wizard-test-read").click();
  const power = byId(page, "test-value-active_power");
  await power.waitFor();
  t.match(await power.textContent(), /^-?\d+(\.\d+)?$/, "the test read shows the simulator's power");
  t.same(await unlabelled(page), [], "every wizard field has a label");
  await shot(page, "test-read");
  await byId(page, "wizard-device-id").fill("wechselrichter");
  await byId(page, "wizard-save").click();
  const state = byId(page, "state-wechselrichter");
  await state.waitFor();
  await until(page, "state-wechselrichter", "data-status", (v) => v === "ok");
  t.equal(await state.getAttribute("data-status"), "ok", "the saved device polls ok");
  await shot(page, "devices");
});

t.test("a failing device shows its state and last error in words, and can be removed", async (t) => {
  const { body } = await installerApi.call<{ version: number; config: { devices: Record<string, unknown>[] } }>(
    "GET",
    "/api/v1/config",
  );
  const [inverter] = body.config.devices;
  const config = {
    ...body.config,
    devices: [...body.config.devices, { ...inverter, id: "falsche-adresse", unitId: 9 }],
  };
  const saved = await installerApi.call("PUT", "/api/v1/config", { config }, { "if-match": `"${body.version}"` });
  t.equal(saved.status, 200);
  await until(page, "state-falsche-adresse", "data-status", (v) => v === "fault");
  const error = byId(page, "last-error-falsche-adresse");
  t.equal(await error.getAttribute("data-code"), "EDGE_ERR_SUNSPEC_NOT_FOUND");
  t.match(await error.textContent(), /no SunSpec marker at unit 9/);
  await shot(page, "device-fault");
  await byId(page, "remove-falsche-adresse").click();
  await byId(page, "confirm-ok").click();
  await waitFor("removed", async () => (await byId(page, "state-falsche-adresse").count()) === 0);
  t.same(
    edge.status().devices.map((d) => d.id),
    ["wechselrichter"],
    "the agent polls only the remaining device",
  );
});

t.test("live values arrive and change without a reload", async (t) => {
  await byId(page, "menu-button").click();
  await byId(page, "nav-dashboard").click();
  const cell = byId(page, "value-wechselrichter-active_power");
  await cell.waitFor();
  const first = await cell.textContent();
  await until(page, "value-wechselrichter-active_power", null, (v) => v !== first);
  t.not(await cell.textContent(), first, "the power value moved on");
  t.match(await byId(page, "flow-pv").getAttribute("data-value"), /^\d/, "PV in the power flow");
  await shot(page, "dashboard-live");
});

t.test("charts draw from the edge's local rollups", async (t) => {
  await byId(page, "menu-button").click();
  await byId(page, "nav-charts").click();
  await byId(page, "chart-device").selectOption("wechselrichter");
  await byId(page, "chart-point").selectOption("active_power");
  await page.locator('[data-testid="chart"] canvas').waitFor();
  const rollups = await installerApi.call<{ rows: { count: number }[] }>(
    "GET",
    "/api/v1/rollups?device=wechselrichter&point=active_power&period=1m",
  );
  t.ok(rollups.body.rows.length > 0, "the chart has 1-minute rollups to draw");
  await shot(page, "charts");
});

t.test("an invalid hub address shows the field's error and changes nothing; a valid one connects", async (t) => {
  await byId(page, "menu-button").click();
  await byId(page, "nav-settings").click();
  const before = await configVersion();
  await waitFor("settings loaded", async () => (await byId(page, "settings-site-name").inputValue()) === "Hof Berger");
  t.same(await unlabelled(page), [], "every settings field has a label");
  await byId(page, "settings-hub-url").fill("kein hub");
  await byId(page, "settings-save").click();
  await byId(page, "error-/hub/url").waitFor();
  await shot(page, "settings-invalid");
  t.equal(await configVersion(), before, "configuration unchanged");
  await byId(page, "settings-hub-url").fill(`127.0.0.1:${hub.grpcPort}`);
  await byId(page, "settings-save").click();
  await waitFor("saved", async () => (await configVersion()) === before + 1);
  await shot(page, "settings-saved");

  await byId(page, "settings-enroll-code").fill("stz1.kein-code");
  await byId(page, "settings-enroll").click();
  const refused = page.locator('[data-testid="error"][data-code="EDGE_ERR_TLS"]');
  await refused.waitFor();
  t.match(await refused.textContent(), /Zertifikat/, "a malformed enrollment code is refused in words");
  await shot(page, "settings-enroll-refused");
});

t.test("the buffer and sync page shows readings acknowledged by the hub", async (t) => {
  await byId(page, "menu-button").click();
  await byId(page, "nav-sync").click();
  const connected = byId(page, "sync-connected");
  await until(page, "sync-connected", "data-connected", (v) => v === "true");
  t.equal(await connected.getAttribute("data-connected"), "true");
  await until(page, "sync-committed", null, (v) => Number(v) > 0);
  const shown = Number(await byId(page, "sync-committed").textContent());
  const atHub = await stored(db.url, edge.edgeId);
  t.ok(atHub.count >= shown, `the hub holds ${atHub.count} readings, the page shows ${shown} acknowledged`);
  t.equal(atHub.distinctSeqs, atHub.count, "each reading once");
  // a command from the hub appears with its outcome
  const asked = await fetch(`${hub.httpUrl}/api/v1/edges/${edge.edgeId}/commands`, {
    method: "POST",
    headers: { ...(await adminHeaders(db.url)), "content-type": "application/json", "idempotency-key": "ui-diag" },
    body: JSON.stringify({ type: "diagnostics" }),
  });
  t.equal(asked.status, 201);
  const { id } = (await asked.json()) as { id: string };
  await page.locator(`[data-command="${id}"][data-state="succeeded"]`).waitFor({ timeout: 15_000 });
  t.match(await page.locator(`[data-command="${id}"]`).textContent(), /Diagnose|Diagnostics/);
  await shot(page, "sync");
});

t.test("rollback restores the previous configuration", async (t) => {
  const current = await configVersion();
  const previous = ((await installerApi.call("GET", `/api/v1/config/versions/${current - 1}`)).body as { yaml: string })
    .yaml;
  await byId(page, "menu-button").click();
  await byId(page, "nav-history").click();
  await byId(page, `rollback-${current - 1}`).click();
  await byId(page, "confirm-ok").click();
  await waitFor("rolled back", async () => (await configVersion()) === current + 1);
  const now = (await installerApi.call<string>("GET", "/api/v1/config/export")).body;
  t.equal(now, previous, "the configuration is the one before the hub address");
  await byId(page, `version-${current + 1}`).waitFor();
  await shot(page, "history-rolled-back");
});

t.test("a viewer on a laptop reads everything and cannot save", async (t) => {
  const created = await installerApi.call("POST", "/api/v1/users", {
    username: "kunde",
    password: "nur gucken bitte",
    role: "viewer",
  });
  t.equal(created.status, 201);
  const laptop = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "de-DE" });
  t.teardown(() => laptop.close());
  const viewer = await laptop.newPage();
  viewer.setDefaultTimeout(15_000);
  const viewerErrors = consoleErrors(viewer);
  await viewer.goto(edge.httpUrl);
  await byId(viewer, "login-username").fill("kunde");
  await byId(viewer, "login-password").fill("nur gucken bitte");
  await byId(viewer, "login-submit").click();
  await byId(viewer, "value-wechselrichter-active_power").waitFor();
  t.equal(await byId(viewer, "user-role").getAttribute("data-role"), "viewer");
  await shot(viewer, "viewer-dashboard");
  await byId(viewer, "nav-settings").click();
  await byId(viewer, "settings-save").waitFor();
  t.ok(await byId(viewer, "settings-save").isDisabled(), "save is disabled for a viewer");
  const forced = await viewer.evaluate(async () => {
    const session = (await (await fetch("/api/v1/session")).json()) as { csrfToken: string };
    const config = (await (await fetch("/api/v1/config")).json()) as { version: number; config: unknown };
    const res = await fetch("/api/v1/config", {
      method: "PUT",
      headers: {
        "content-type": "application/json",
        "x-csrf-token": session.csrfToken,
        "if-match": `"${config.version}"`,
      },
      body: JSON.stringify({ config: config.config }),
    });
    return { status: res.status, code: ((await res.json()) as { code: string }).code };
  });
  t.same(forced, { status: 403, code: "EDGE_ERR_FORBIDDEN" }, "the API refuses a viewer's save too");
  await shot(viewer, "viewer-settings");
  await byId(viewer, "nav-devices").click();
  await byId(viewer, "state-wechselrichter").waitFor();
  t.equal(await byId(viewer, "add-device").count(), 0, "no add-device for a viewer");

  await byId(viewer, "lang-en").click();
  await waitFor("English", async () => (await viewer.locator("html").getAttribute("lang")) === "en");
  t.equal(await viewer.locator("html").getAttribute("lang"), "en", "switched to English");
  await shot(viewer, "viewer-devices-english");
  t.same(viewerErrors, [], "no script errors in the viewer's page");
});

t.test("no script errors or blocked resources in the installer's page", async (t) => {
  t.same(errors, []);
});

/**
 * `npm run bench -- ui`: how fast the installer UI shows live data, and what it ships.
 * A real edge agent polls the simulated inverter and grid meter; headless Chromium loads the
 * dashboard (fresh browser context each time: nothing cached) until the power-flow picture shows
 * its first live value. Baseline, same run and browser: a bare page of the same server that opens
 * the same live stream with EventSource and waits for its first snapshot (no UI code at all).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadUiAssets, startEdgeAgent } from "@steinmetz/edge";
import { startSunSpecInverterSim } from "@steinmetz/sim";
import pino from "pino";
import { stringify } from "yaml";
import { launchBrowser } from "./browser.js";

/** What the UI benchmark measured (milliseconds, bytes). */
export interface UiBenchResult {
  runs: number;
  firstValueMs: { p50: number; max: number };
  baselineMs: { p50: number; max: number };
  gzipBytes: { js: number; css: number };
}

const RUNS = 10;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export async function benchUi(): Promise<UiBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "bench-ui-"));
  const sim = await startSunSpecInverterSim({ speed: 60, meter: true });
  const configFile = join(dir, "site.yaml");
  writeFileSync(
    configFile,
    stringify({
      site: { name: "Benchmark" },
      connections: [{ id: "lan", type: "tcp", host: sim.host, port: sim.port }],
      devices: [
        { id: "inverter-1", connection: "lan", unitId: sim.unitId, profile: "inverter/sunspec-inverter-tcp" },
        { id: "grid-meter", connection: "lan", unitId: sim.unitId, profile: "meter/sunspec-meter-tcp" },
      ],
    }),
  );
  const edge = await startEdgeAgent({
    configFile,
    dataDir: dir,
    insecureDev: true,
    httpPort: 0,
    log: pino({ level: "silent" }),
  });
  const browser = await launchBrowser();
  try {
    const setup = await fetch(`${edge.httpUrl}/api/v1/setup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ siteName: "Benchmark", username: "bench", password: "benchmark password" }),
    });
    const token = /edge_session=([^;]+)/.exec(setup.headers.get("set-cookie") ?? "")?.[1];
    if (setup.status !== 201 || !token) throw new Error(`setup failed: ${setup.status}`);
    const cookie = { name: "edge_session", value: token, url: edge.httpUrl };

    const time = async (load: (page: import("playwright-core").Page) => Promise<unknown>) => {
      const context = await browser.newContext();
      await context.addCookies([cookie]);
      const page = await context.newPage();
      const started = performance.now();
      await load(page);
      const ms = performance.now() - started;
      await context.close();
      return ms;
    };
    const dashboard = (page: import("playwright-core").Page) =>
      page
        .goto(`${edge.httpUrl}/`)
        .then(() => page.locator('[data-testid="flow-pv"]').filter({ hasText: /\d/ }).waitFor({ timeout: 15_000 }));
    const bare = (page: import("playwright-core").Page) =>
      page.goto(`${edge.httpUrl}/livez`).then(() =>
        page.evaluate(
          () =>
            new Promise<void>((resolve) => {
              // runs in the page, where EventSource exists
              const source = new (globalThis as unknown as { EventSource: typeof EventSource }).EventSource(
                "/api/v1/live",
              );
              source.addEventListener("snapshot", () => {
                source.close();
                resolve();
              });
            }),
        ),
      );
    // One untimed round warms the agent's first poll and the browser.
    await time(dashboard);
    const ui: number[] = [];
    const baseline: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      ui.push(await time(dashboard));
      baseline.push(await time(bare));
    }
    const assets = await loadUiAssets();
    const gz = (ext: string) =>
      [...assets].filter(([path]) => path.endsWith(ext)).reduce((sum, [, a]) => sum + a.gzip.length, 0);
    return {
      runs: RUNS,
      firstValueMs: { p50: median(ui), max: Math.max(...ui) },
      baselineMs: { p50: median(baseline), max: Math.max(...baseline) },
      gzipBytes: { js: gz(".js"), css: gz(".css") },
    };
  } finally {
    await browser.close();
    await edge.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

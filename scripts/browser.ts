import chromium from "@sparticuz/chromium";
import { type Browser, chromium as playwright } from "playwright-core";

/** Chromium flags of @sparticuz/chromium that would weaken what is checked (same-origin policy). */
const WEAKENING = ["--disable-web-security", "--allow-running-insecure-content"];

/**
 * Headless Chromium as shipped inside the @sparticuz/chromium npm package (unpacked to /tmp on
 * first use; no download, no system browser), driven by playwright-core. Used by the browser
 * tests and the UI benchmark.
 */
export async function launchBrowser(): Promise<Browser> {
  return playwright.launch({
    executablePath: await chromium.executablePath(),
    args: chromium.args.filter((a) => !WEAKENING.includes(a)),
    headless: true,
  });
}

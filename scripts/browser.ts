import chromium from "@sparticuz/chromium";
import { type Browser, chromium as playwright } from "playwright-core";

/**
 * Flags of @sparticuz/chromium (made for one page per serverless call) left out: two would weaken
 * what is checked (the same-origin policy), and one process for everything breaks a second
 * browser context.
 */
const LEFT_OUT = ["--disable-web-security", "--allow-running-insecure-content", "--single-process"];

/**
 * Headless Chromium as shipped inside the @sparticuz/chromium npm package (unpacked to /tmp on
 * first use; no download, no system browser), driven by playwright-core. Used by the browser
 * tests and the UI benchmark.
 */
export async function launchBrowser(): Promise<Browser> {
  return playwright.launch({
    executablePath: await chromium.executablePath(),
    args: chromium.args.filter((a) => !LEFT_OUT.includes(a)),
    headless: true,
  });
}

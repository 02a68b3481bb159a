import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./harness.js";

export { launchBrowser } from "../../scripts/browser.js";

/** Where screenshots of browser tests go (`.artifacts/<suite>`, emptied first, not committed). */
export function artifactsDir(suite: string): string {
  const dir = join(REPO, ".artifacts", suite);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * Root of the firmware-config data (natures, profiles, sites). Found through module resolution, so
 * it is right both from the TypeScript sources and from a bundled edge build.
 */
export const firmwareConfigDir = dirname(
  createRequire(import.meta.url).resolve("@steinmetz/firmware-config/package.json"),
);
/** Device profiles: `<class>/<brand>-<product>-<protocol>.yaml`. */
export const profilesDir = join(firmwareConfigDir, "profiles");
/** Natures: `<class>.yaml`, the canonical points and units of a device class. */
export const naturesDir = join(firmwareConfigDir, "natures");
/** Example site configurations. */
export const sitesDir = join(firmwareConfigDir, "sites");
/** Register fixtures of the profiles (used by tests). */
export const fixturesDir = join(firmwareConfigDir, "fixtures");

import { fileURLToPath } from "node:url";

/** Root of the firmware-config data (natures, profiles, sites). */
export const firmwareConfigDir = fileURLToPath(new URL("..", import.meta.url));
/** Device profiles: `<class>/<brand>-<product>-<protocol>.yaml`. */
export const profilesDir = fileURLToPath(new URL("../profiles", import.meta.url));
/** Natures: `<class>.yaml`, the canonical points and units of a device class. */
export const naturesDir = fileURLToPath(new URL("../natures", import.meta.url));
/** Example site configurations. */
export const sitesDir = fileURLToPath(new URL("../sites", import.meta.url));

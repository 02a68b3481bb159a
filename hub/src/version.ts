import { createRequire } from "node:module";

/** Version of the hub, from its package.json. */
export const HUB_VERSION: string = createRequire(import.meta.url)("../package.json").version;

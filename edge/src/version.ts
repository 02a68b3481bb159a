import { createRequire } from "node:module";

/** Version of the edge agent, from its package.json. */
export const AGENT_VERSION: string = createRequire(import.meta.url)("../package.json").version;

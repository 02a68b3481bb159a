/**
 * `npm run build:edge`: bundles the edge agent into plain JavaScript (`edge/dist/edge.mjs`), the
 * form it runs in on an appliance: no TypeScript loader in the process (about 35 MB less RSS).
 * Third-party packages stay external (node_modules ships with it); our workspaces are bundled.
 */
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { buildUiTo } from "../src/http/ui-assets.js";

const root = join(import.meta.dirname, "../..");
const dependencies = (dir: string): string[] =>
  Object.keys(JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")).dependencies ?? {});

/**
 * V8 flags the appliance runs the edge with: a small young generation keeps the resident set about
 * 20 MB lower for a few tenths of a percent of CPU (measured by `npm run bench -- site`); an old
 * generation limit far above the agent's live heap (about 30 MB) makes V8 collect instead of
 * growing the heap while a backlog streams out (about 50 MB less, `npm run bench -- sync`).
 */
export const APPLIANCE_NODE_FLAGS = ["--max-semi-space-size=2", "--max-old-space-size=128"];

/**
 * Builds the bundle (runnable as `edge/dist/edge.mjs`, with the appliance's flags) and the
 * installer UI next to it (`edge/dist/ui`, which the bundle serves instead of building it) and
 * returns the bundle's path.
 */
export async function buildEdge(): Promise<string> {
  const outfile = join(root, "edge/dist/edge.mjs");
  await build({
    entryPoints: [join(root, "edge/src/main.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: [
      ...new Set([...dependencies("edge"), ...dependencies("proto"), ...dependencies("firmware-config")]),
      // Only loaded to build the UI when `edge/dist/ui` is missing; never part of the bundle.
      "esbuild",
    ].filter((d) => !d.startsWith("@steinmetz/")),
    // Bundled CommonJS helpers need `require`; give the ESM bundle one.
    banner: {
      js: `#!/usr/bin/env -S node ${APPLIANCE_NODE_FLAGS.join(" ")}\nimport { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);`,
    },
    logLevel: "warning",
  });
  chmodSync(outfile, 0o755);
  await buildUiTo(join(root, "edge/dist/ui"));
  return outfile;
}

if (import.meta.filename === process.argv[1]) process.stdout.write(`${await buildEdge()}\n`);

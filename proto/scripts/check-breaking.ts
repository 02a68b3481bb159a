/**
 * Checks the .proto files against the last released contract: `released/steinmetz-sync-v1.binpb`
 * is a buf image of the contract as released (`npm run release-image --workspace proto` makes it
 * from the current files at a release). Edges and hubs of different releases talk to each other,
 * so a change that breaks the released contract (a field renumbered, removed or retyped, an RPC
 * removed, ...) fails here; adding RPCs, messages and fields does not. Rules: buf.yaml `breaking`.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

/** The image of the last released contract, relative to the proto module. */
export const RELEASED_IMAGE = "released/steinmetz-sync-v1.binpb";

const root = join(import.meta.dirname, "..");

/**
 * Runs `buf breaking` on the module at `moduleDir` against the released image; throws when the
 * module breaks it (buf's findings go to stderr, or nowhere with `output` "ignore").
 */
export function checkBreaking(moduleDir = root, buf = "buf", output: "inherit" | "ignore" = "inherit"): void {
  execFileSync(buf, ["breaking", moduleDir, "--against", join(root, RELEASED_IMAGE)], {
    cwd: root,
    stdio: ["ignore", output, output],
  });
}

if (process.argv[1] === import.meta.filename) {
  try {
    checkBreaking();
  } catch {
    process.stderr.write(`proto: the contract breaks the released one (${RELEASED_IMAGE}); see above\n`);
    process.exit(1);
  }
  process.stdout.write(`proto: no breaking change against ${RELEASED_IMAGE}\n`);
}

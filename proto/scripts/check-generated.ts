/**
 * Lints the .proto files and regenerates the TypeScript into a temporary directory;
 * fails when it differs from the committed `src/gen` (someone edited a .proto without
 * running `npm run proto`, or edited generated code by hand).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = join(import.meta.dirname, "..");

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

const run = (args: string[]) => execFileSync("buf", args, { cwd: root, stdio: "inherit" });
run(["lint"]);
const out = mkdtempSync(join(tmpdir(), "proto-gen-"));
try {
  run(["generate", "--output", out]);
  const fresh = join(out, "src/gen");
  const committed = join(root, "src/gen");
  const names = new Set([...listFiles(fresh), ...listFiles(committed)]);
  const stale = [...names].filter((name) => {
    try {
      return !readFileSync(join(fresh, name)).equals(readFileSync(join(committed, name)));
    } catch {
      return true;
    }
  });
  if (stale.length > 0) {
    process.stderr.write(`generated proto code is out of date (run \`npm run proto\`): ${stale.join(", ")}\n`);
    process.exit(1);
  }
  process.stdout.write(`proto: lint clean, ${names.size} generated file(s) up to date\n`);
} finally {
  rmSync(out, { recursive: true, force: true });
}

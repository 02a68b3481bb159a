/**
 * The breaking-change check of `npm run proto:check`: the current contract passes against the
 * released image, and copies of it with a deliberate break (a field renumbered, an RPC removed, a
 * field retyped) fail it, while an added field passes.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { checkBreaking } from "../scripts/check-breaking.js";

const proto = join(import.meta.dirname, "..");
const buf = join(proto, "../node_modules/.bin/buf");
const file = "steinmetz/sync/v1/sync.proto";

/** A copy of the proto module with `edit` applied to sync.proto; removed after the test. */
function editedCopy(t: Test, edit: (source: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), "proto-breaking-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(proto, "buf.yaml"), join(dir, "buf.yaml"));
  cpSync(join(proto, "steinmetz"), join(dir, "steinmetz"), { recursive: true });
  const source = readFileSync(join(dir, file), "utf8");
  const edited = edit(source);
  t.not(edited, source, "the copy was changed");
  writeFileSync(join(dir, file), edited);
  return dir;
}

/** Runs the check quietly; resolves with whether it passed. */
function passes(moduleDir: string): boolean {
  try {
    checkBreaking(moduleDir, buf, "ignore");
    return true;
  } catch {
    return false;
  }
}

t.test("the contract as it is does not break the released one", async (t) => {
  t.ok(passes(proto));
});

t.test("a renumbered field breaks it", async (t) => {
  t.notOk(passes(editedCopy(t, (s) => s.replace("uint64 next_seq = 5;", "uint64 next_seq = 15;"))));
});

t.test("a removed RPC breaks it", async (t) => {
  t.notOk(passes(editedCopy(t, (s) => s.replace(/ {2}rpc ReportGaps\(.*\n/, ""))));
});

t.test("a retyped field breaks it", async (t) => {
  t.notOk(passes(editedCopy(t, (s) => s.replace("uint64 committed_seq = 1;", "string committed_seq = 1;"))));
});

t.test("an added field does not", async (t) => {
  t.ok(
    passes(
      editedCopy(t, (s) =>
        s.replace("uint64 next_seq = 5;", "uint64 next_seq = 5;\n  // test only\n  string extra = 99;"),
      ),
    ),
  );
});

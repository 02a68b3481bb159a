import type { Queryable } from "../../db/queryable.js";
import { fieldError, hubError } from "../../errors.js";
import { insertRecord, lockRecord, refusalOf } from "../../platform/resources/repository.js";
import { finaliseDocument } from "./documents.js";
import { invoiceLines, invoices } from "./entities.js";

/** What to credit: lines of the invoice and how much of each (default: all that is left). */
export interface CreditRequest {
  lines?: Array<{ lineId: string; quantity?: number }>;
  issueDate?: string;
  notes?: string;
}

/**
 * Cancels a finalised invoice, in full or by line, with a credit note (381) of its own number
 * range that corrects it: each line credits a line of the invoice at its price and VAT, never
 * more than is left of it after earlier credit notes (the original's row lock orders concurrent
 * cancellations; the database's trigger refuses what would credit too much). The credit note is
 * finalised in the same transaction. Returns its id.
 */
export async function creditInvoice(tx: Queryable, invoiceId: string, request: CreditRequest): Promise<string> {
  const original = await lockRecord(tx, invoices, invoiceId, null);
  if (original.status !== "finalised" || original.typeCode !== 380) {
    throw hubError("HUB_ERR_VALIDATION", `only a finalised invoice is cancelled by a credit note, not ${original.id}`);
  }
  const { rows } = await tx.query(
    `SELECT l.id, l.quantity, l.quantity - (SELECT coalesce(sum(c.quantity), 0) FROM erp.invoice_lines c
       WHERE c.credits_line_id = l.id) AS remaining
     FROM erp.invoice_lines l WHERE l.invoice_id = $1 ORDER BY l.position`,
    [invoiceId],
  );
  const remaining = new Map(rows.map((r) => [r.id as string, Number(r.remaining)]));
  const credits: Array<{ lineId: string; quantity: number }> = [];
  if (request.lines) {
    const seen = new Set<string>();
    request.lines.forEach((wanted, i) => {
      const left = remaining.get(wanted.lineId);
      if (left === undefined || seen.has(wanted.lineId)) {
        throw fieldError("HUB_ERR_VALIDATION", [
          { path: `/lines/${i}/lineId`, message: `is not a line of invoice ${original.number}, or named twice` },
        ]);
      }
      seen.add(wanted.lineId);
      const quantity = wanted.quantity === undefined ? left : Math.sign(left || 1) * wanted.quantity;
      if (left === 0 || Math.abs(quantity) > Math.abs(left)) {
        throw fieldError("HUB_ERR_ALREADY_CREDITED", [
          { path: `/lines/${i}/quantity`, message: `${Math.abs(left)} of this line are left to credit` },
        ]);
      }
      credits.push({ lineId: wanted.lineId, quantity });
    });
  } else {
    for (const [lineId, left] of remaining) if (left !== 0) credits.push({ lineId, quantity: left });
    if (!credits.length) {
      throw hubError("HUB_ERR_ALREADY_CREDITED", `invoice ${original.number} is credited in full already`);
    }
  }
  const note = await tx.query(
    `INSERT INTO erp.invoices (type_code, customer_id, project_id, site_id, corrects_id, issue_date, delivery_date,
       buyer_reference, notes)
     SELECT 381, customer_id, project_id, site_id, id, $2, coalesce(delivery_date, issue_date), buyer_reference, $3
     FROM erp.invoices WHERE id = $1 RETURNING id`,
    [invoiceId, request.issueDate ?? null, request.notes ?? `Gutschrift zu Rechnung ${original.number}`],
  );
  const creditNoteId: string = note.rows[0]?.id;
  try {
    await tx.query(
      `INSERT INTO erp.invoice_lines (invoice_id, position, kind, article_id, serial_number, description, quantity, unit,
         unit_price_cents, vat_category, vat_rate, exemption_reason, credits_line_id)
       SELECT $1, c.ord, l.kind, l.article_id, l.serial_number, l.description, c.quantity, l.unit, l.unit_price_cents,
         l.vat_category, l.vat_rate, l.exemption_reason, l.id
       FROM unnest($2::uuid[], $3::numeric[]) WITH ORDINALITY AS c(line_id, quantity, ord)
       JOIN erp.invoice_lines l ON l.id = c.line_id ORDER BY c.ord`,
      [creditNoteId, credits.map((c) => c.lineId), credits.map((c) => c.quantity)],
    );
  } catch (err) {
    throw refusalOf(invoiceLines, err);
  }
  await finaliseDocument(tx, creditNoteId);
  return creditNoteId;
}

/** How a draft's hours line is made from time bookings. */
export interface HoursRequest {
  position: number;
  description?: string;
  hourlyRateCents: number;
  vatCategory: "S" | "Z" | "E" | "AE";
  vatRate: number;
  exemptionReason?: string;
  /** Bookings worked up to this day (default: all). */
  to?: string;
}

/**
 * Adds one hours line to a draft from the time bookings of its project that no invoice line
 * has yet (corrections included): their hours at the rate given. Each booking is recorded
 * against the line (`erp.invoiced_time_bookings`, one line per booking: a second draft invoicing
 * the same bookings is refused); deleting the draft gives them back.
 */
export async function invoiceHours(tx: Queryable, invoiceId: string, request: HoursRequest) {
  const invoice = await lockRecord(tx, invoices, invoiceId, null);
  if (invoice.status !== "draft") {
    throw hubError("HUB_ERR_INVOICE_FINALISED", `invoice ${invoice.number} is finalised: it takes no more lines`);
  }
  if (!invoice.projectId) {
    throw fieldError("HUB_ERR_VALIDATION", [{ path: "/projectId", message: "the invoice names no project" }]);
  }
  const { rows } = await tx.query(
    `SELECT b.id, b.hours, b.work_date::text AS work_date, p.number FROM erp.time_bookings b
     JOIN erp.projects p ON p.id = b.project_id
     WHERE b.project_id = $1 AND ($2::date IS NULL OR b.work_date <= $2)
       AND NOT EXISTS (SELECT FROM erp.invoiced_time_bookings x WHERE x.time_booking_id = b.id)
     ORDER BY b.work_date, b.id`,
    [invoice.projectId, request.to ?? null],
  );
  const hours = rows.reduce((sum, r) => sum + Number(r.hours), 0);
  if (!rows.length || hours <= 0) {
    throw hubError("HUB_ERR_VALIDATION", "the project has no hours booked that are not invoiced yet");
  }
  const first = rows[0]?.work_date;
  const last = rows[rows.length - 1]?.work_date;
  const line = await insertRecord(tx, invoiceLines, {
    invoiceId,
    position: request.position,
    kind: "hours",
    description:
      request.description ??
      `Arbeitszeit Projekt ${rows[0]?.number}, ${first === last ? first : `${first} bis ${last}`} (${rows.length} Buchungen)`,
    quantity: Math.round(hours * 100) / 100,
    unit: "HUR",
    unitPriceCents: request.hourlyRateCents,
    vatCategory: request.vatCategory,
    vatRate: request.vatRate,
    exemptionReason: request.exemptionReason ?? null,
  });
  try {
    await tx.query(
      "INSERT INTO erp.invoiced_time_bookings (time_booking_id, invoice_line_id) SELECT unnest($1::uuid[]), $2",
      [rows.map((r) => r.id), line.id],
    );
  } catch (err) {
    if ((err as { code?: string }).code !== "23505") throw err;
    throw hubError("HUB_ERR_DUPLICATE", "some of these bookings were invoiced by another line meanwhile: try again");
  }
  return line;
}

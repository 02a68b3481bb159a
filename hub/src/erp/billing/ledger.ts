import type { Queryable } from "../../db/queryable.js";
import type { DatevPayment } from "./datev.js";
import type { BillingDocument } from "./document.js";

/** Which open items to list. */
export interface OpenItemsQuery {
  customerId?: string;
  overdue?: boolean;
  /** YYYY-MM-DD; default today (the database's date). */
  asOf?: string;
  limit: number;
}

/**
 * Finalised invoices with an amount open (gross less credit notes and payments, `erp.open_items`),
 * by due date: per customer, or only those past due as of a day, with the days overdue and the
 * total. A negative amount is a credit the customer has (a credit note after payment).
 */
export async function openItems(db: Queryable, query: OpenItemsQuery) {
  const { rows } = await db.query(
    `SELECT o.invoice_id, o.number, o.customer_id, c.number AS customer_number, c.name, o.issue_date::text AS issue_date,
       o.due_date::text AS due_date, o.gross_cents, o.credited_cents, o.paid_cents, o.open_cents,
       greatest(coalesce($3::date, current_date) - o.due_date, 0) AS days_overdue
     FROM erp.open_items o JOIN erp.customers c ON c.id = o.customer_id
     WHERE o.open_cents <> 0 AND ($1::uuid IS NULL OR o.customer_id = $1)
       AND (NOT $2::boolean OR (o.due_date < coalesce($3::date, current_date) AND o.open_cents > 0))
     ORDER BY o.due_date, o.number LIMIT $4`,
    [query.customerId ?? null, query.overdue ?? false, query.asOf ?? null, query.limit],
  );
  const items = rows.map((r) => ({
    invoiceId: r.invoice_id,
    number: r.number,
    customerId: r.customer_id,
    customerNumber: r.customer_number,
    customerName: r.name,
    issueDate: r.issue_date,
    dueDate: r.due_date,
    grossCents: Number(r.gross_cents),
    creditedCents: Number(r.credited_cents),
    paidCents: Number(r.paid_cents),
    openCents: Number(r.open_cents),
    daysOverdue: Number(r.days_overdue),
  }));
  return { items, totalOpenCents: items.reduce((sum, i) => sum + i.openCents, 0) };
}

/**
 * What the DATEV export of a period books: the documents (as finalised) issued in it and the
 * payments made in it, with the invoice and customer they clear.
 */
export async function datevPeriod(
  db: Queryable,
  from: string,
  to: string,
): Promise<{ documents: BillingDocument[]; payments: DatevPayment[] }> {
  const documents = await db.query(
    `SELECT d.document FROM erp.invoice_documents d JOIN erp.invoices i ON i.id = d.invoice_id
     WHERE i.issue_date BETWEEN $1 AND $2 ORDER BY i.issue_date, i.number`,
    [from, to],
  );
  const payments = await db.query(
    `SELECT i.number AS invoice_number, d.document->'buyer'->>'customerNumber' AS customer_number,
       d.document->'buyer'->>'name' AS customer_name, p.paid_on::text AS paid_on, p.amount_cents, p.reference
     FROM erp.payments p JOIN erp.invoices i ON i.id = p.invoice_id JOIN erp.invoice_documents d ON d.invoice_id = i.id
     WHERE p.paid_on BETWEEN $1 AND $2 ORDER BY p.paid_on, p.number`,
    [from, to],
  );
  return {
    documents: documents.rows.map((r) => r.document as BillingDocument),
    payments: payments.rows.map((r) => ({
      invoiceNumber: r.invoice_number,
      customerNumber: r.customer_number,
      customerName: r.customer_name,
      paidOn: r.paid_on,
      amountCents: Number(r.amount_cents),
      reference: r.reference,
    })),
  };
}

import type { Queryable } from "../../db/queryable.js";

/**
 * A quote is accepted (inside the transition's transaction): its project — a new installation
 * project for the customer and site when the quote has none, budgeted at the quote's net — is
 * ordered (a project still at lead or quoted moves to ordered), and an invoice draft for the
 * customer, project and site gets the quote's lines. The quote records both and when it was
 * accepted. Every write goes through the tables' triggers (audit trail, line checks).
 */
export async function acceptQuote(tx: Queryable, quoteId: string): Promise<void> {
  const { rows } = await tx.query(
    `SELECT q.number, q.title, q.customer_id, q.site_id, q.project_id,
       (SELECT coalesce(sum(line_net_cents), 0) FROM erp.quote_lines WHERE quote_id = q.id) AS net_cents
     FROM erp.quotes q WHERE q.id = $1`,
    [quoteId],
  );
  const quote = rows[0];
  if (!quote) throw new Error(`quote ${quoteId} vanished within its transition`);
  let projectId: string = quote.project_id;
  if (projectId) {
    await tx.query(
      `UPDATE erp.projects SET status = 'ordered', version = version + 1, updated_at = now()
       WHERE id = $1 AND status IN ('lead', 'quoted')`,
      [projectId],
    );
  } else {
    const project = await tx.query(
      `INSERT INTO erp.projects (title, customer_id, site_id, kind, status, budget_cents)
       VALUES ($1, $2, $3, 'installation', 'ordered', $4) RETURNING id`,
      [quote.title, quote.customer_id, quote.site_id, quote.net_cents],
    );
    projectId = project.rows[0]?.id;
  }
  const invoice = await tx.query(
    `INSERT INTO erp.invoices (customer_id, project_id, site_id, notes)
     VALUES ($1, $2, $3, $4) RETURNING id`,
    [quote.customer_id, projectId, quote.site_id, `Gemäß unserem Angebot ${quote.number}.`],
  );
  const invoiceId: string = invoice.rows[0]?.id;
  await tx.query(
    `INSERT INTO erp.invoice_lines (invoice_id, position, kind, article_id, description, quantity, unit,
       unit_price_cents, vat_category, vat_rate, exemption_reason)
     SELECT $1, position, kind, article_id, description, quantity, unit, unit_price_cents, vat_category, vat_rate,
       exemption_reason
     FROM erp.quote_lines WHERE quote_id = $2 ORDER BY position`,
    [invoiceId, quoteId],
  );
  await tx.query(
    `UPDATE erp.quotes SET project_id = $2, invoice_id = $3, accepted_at = now(), version = version + 1,
       updated_at = now() WHERE id = $1`,
    [quoteId, projectId, invoiceId],
  );
}

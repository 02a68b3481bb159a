import type { Queryable } from "../../db/queryable.js";
import { hubError } from "../../errors.js";
import { refusalOf } from "../../platform/resources/repository.js";
import type { BillingDocument, DocumentLine, VatCategory } from "./document.js";
import { vatBreakdownOf } from "./document.js";
import { invoices } from "./entities.js";
import { loadCompanySettings, sellerOf } from "./settings.js";

/**
 * Finalises a draft in the caller's transaction: the company settings must name the seller
 * completely (else `HUB_ERR_SETTINGS_MISSING`, nothing numbered); the document — parties, lines,
 * VAT breakdown — is assembled from the draft, and `erp.finalise_invoice` checks the draft,
 * computes its totals, takes its number last and keeps the document with its number, dates and
 * totals in `erp.invoice_documents`, from which every later PDF and XRechnung is rendered. The
 * caller has locked the draft.
 */
export async function finaliseDocument(tx: Queryable, invoiceId: string): Promise<BillingDocument> {
  const settings = await loadCompanySettings(tx);
  const draft = await assembleDraft(tx, invoiceId, sellerOf(settings), settings.paymentTermsDays);
  try {
    const { rows } = await tx.query("SELECT erp.finalise_invoice($1, $2) AS document", [invoiceId, draft]);
    return rows[0]?.document as BillingDocument;
  } catch (err) {
    throw refusalOf(invoices, err);
  }
}

/** The finalised document `invoiceId` as it was finalised; 404 for a draft or an unknown id. */
export async function loadDocument(db: Queryable, invoiceId: string): Promise<BillingDocument> {
  const { rows } = await db.query("SELECT document FROM erp.invoice_documents WHERE invoice_id = $1", [invoiceId]);
  if (!rows[0]) {
    throw hubError("HUB_ERR_NOT_FOUND", `invoice ${invoiceId} does not exist or is a draft (finalise it first)`);
  }
  return rows[0].document as BillingDocument;
}

/** What the database finalises a document with: everything but its number, dates and totals. */
type DraftDocument = Omit<
  BillingDocument,
  "id" | "typeCode" | "number" | "issueDate" | "dueDate" | "deliveryDate" | "netCents" | "vatCents" | "grossCents"
>;

/** The document of a draft as its rows say, to be finalised (the same transaction). */
async function assembleDraft(
  tx: Queryable,
  invoiceId: string,
  seller: BillingDocument["seller"],
  paymentTermsDays: number,
): Promise<DraftDocument> {
  const { rows } = await tx.query(
    `SELECT i.buyer_reference, i.notes, c.number AS customer_number, c.name, c.kind, c.street, c.postal_code, c.city, c.country, c.vat_id, c.email,
       c.leitweg_id, o.number AS corrects_number, o.issue_date::text AS corrects_issue_date,
       s.street AS site_street, s.postal_code AS site_postal_code, s.city AS site_city, s.country AS site_country
     FROM erp.invoices i JOIN erp.customers c ON c.id = i.customer_id
     LEFT JOIN erp.invoices o ON o.id = i.corrects_id LEFT JOIN erp.sites s ON s.id = i.site_id
     WHERE i.id = $1`,
    [invoiceId],
  );
  const r = rows[0];
  if (!r) throw hubError("HUB_ERR_NOT_FOUND", `invoice ${invoiceId} does not exist`);
  const lineRows = await tx.query(
    `SELECT l.position, l.kind, l.description, a.number AS article_number, l.serial_number, l.quantity, l.unit,
       l.unit_price_cents, l.line_net_cents, l.vat_category, l.vat_rate, l.exemption_reason
     FROM erp.invoice_lines l LEFT JOIN erp.articles a ON a.id = l.article_id
     WHERE l.invoice_id = $1 ORDER BY l.position`,
    [invoiceId],
  );
  const lines: DocumentLine[] = lineRows.rows.map((l) => ({
    position: l.position,
    kind: l.kind,
    description: l.description,
    articleNumber: l.article_number,
    serialNumber: l.serial_number,
    quantity: Number(l.quantity),
    unit: l.unit,
    unitPriceCents: Number(l.unit_price_cents),
    lineNetCents: Number(l.line_net_cents),
    vatCategory: l.vat_category as VatCategory,
    vatRate: Number(l.vat_rate),
    exemptionReason: l.exemption_reason,
  }));
  const siteAddress = r.site_city
    ? { street: r.site_street, postalCode: r.site_postal_code, city: r.site_city, country: r.site_country ?? "DE" }
    : null;
  const sameAsBuyer = siteAddress && siteAddress.street === r.street && siteAddress.city === r.city;
  return {
    currency: "EUR",
    buyerReference: r.buyer_reference ?? r.leitweg_id ?? r.customer_number,
    notes: r.notes,
    deliveryAddress: sameAsBuyer ? null : siteAddress,
    corrects: r.corrects_number ? { number: r.corrects_number, issueDate: r.corrects_issue_date } : null,
    seller,
    buyer: {
      customerNumber: r.customer_number,
      name: r.name,
      kind: r.kind,
      street: r.street,
      postalCode: r.postal_code,
      city: r.city,
      country: r.country,
      vatId: r.vat_id,
      email: r.email,
    },
    lines,
    vatBreakdown: vatBreakdownOf(lines),
    paymentTermsDays,
  };
}

import { Type } from "@sinclair/typebox";
import type { Queryable } from "../../db/queryable.js";
import { defineEntity } from "../../platform/resources/entity.js";
import { f } from "../../platform/resources/fields.js";
import { vatBreakdownOf } from "./document.js";
import { acceptQuote } from "./quotes.js";

const FINALISED = {
  field: "status",
  code: "HUB_ERR_INVOICE_FINALISED" as const,
  message: "the invoice is finalised: it cannot be changed or deleted (cancel it by a credit note)",
};

/** A document's lines as its view shows them, in position order. */
const lineSchema = Type.Object({
  id: Type.String({ format: "uuid" }),
  position: Type.Integer(),
  kind: Type.String(),
  description: Type.String(),
  serialNumber: Type.Union([Type.String(), Type.Null()]),
  quantity: Type.Number(),
  unit: Type.String(),
  unitPriceCents: Type.Integer(),
  lineNetCents: Type.Integer(),
  vatCategory: Type.String(),
  vatRate: Type.Number(),
  creditsLineId: Type.Union([Type.String({ format: "uuid" }), Type.Null()]),
});

async function loadLines(db: Queryable, table: "invoice_lines" | "quote_lines", documentId: string) {
  const invoice = table === "invoice_lines";
  const { rows } = await db.query(
    `SELECT id, position, kind, description, quantity, unit, unit_price_cents, line_net_cents, vat_category, vat_rate,
       ${invoice ? "serial_number, credits_line_id" : "NULL AS serial_number, NULL AS credits_line_id"}
     FROM erp.${table} WHERE ${invoice ? "invoice_id" : "quote_id"} = $1 ORDER BY position`,
    [documentId],
  );
  return rows.map((l) => ({
    id: l.id,
    position: l.position,
    kind: l.kind,
    description: l.description,
    serialNumber: l.serial_number,
    quantity: Number(l.quantity),
    unit: l.unit,
    unitPriceCents: Number(l.unit_price_cents),
    lineNetCents: Number(l.line_net_cents),
    vatCategory: l.vat_category,
    vatRate: Number(l.vat_rate),
    creditsLineId: l.credits_line_id,
  }));
}

const totalsSchema = { netCents: Type.Integer(), vatCents: Type.Integer(), grossCents: Type.Integer() };

/** A quote's lines and the totals they come to (computed as finalisation computes an invoice's). */
async function loadQuoteLines(db: Queryable, quote: { id: string }) {
  const lines = await loadLines(db, "quote_lines", quote.id);
  const netCents = lines.reduce((sum, l) => sum + l.lineNetCents, 0);
  const vatCents = vatBreakdownOf(lines).reduce((sum, g) => sum + g.taxCents, 0);
  return { lines, netCents, vatCents, grossCents: netCents + vatCents };
}

/**
 * Invoices (380) and credit notes (381). A draft has no number and may be changed or deleted;
 * `POST /invoices/{id}/finalise` computes its totals and gives it the next number of its series
 * (RE-YYYY-00001…, GS-YYYY-… for credit notes) without gaps; from then on the database refuses
 * every change, and the attempt is audited.
 */
export const invoices = defineEntity({
  name: "invoices",
  table: "erp.invoices",
  label: { de: "Rechnung", en: "Invoice" },
  plural: { de: "Rechnungen", en: "Invoices" },
  titleField: "number",
  permissions: { read: "billing:read", write: "billing:write" },
  deletable: true,
  defaultSort: "-createdAt",
  fields: {
    number: f.text({ de: "Rechnungsnummer", en: "Invoice number" }, 20, {
      readOnly: true,
      nullable: true,
      list: true,
      search: true,
    }),
    typeCode: f.integer(
      { de: "Belegart (380 Rechnung, 381 Gutschrift)", en: "Type (380 invoice, 381 credit note)" },
      {
        minimum: 380,
        maximum: 381,
      },
      { readOnly: true, list: true, filter: "in" },
    ),
    correctsId: f.ref({ de: "Korrigiert Rechnung", en: "Corrects invoice" }, "invoices", {
      readOnly: true,
      nullable: true,
      filter: "in",
    }),
    status: f.enum(
      { de: "Status", en: "Status" },
      [
        { value: "draft", label: { de: "Entwurf", en: "Draft" } },
        { value: "finalised", label: { de: "Festgeschrieben", en: "Finalised" } },
      ],
      { readOnly: true, list: true, filter: "in", sort: true },
    ),
    customerId: f.ref({ de: "Kunde", en: "Customer" }, "customers", { required: true, list: true, filter: "in" }),
    projectId: f.ref({ de: "Projekt", en: "Project" }, "projects", { nullable: true, filter: "in" }),
    siteId: f.ref({ de: "Anlage", en: "Site" }, "sites", { nullable: true, filter: "in" }),
    issueDate: f.date({ de: "Rechnungsdatum", en: "Issue date" }, { nullable: true, list: true, filter: "range" }),
    dueDate: f.date({ de: "Fällig am", en: "Due date" }, { nullable: true, filter: "range" }),
    deliveryDate: f.date({ de: "Leistungsdatum", en: "Delivery date" }, { nullable: true }),
    buyerReference: f.text({ de: "Käuferreferenz (Leitweg-ID)", en: "Buyer reference (Leitweg-ID)" }, 200, {
      nullable: true,
    }),
    notes: f.longtext({ de: "Hinweise", en: "Notes" }, 4000, { nullable: true }),
    netCents: f.cents({ de: "Netto", en: "Net" }, { readOnly: true, nullable: true, list: true }),
    vatCents: f.cents({ de: "USt.", en: "VAT" }, { readOnly: true, nullable: true }),
    grossCents: f.cents({ de: "Brutto", en: "Gross" }, { readOnly: true, nullable: true, list: true }),
    finalisedAt: f.timestamp({ de: "Festgeschrieben am", en: "Finalised at" }, { readOnly: true, nullable: true }),
  },
  constraints: {
    invoice_finalised: FINALISED,
    invoice_has_lines: { field: "status", message: "an invoice without lines cannot be finalised" },
    invoice_reverse_charge_vat_id: { field: "customerId", message: "reverse charge (AE) needs the customer's VAT id" },
    invoice_lines_serial: { field: "status", message: "a serialised article is invoiced with its serial number" },
    invoice_buyer_address: {
      field: "customerId",
      message: "an invoice names the customer's full address (§ 14 Abs. 4 UStG): street, postal code and city",
    },
    invoices_corrects_finalised: { field: "correctsId", message: "a credit note corrects a finalised invoice" },
    invoice_document: { field: "status", message: "the document does not show the invoice's lines and VAT" },
  },
  auditRefusals: ["HUB_ERR_INVOICE_FINALISED"],
  detail: {
    schema: { lines: Type.Array(lineSchema) },
    load: async (db, invoice) => ({ lines: await loadLines(db, "invoice_lines", invoice.id) }),
  },
});

/** The fields of a document line, shared by quotes and invoices (the tables' checks are the same). */
const lineFields = {
  position: f.integer(
    { de: "Pos.", en: "Pos." },
    { minimum: 1, maximum: 9999 },
    { required: true, list: true, sort: true },
  ),
  kind: f.enum(
    { de: "Art", en: "Kind" },
    [
      { value: "article", label: { de: "Artikel", en: "Article" } },
      { value: "hours", label: { de: "Arbeitszeit", en: "Hours" } },
      { value: "flat", label: { de: "Pauschale", en: "Flat item" } },
    ],
    { required: true, list: true },
  ),
  articleId: f.ref({ de: "Artikel", en: "Article" }, "articles", { nullable: true }),
  description: f.text({ de: "Beschreibung", en: "Description" }, 1000, { required: true, list: true }),
  quantity: f.decimal({ de: "Menge", en: "Quantity" }, { minimum: -1e9, maximum: 1e9 }, { required: true, list: true }),
  unit: f.pattern(
    { de: "Einheit (UN/ECE 20)", en: "Unit (UN/ECE 20)" },
    "^[A-Z0-9]{2,3}$",
    "H87 piece, HUR hour, MTR metre, C62 one",
  ),
  unitPriceCents: f.cents({ de: "Einzelpreis", en: "Unit price" }, { required: true, list: true }),
  lineNetCents: f.cents({ de: "Netto", en: "Net" }, { readOnly: true, list: true }),
  vatCategory: f.enum(
    { de: "USt.-Kategorie", en: "VAT category" },
    [
      { value: "S", label: { de: "Regelsatz (19 % / 7 %)", en: "Standard (19 % / 7 %)" } },
      { value: "Z", label: { de: "0 % PV-Anlage (§ 12 Abs. 3 UStG)", en: "0 % PV system (§12 (3) UStG)" } },
      { value: "E", label: { de: "Steuerbefreit", en: "Exempt" } },
      { value: "AE", label: { de: "Reverse Charge (§ 13b UStG)", en: "Reverse charge (§13b UStG)" } },
    ],
    { required: true, list: true },
  ),
  vatRate: f.decimal(
    { de: "USt.-Satz %", en: "VAT rate %" },
    { minimum: 0, maximum: 100 },
    { required: true, list: true },
  ),
  exemptionReason: f.text({ de: "Befreiungsgrund", en: "Exemption reason" }, 500, { nullable: true }),
};

/** What a refusal of a line's named checks means (the constraint names carry the table's prefix). */
const lineConstraints = (table: "invoice_lines" | "quote_lines", document: string) => ({
  [`${table}_position`]: { field: "position", message: `the ${document} has a line at this position already` },
  [`${table}_article`]: { field: "articleId", message: "an article line names its article, other lines none" },
  [`${table}_vat_rate`]: { field: "vatRate", message: "S is 19 or 7 %, Z, E and AE are 0 %" },
  [`${table}_exemption`]: { field: "exemptionReason", message: "an exempt line (E) states its reason; others none" },
});

/** Lines of a draft: an article (with its serial number where serialised), hours or a flat item. */
export const invoiceLines = defineEntity({
  name: "invoice-lines",
  table: "erp.invoice_lines",
  label: { de: "Rechnungsposition", en: "Invoice line" },
  plural: { de: "Rechnungspositionen", en: "Invoice lines" },
  titleField: "description",
  permissions: { read: "billing:read", write: "billing:write" },
  deletable: true,
  defaultSort: "position",
  fields: {
    invoiceId: f.ref({ de: "Rechnung", en: "Invoice" }, "invoices", { required: true, list: true, filter: "in" }),
    ...lineFields,
    serialNumber: f.text({ de: "Seriennummer", en: "Serial number" }, 100, { nullable: true }),
    creditsLineId: f.ref({ de: "Gutschrift zu Position", en: "Credits line" }, "invoice-lines", {
      readOnly: true,
      nullable: true,
    }),
  },
  constraints: {
    invoice_finalised: { ...FINALISED, field: "invoiceId" },
    invoice_lines_credit_exceeds: {
      field: "quantity",
      code: "HUB_ERR_ALREADY_CREDITED",
      message: "more than the invoice line has left to credit",
    },
    invoice_lines_credit_shape: {
      field: "creditsLineId",
      message: "a credit note's lines credit lines of the invoice it corrects (use POST /invoices/{id}/cancel)",
    },
    ...lineConstraints("invoice_lines", "invoice"),
  },
  auditRefusals: ["HUB_ERR_INVOICE_FINALISED"],
});

/**
 * Quotes (Angebote): numbered at creation (AN-00001…), edited while a draft; sent, then accepted
 * — which starts the order (project ordered, stock reserved, installation ticket, gateway
 * enrollment, invoice draft with the quote's lines: quotes.ts) —, rejected, or cancelled. What a sent quote offers no longer changes (trigger).
 */
export const quotes = defineEntity({
  name: "quotes",
  table: "erp.quotes",
  label: { de: "Angebot", en: "Quote" },
  plural: { de: "Angebote", en: "Quotes" },
  titleField: "title",
  permissions: { read: "billing:read", write: "projects:write" },
  deletable: true,
  defaultSort: "-createdAt",
  fields: {
    number: f.text({ de: "Angebotsnummer", en: "Quote number" }, 20, {
      readOnly: true,
      list: true,
      sort: true,
      search: true,
    }),
    title: f.text({ de: "Titel", en: "Title" }, 200, { required: true, list: true, sort: true, search: true }),
    status: f.enum(
      { de: "Status", en: "Status" },
      [
        { value: "draft", label: { de: "Entwurf", en: "Draft" } },
        { value: "sent", label: { de: "Versendet", en: "Sent" } },
        { value: "accepted", label: { de: "Angenommen", en: "Accepted" } },
        { value: "rejected", label: { de: "Abgelehnt", en: "Rejected" } },
        { value: "cancelled", label: { de: "Storniert", en: "Cancelled" } },
      ],
      { readOnly: true, list: true, filter: "in", sort: true },
    ),
    customerId: f.ref({ de: "Kunde", en: "Customer" }, "customers", { required: true, list: true, filter: "in" }),
    projectId: f.ref({ de: "Projekt", en: "Project" }, "projects", { nullable: true, filter: "in" }),
    siteId: f.ref({ de: "Anlage", en: "Site" }, "sites", { nullable: true, filter: "in" }),
    validUntil: f.date({ de: "Gültig bis", en: "Valid until" }, { nullable: true, list: true, filter: "range" }),
    notes: f.longtext({ de: "Hinweise", en: "Notes" }, 4000, { nullable: true }),
    acceptedAt: f.timestamp({ de: "Angenommen am", en: "Accepted at" }, { readOnly: true, nullable: true }),
    invoiceId: f.ref({ de: "Rechnungsentwurf", en: "Invoice draft" }, "invoices", { readOnly: true, nullable: true }),
  },
  workflow: {
    field: "status",
    initial: "draft",
    transitions: [
      { from: ["draft"], to: "sent", permission: "projects:write" },
      { from: ["sent"], to: "draft", permission: "projects:write" },
      { from: ["sent"], to: "accepted", permission: "projects:write" },
      { from: ["sent"], to: "rejected", permission: "projects:write" },
      { from: ["draft", "sent"], to: "cancelled", permission: "projects:write" },
    ],
  },
  constraints: {
    quote_not_draft: { field: "status", message: "only a draft quote changes; send it back to draft first" },
  },
  hooks: {
    afterTransition: (tx, change) =>
      change.to === "accepted" ? acceptQuote(tx, change.id, change.principal) : Promise.resolve(),
  },
  detail: { schema: { lines: Type.Array(lineSchema), ...totalsSchema }, load: loadQuoteLines },
});

/** Lines of a draft quote. */
export const quoteLines = defineEntity({
  name: "quote-lines",
  table: "erp.quote_lines",
  label: { de: "Angebotsposition", en: "Quote line" },
  plural: { de: "Angebotspositionen", en: "Quote lines" },
  titleField: "description",
  permissions: { read: "billing:read", write: "projects:write" },
  deletable: true,
  defaultSort: "position",
  fields: {
    quoteId: f.ref({ de: "Angebot", en: "Quote" }, "quotes", { required: true, list: true, filter: "in" }),
    ...lineFields,
  },
  constraints: {
    quote_not_draft: { field: "quoteId", message: "the quote is no longer a draft: its lines cannot change" },
    ...lineConstraints("quote_lines", "quote"),
  },
});

/**
 * Payments: an append-only ledger on finalised invoices. The database refuses a payment above
 * what the invoice has open (its gross less credit notes and earlier payments) and takes a wrong
 * one back only by its reversal (`reversesId`, once, in full).
 */
export const payments = defineEntity({
  name: "payments",
  table: "erp.payments",
  label: { de: "Zahlung", en: "Payment" },
  plural: { de: "Zahlungen", en: "Payments" },
  titleField: "number",
  permissions: { read: "billing:read", write: "billing:write" },
  deletable: false,
  immutable: true,
  defaultSort: "-createdAt",
  fields: {
    number: f.integer({ de: "Nr.", en: "No." }, {}, { readOnly: true, list: true }),
    invoiceId: f.ref({ de: "Rechnung", en: "Invoice" }, "invoices", { required: true, list: true, filter: "in" }),
    amountCents: f.cents(
      { de: "Betrag", en: "Amount" },
      { list: true, help: { de: "bei Storno leer lassen", en: "leave empty for a reversal" } },
    ),
    paidOn: f.date({ de: "Zahlungsdatum", en: "Paid on" }, { list: true, filter: "range" }),
    method: f.enum(
      { de: "Zahlungsart", en: "Method" },
      [
        { value: "transfer", label: { de: "Überweisung", en: "Bank transfer" } },
        { value: "direct_debit", label: { de: "Lastschrift", en: "Direct debit" } },
        { value: "cash", label: { de: "Bar", en: "Cash" } },
        { value: "card", label: { de: "Karte", en: "Card" } },
        { value: "offset", label: { de: "Verrechnung", en: "Offset" } },
      ],
      { list: true, filter: "in" },
    ),
    reference: f.text({ de: "Verwendungszweck", en: "Reference" }, 200, { nullable: true, list: true }),
    reversesId: f.ref({ de: "Storno von", en: "Reverses" }, "payments", { nullable: true }),
    notes: f.longtext({ de: "Notizen", en: "Notes" }, 4000, { nullable: true }),
  },
  constraints: {
    payments_overpaid: { field: "amountCents", code: "HUB_ERR_OVERPAID", message: "more than the invoice has open" },
    payments_reversal_sign: {
      field: "amountCents",
      message: "a payment has a positive amount; a reversal names the payment (reversesId) and no other amount",
    },
    payments_reversal_amount: { field: "amountCents", message: "a reversal takes back its payment in full" },
    payments_reversal: { field: "reversesId", message: "names no payment of this invoice, or a reversal" },
    payments_reverses_id_key: { field: "reversesId", message: "this payment was reversed already" },
    payments_invoice_finalised: { field: "invoiceId", message: "payments are booked on finalised invoices" },
  },
});

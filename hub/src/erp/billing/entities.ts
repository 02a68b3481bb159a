import { Type } from "@sinclair/typebox";
import type { Queryable } from "../../db/queryable.js";
import { defineEntity } from "../../platform/resources/entity.js";
import { f } from "../../platform/resources/fields.js";

const FINALISED = {
  field: "status",
  code: "HUB_ERR_INVOICE_FINALISED" as const,
  message: "the invoice is finalised: it cannot be changed or deleted (cancel it by a credit note)",
};

/** An invoice's lines as its view shows them, in position order. */
const lineSchema = Type.Object({
  id: Type.String({ format: "uuid" }),
  position: Type.Integer(),
  kind: Type.String(),
  description: Type.String(),
  quantity: Type.Number(),
  unit: Type.String(),
  unitPriceCents: Type.Integer(),
  lineNetCents: Type.Integer(),
  vatCategory: Type.String(),
  vatRate: Type.Number(),
});

async function loadLines(db: Queryable, invoice: { id: string }) {
  const { rows } = await db.query(
    `SELECT id, position, kind, description, quantity, unit, unit_price_cents, line_net_cents, vat_category, vat_rate
     FROM erp.invoice_lines WHERE invoice_id = $1 ORDER BY position`,
    [invoice.id],
  );
  return {
    lines: rows.map((l) => ({
      id: l.id,
      position: l.position,
      kind: l.kind,
      description: l.description,
      quantity: Number(l.quantity),
      unit: l.unit,
      unitPriceCents: Number(l.unit_price_cents),
      lineNetCents: Number(l.line_net_cents),
      vatCategory: l.vat_category,
      vatRate: Number(l.vat_rate),
    })),
  };
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
      { readOnly: true, list: true },
    ),
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
  },
  auditRefusals: ["HUB_ERR_INVOICE_FINALISED"],
  detail: { schema: { lines: Type.Array(lineSchema) }, load: loadLines },
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
    serialNumber: f.text({ de: "Seriennummer", en: "Serial number" }, 100, { nullable: true }),
    description: f.text({ de: "Beschreibung", en: "Description" }, 1000, { required: true, list: true }),
    quantity: f.decimal(
      { de: "Menge", en: "Quantity" },
      { minimum: -1e9, maximum: 1e9 },
      { required: true, list: true },
    ),
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
  },
  constraints: {
    invoice_finalised: { ...FINALISED, field: "invoiceId" },
    invoice_lines_position: { field: "position", message: "the invoice has a line at this position already" },
    invoice_lines_article: { field: "articleId", message: "an article line names its article, other lines none" },
    invoice_lines_vat_rate: { field: "vatRate", message: "S is 19 or 7 %, Z, E and AE are 0 %" },
    invoice_lines_exemption: { field: "exemptionReason", message: "an exempt line (E) states its reason; others none" },
  },
  auditRefusals: ["HUB_ERR_INVOICE_FINALISED"],
});

/**
 * The XRechnung 3.0 rendering (UBL 2.1 syntax) of a finalised billing document: an `Invoice` for
 * type 380, a `CreditNote` for 381. It refuses documents the rules would reject instead of writing
 * an invalid e-invoice — missing seller, buyer or reference data and VAT category contradictions
 * become an `XRechnungDataError` naming each field; totals that do not add up are a plain `Error`
 * (finalisation computed them, so that is a bug, not data to fix).
 *
 * Element order follows the UBL 2.1 XSD sequences, which the schematron does not check but
 * receivers' XSD validation does (UBL-Invoice-2.1.xsd, UBL-CreditNote-2.1.xsd and
 * UBL-CommonAggregateComponents-2.1.xsd, https://docs.oasis-open.org/ubl/os-UBL-2.1/xsd/).
 * Rule ids are EN 16931 (BR-xx, https://github.com/ConnectingEurope/eInvoicing-EN16931) and XRechnung
 * (BR-DE-xx, https://github.com/itplr-kosit/xrechnung-schematron).
 */
import { electronicFormatIBAN, isValidBIC, isValidIBAN } from "ibantools";
import {
  type Address,
  type BillingDocument,
  centsText,
  type DocumentLine,
  decimalText,
  legalNotes,
  paymentTermsText,
  type VatGroup,
} from "./document.js";

/** BT-24: XRechnung 3.0 without extension (a different value gives BR-DE-21). */
export const XRECHNUNG_CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0";

/** BT-23: the Peppol billing process, as KoSIT's samples use it. */
export const XRECHNUNG_PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0";

const NS = {
  invoice: "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
  creditNote: "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
  cac: "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
  cbc: "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
};

/** UNTDID 4461 code 58: SEPA credit transfer. */
const SEPA_CREDIT_TRANSFER = "58";

/** One problem that keeps a document from being a valid XRechnung: a field path and what is wrong with it. */
export interface XRechnungProblem {
  /** Path into the `BillingDocument`, e.g. `seller.phone`, `lines[1].exemptionReason`. */
  field: string;
  problem: string;
}

/**
 * The document lacks data XRechnung requires, or holds data its rules refuse (an invalid IBAN, S at
 * 0 %, E without a reason). `fields` names each field as a path into the `BillingDocument`; the
 * route layer maps this error, typically to "complete the company settings / the customer".
 */
export class XRechnungDataError extends Error {
  override readonly name = "XRechnungDataError";
  /** Each offending field, e.g. `seller.phone`, `buyer.email`, `lines[1].vatRate`. */
  readonly fields: string[];
  /** The fields with what is wrong with each. */
  readonly problems: XRechnungProblem[];

  constructor(documentNumber: string, problems: XRechnungProblem[]) {
    super(
      `${documentNumber} cannot be rendered as XRechnung: ${problems.map((p) => `${p.field} ${p.problem}`).join("; ")}`,
    );
    this.problems = problems;
    this.fields = [...new Set(problems.map((p) => p.field))];
  }
}

/**
 * The XRechnung 3.0 UBL 2.1 XML (UTF-8 text, with XML declaration) of a finalised document.
 * Throws `XRechnungDataError` naming each missing or refused field, or `Error` when the document's
 * totals contradict its lines.
 */
export function toXRechnung(doc: BillingDocument): string {
  const problems = problemsOf(doc);
  if (problems.length > 0) throw new XRechnungDataError(doc.number || doc.id, problems);
  const contradictions = totalContradictionsOf(doc);
  if (contradictions.length > 0) {
    throw new Error(`${doc.number}: totals contradict the lines: ${contradictions.join("; ")}`);
  }

  const isCreditNote = doc.typeCode === 381;
  const amount = (name: string, cents: number) => leaf(name, centsText(cents), { currencyID: doc.currency });
  const notes = [...legalNotes(doc), ...(present(doc.notes) ? [doc.notes] : [])];
  const iban = electronicFormatIBAN(doc.seller.iban) ?? doc.seller.iban;

  const root = el(
    isCreditNote ? "CreditNote" : "Invoice",
    leaf("cbc:CustomizationID", XRECHNUNG_CUSTOMIZATION_ID),
    leaf("cbc:ProfileID", XRECHNUNG_PROFILE_ID),
    leaf("cbc:ID", doc.number),
    leaf("cbc:IssueDate", doc.issueDate),
    // A CreditNote has no header DueDate in UBL 2.1.
    !isCreditNote && leaf("cbc:DueDate", doc.dueDate),
    leaf(isCreditNote ? "cbc:CreditNoteTypeCode" : "cbc:InvoiceTypeCode", String(doc.typeCode)),
    ...notes.map((note) => leaf("cbc:Note", note)),
    leaf("cbc:DocumentCurrencyCode", doc.currency),
    leaf("cbc:BuyerReference", doc.buyerReference),
    doc.corrects &&
      el(
        "cac:BillingReference",
        el(
          "cac:InvoiceDocumentReference",
          leaf("cbc:ID", doc.corrects.number),
          leaf("cbc:IssueDate", doc.corrects.issueDate),
        ),
      ),
    el("cac:AccountingSupplierParty", sellerParty(doc.seller)),
    el("cac:AccountingCustomerParty", buyerParty(doc.buyer)),
    (present(doc.deliveryDate) || doc.deliveryAddress) &&
      el(
        "cac:Delivery",
        leaf("cbc:ActualDeliveryDate", doc.deliveryDate), // BT-72
        doc.deliveryAddress && el("cac:DeliveryLocation", address("cac:Address", doc.deliveryAddress)), // BG-15
      ),
    el(
      "cac:PaymentMeans",
      leaf("cbc:PaymentMeansCode", SEPA_CREDIT_TRANSFER),
      isCreditNote && leaf("cbc:PaymentDueDate", doc.dueDate), // BT-9 of a CreditNote lives here
      leaf("cbc:PaymentID", doc.number), // BT-83 remittance information
      el(
        "cac:PayeeFinancialAccount",
        leaf("cbc:ID", iban),
        leaf("cbc:Name", doc.seller.name),
        present(doc.seller.bic) &&
          el("cac:FinancialInstitutionBranch", leaf("cbc:ID", doc.seller.bic.replace(/\s/g, ""))),
      ),
    ),
    el("cac:PaymentTerms", leaf("cbc:Note", paymentTermsText(doc))),
    el(
      "cac:TaxTotal",
      amount("cbc:TaxAmount", doc.vatCents),
      ...doc.vatBreakdown.map((group) =>
        el(
          "cac:TaxSubtotal",
          amount("cbc:TaxableAmount", group.taxableCents),
          amount("cbc:TaxAmount", group.taxCents),
          taxCategory("cac:TaxCategory", group.category, group.rate, exemptionOf(group)),
        ),
      ),
    ),
    el(
      "cac:LegalMonetaryTotal",
      amount("cbc:LineExtensionAmount", doc.netCents),
      amount("cbc:TaxExclusiveAmount", doc.netCents),
      amount("cbc:TaxInclusiveAmount", doc.grossCents),
      amount("cbc:PayableAmount", doc.grossCents),
    ),
    ...doc.lines.map((line) => documentLine(line, isCreditNote, amount)),
  );
  const namespaces = { xmlns: isCreditNote ? NS.creditNote : NS.invoice, "xmlns:cac": NS.cac, "xmlns:cbc": NS.cbc };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${serialize({ ...root, attributes: namespaces }, "")}\n`;
}

// --- Parties, lines, VAT -------------------------------------------------------------------

function sellerParty(seller: BillingDocument["seller"]): XmlElement {
  return el(
    "cac:Party",
    leaf("cbc:EndpointID", seller.email, { schemeID: "EM" }), // BT-34
    el("cac:PartyName", leaf("cbc:Name", seller.name)),
    address("cac:PostalAddress", seller),
    present(seller.vatId) && partyTaxScheme(seller.vatId, "VAT"), // BT-31
    present(seller.taxNumber) && partyTaxScheme(seller.taxNumber, "FC"), // BT-32
    el(
      "cac:PartyLegalEntity",
      leaf("cbc:RegistrationName", seller.name),
      leaf("cbc:CompanyID", seller.registration), // BT-30
      present(seller.managingDirectors) &&
        leaf("cbc:CompanyLegalForm", `Geschäftsführung: ${seller.managingDirectors}`), // BT-33, § 35a GmbHG
    ),
    el(
      "cac:Contact", // BG-6, BR-DE-2
      leaf("cbc:Name", seller.contactName),
      leaf("cbc:Telephone", seller.phone),
      leaf("cbc:ElectronicMail", seller.email),
    ),
  );
}

function buyerParty(buyer: BillingDocument["buyer"]): XmlElement {
  return el(
    "cac:Party",
    leaf("cbc:EndpointID", buyer.email, { schemeID: "EM" }), // BT-49
    present(buyer.customerNumber) && el("cac:PartyIdentification", leaf("cbc:ID", buyer.customerNumber)), // BT-46
    address("cac:PostalAddress", buyer),
    present(buyer.vatId) && partyTaxScheme(buyer.vatId, "VAT"), // BT-48
    el("cac:PartyLegalEntity", leaf("cbc:RegistrationName", buyer.name)),
  );
}

function address(name: string, a: Address): XmlElement {
  return el(
    name,
    leaf("cbc:StreetName", a.street),
    leaf("cbc:CityName", a.city),
    leaf("cbc:PostalZone", a.postalCode),
    el("cac:Country", leaf("cbc:IdentificationCode", a.country)),
  );
}

function partyTaxScheme(companyId: string, scheme: "VAT" | "FC"): XmlElement {
  return el("cac:PartyTaxScheme", leaf("cbc:CompanyID", companyId), el("cac:TaxScheme", leaf("cbc:ID", scheme)));
}

/** TaxCategory / ClassifiedTaxCategory: ID, Percent, exemption code and reason, TaxScheme (UBL TaxCategoryType order). */
function taxCategory(
  name: string,
  category: VatGroup["category"],
  rate: number,
  exemption: { code: string | null; reason: string } | null,
): XmlElement {
  return el(
    name,
    leaf("cbc:ID", category),
    leaf("cbc:Percent", decimalText(rate, 2)), // BR-DE-14
    exemption && leaf("cbc:TaxExemptionReasonCode", exemption.code),
    exemption && leaf("cbc:TaxExemptionReason", exemption.reason),
    el("cac:TaxScheme", leaf("cbc:ID", "VAT")),
  );
}

/** BT-120/121: E and AE carry a reason (BR-E-10, BR-AE-10), Z and S must not (BR-Z-10, BR-S-10). */
function exemptionOf(group: VatGroup): { code: string | null; reason: string } | null {
  if (group.category === "AE") return { code: "VATEX-EU-AE", reason: group.exemptionReason ?? "Reverse charge" };
  if (group.category === "E" && group.exemptionReason) return { code: null, reason: group.exemptionReason };
  return null;
}

function documentLine(
  line: DocumentLine,
  isCreditNote: boolean,
  amount: (name: string, cents: number) => XmlElement | null,
): XmlElement {
  // BR-27: the item price must not be negative — a negative line is a negative quantity at a positive price.
  const sign = line.unitPriceCents < 0 ? -1 : 1;
  const [name = line.description, ...more] = line.description.split(/\r?\n/).filter(present);
  return el(
    isCreditNote ? "cac:CreditNoteLine" : "cac:InvoiceLine",
    leaf("cbc:ID", String(line.position)),
    leaf(isCreditNote ? "cbc:CreditedQuantity" : "cbc:InvoicedQuantity", decimalText(sign * line.quantity, 3), {
      unitCode: line.unit,
    }),
    amount("cbc:LineExtensionAmount", line.lineNetCents),
    el(
      "cac:Item",
      more.length > 0 && leaf("cbc:Description", line.description), // BT-154: the full text when it has several lines
      leaf("cbc:Name", name), // BT-153
      present(line.articleNumber) && el("cac:SellersItemIdentification", leaf("cbc:ID", line.articleNumber)),
      taxCategory("cac:ClassifiedTaxCategory", line.vatCategory, line.vatRate, null),
      present(line.serialNumber) &&
        el("cac:AdditionalItemProperty", leaf("cbc:Name", "Seriennummer"), leaf("cbc:Value", line.serialNumber)),
    ),
    el("cac:Price", amount("cbc:PriceAmount", sign * line.unitPriceCents)),
  );
}

// --- What the rules require ----------------------------------------------------------------

/** Everything that keeps `doc` from being a valid XRechnung, as field paths with the reason. */
function problemsOf(doc: BillingDocument): XRechnungProblem[] {
  const problems: XRechnungProblem[] = [];
  const need = (field: string, value: string | null | undefined) => {
    if (!present(value)) problems.push({ field, problem: "is missing" });
  };
  const { seller, buyer } = doc;

  need("number", doc.number); // BR-02
  const dates: [string, string | null | undefined][] = [
    ["issueDate", doc.issueDate], // BR-03
    ["dueDate", doc.dueDate],
    ["deliveryDate", doc.deliveryDate],
    ["corrects.issueDate", doc.corrects?.issueDate],
  ];
  for (const [field, value] of dates) {
    if (present(value) && !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
      problems.push({ field, problem: "is not a date YYYY-MM-DD" });
    }
  }
  need("issueDate", doc.issueDate);
  need("buyerReference", doc.buyerReference); // BR-DE-15: the Leitweg-ID for public buyers
  if (doc.lines.length === 0) problems.push({ field: "lines", problem: "is empty" }); // BR-16

  need("seller.name", seller.name); // BR-06
  need("seller.street", seller.street); // § 14 Abs. 4 Nr. 1 UStG: full address
  need("seller.city", seller.city); // BR-DE-3
  need("seller.postalCode", seller.postalCode); // BR-DE-4
  need("seller.country", seller.country); // BR-09
  if (!present(seller.vatId) && !present(seller.taxNumber)) {
    problems.push({ field: "seller.vatId", problem: "is missing (or seller.taxNumber)" }); // BR-DE-16
  }
  need("seller.contactName", seller.contactName); // BR-DE-5
  need("seller.phone", seller.phone); // BR-DE-6
  if (present(seller.phone) && (seller.phone.match(/\d/g)?.length ?? 0) < 3) {
    problems.push({ field: "seller.phone", problem: "has fewer than three digits" }); // BR-DE-27
  }
  need("seller.email", seller.email); // BR-DE-7, BT-34
  if (present(seller.email) && !isEmail(seller.email)) {
    problems.push({ field: "seller.email", problem: "is not an e-mail address" }); // BR-DE-28
  }
  need("seller.iban", seller.iban); // BR-DE-1, BR-DE-23-a
  if (present(seller.iban) && !isValidIBAN(electronicFormatIBAN(seller.iban) ?? "")) {
    // BR-DE-19 checks this too, but SaxonJS gets the mod-97 wrong, so it is checked here.
    problems.push({ field: "seller.iban", problem: "is not a valid IBAN" });
  }
  if (present(seller.bic) && !isValidBIC(seller.bic.replace(/\s/g, ""))) {
    problems.push({ field: "seller.bic", problem: "is not a valid BIC" });
  }

  need("buyer.name", buyer.name); // BR-07
  need("buyer.city", buyer.city); // BR-DE-8
  need("buyer.postalCode", buyer.postalCode); // BR-DE-9
  need("buyer.country", buyer.country); // BR-11
  // BT-49 is mandatory in XRechnung 3.0 (Peppol rule R010, merged by KoSIT), and e-mail is the only address we hold.
  need("buyer.email", buyer.email);
  if (present(buyer.email) && !isEmail(buyer.email)) {
    problems.push({ field: "buyer.email", problem: "is not an e-mail address" });
  }

  doc.lines.forEach((line, i) => {
    if (line.vatCategory === "S" && !(line.vatRate > 0)) {
      problems.push({ field: `lines[${i}].vatRate`, problem: "must be above 0 for category S" }); // BR-S-05
    }
    if (line.vatCategory !== "S" && line.vatRate !== 0) {
      problems.push({ field: `lines[${i}].vatRate`, problem: `must be 0 for category ${line.vatCategory}` }); // BR-Z-05, BR-E-05, BR-AE-05
    }
    if (line.vatCategory === "E" && !present(line.exemptionReason)) {
      problems.push({ field: `lines[${i}].exemptionReason`, problem: "is missing for category E" }); // BR-E-10
    }
    need(`lines[${i}].description`, line.description); // BR-25
    need(`lines[${i}].unit`, line.unit); // BR-23
  });
  doc.vatBreakdown.forEach((group, i) => {
    if (group.category === "E" && !present(group.exemptionReason)) {
      problems.push({ field: `vatBreakdown[${i}].exemptionReason`, problem: "is missing for category E" }); // BR-E-10
    }
  });
  if (doc.lines.some((l) => l.vatCategory === "AE") && !present(buyer.vatId)) {
    problems.push({ field: "buyer.vatId", problem: "is missing for reverse charge (AE)" }); // BR-AE-02
  }
  return problems;
}

/** Where the document's totals and breakdown contradict its lines (BR-CO-10, -13, -14, -15, BR-S-08 and kin). */
function totalContradictionsOf(doc: BillingDocument): string[] {
  const contradictions: string[] = [];
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const netOfLines = sum(doc.lines.map((l) => l.lineNetCents));
  if (doc.netCents !== netOfLines) contradictions.push(`netCents ${doc.netCents} ≠ sum of lines ${netOfLines}`);
  const vatOfGroups = sum(doc.vatBreakdown.map((g) => g.taxCents));
  if (doc.vatCents !== vatOfGroups) contradictions.push(`vatCents ${doc.vatCents} ≠ sum of breakdown ${vatOfGroups}`);
  if (doc.grossCents !== doc.netCents + doc.vatCents) {
    contradictions.push(`grossCents ${doc.grossCents} ≠ netCents + vatCents ${doc.netCents + doc.vatCents}`);
  }
  const groupOf = (category: string, rate: number) =>
    doc.vatBreakdown.filter((g) => g.category === category && g.rate === rate);
  for (const line of doc.lines) {
    if (groupOf(line.vatCategory, line.vatRate).length !== 1) {
      contradictions.push(`line ${line.position}: no single breakdown group ${line.vatCategory}/${line.vatRate}`);
    }
  }
  for (const group of doc.vatBreakdown) {
    const lines = doc.lines.filter((l) => l.vatCategory === group.category && l.vatRate === group.rate);
    const taxable = sum(lines.map((l) => l.lineNetCents));
    if (group.taxableCents !== taxable) {
      contradictions.push(
        `group ${group.category}/${group.rate}: taxableCents ${group.taxableCents} ≠ lines ${taxable}`,
      );
    }
    const exact = (group.taxableCents * group.rate) / 100;
    const tax = Math.sign(exact) * Math.round(Math.abs(exact));
    if (group.taxCents !== tax) {
      contradictions.push(`group ${group.category}/${group.rate}: taxCents ${group.taxCents} ≠ rounded ${tax}`);
    }
  }
  return contradictions;
}

function present(value: string | null | undefined): value is string {
  return value != null && value.trim() !== "";
}

/** BR-DE-28: exactly one `@`, something either side, no dot at either end of the local part or domain. */
function isEmail(value: string): boolean {
  return /^[^@\s.]([^@\s]*[^@\s.])?@[^@\s.]([^@\s]*[^@\s.])?$/.test(value.trim());
}

// --- A small XML builder -------------------------------------------------------------------

/** An element with either text or child elements (UBL has no mixed content). */
interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  text: string | null;
  children: XmlElement[];
}

type Child = XmlElement | null | undefined | false;

/** An element of child elements; absent children (null, undefined, false) are skipped. */
function el(name: string, ...children: Child[]): XmlElement {
  return { name, attributes: {}, text: null, children: children.filter((c): c is XmlElement => !!c) };
}

/** A text element, or nothing when the value is absent or blank (UBL receivers refuse empty elements). */
function leaf(
  name: string,
  value: string | null | undefined,
  attributes: Record<string, string> = {},
): XmlElement | null {
  return present(value) ? { name, attributes, text: value.trim(), children: [] } : null;
}

function serialize(node: XmlElement, indent: string): string {
  const attributes = Object.entries(node.attributes)
    .map(([key, value]) => ` ${key}="${escapeXml(value)}"`)
    .join("");
  const open = `${indent}<${node.name}${attributes}`;
  if (node.text !== null) return `${open}>${escapeXml(node.text)}</${node.name}>`;
  if (node.children.length === 0) return `${open}/>`;
  const children = node.children.map((child) => serialize(child, `${indent}  `));
  return [`${open}>`, ...children, `${indent}</${node.name}>`].join("\n");
}

/** Characters XML 1.0 does not allow (https://www.w3.org/TR/xml/#charsets), lone surrogates included. */
const NOT_XML_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

/** Text safe for element content and double-quoted attributes: the five entities escaped, non-XML characters dropped. */
export function escapeXml(text: string): string {
  return text.replace(NOT_XML_CHAR, "").replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

/**
 * A finalised billing document (invoice 380 or credit note 381) with everything its renderings
 * need — the PDF, the XRechnung and the DATEV export read this and nothing else. Amounts are
 * integer cents; a credit note's amounts are positive (its type says it reduces what is owed).
 */

/** VAT categories of UNTDID 5305 the hub invoices in. */
export type VatCategory = "S" | "Z" | "E" | "AE";

/** A postal address. */
export interface Address {
  street: string | null;
  postalCode: string | null;
  city: string | null;
  /** ISO 3166-1 alpha-2. */
  country: string;
}

/** The company that issues the document (from the company settings). */
export interface Seller extends Address {
  name: string;
  /** USt-IdNr. (BT-31), e.g. DE123456789. */
  vatId: string | null;
  /** Steuernummer (BT-32), used where there is no VAT id. */
  taxNumber: string | null;
  /** Handelsregister entry, e.g. "Amtsgericht Kassel HRB 12345" (BT-30 scheme-less). */
  registration: string | null;
  managingDirectors: string | null;
  contactName: string;
  phone: string;
  email: string;
  iban: string;
  bic: string | null;
  bankName: string | null;
}

/** The customer the document is addressed to. */
export interface Buyer extends Address {
  customerNumber: string;
  name: string;
  kind: "private" | "business";
  vatId: string | null;
  email: string | null;
}

/** One line, as finalised. */
export interface DocumentLine {
  position: number;
  kind: "article" | "hours" | "flat";
  description: string;
  articleNumber: string | null;
  serialNumber: string | null;
  /** May have three decimals. */
  quantity: number;
  /** UN/ECE recommendation 20 code: H87 piece, HUR hour, C62 one, MTR metre. */
  unit: string;
  unitPriceCents: number;
  /** quantity × unit price, rounded to the cent (EN 16931 BT-131). */
  lineNetCents: number;
  vatCategory: VatCategory;
  /** Percent: 19 or 7 for S, 0 otherwise. */
  vatRate: number;
  exemptionReason: string | null;
}

/** One group of the VAT breakdown (EN 16931 BG-23): lines of one category and rate. */
export interface VatGroup {
  category: VatCategory;
  rate: number;
  taxableCents: number;
  taxCents: number;
  /** E: the lines' exemption reason; AE: "Reverse charge"; S and Z: null. */
  exemptionReason: string | null;
}

/** A finalised invoice or credit note with its parties. */
export interface BillingDocument {
  id: string;
  typeCode: 380 | 381;
  number: string;
  /** YYYY-MM-DD. */
  issueDate: string;
  dueDate: string | null;
  /** Leistungsdatum (YYYY-MM-DD); the issue date where none was set. */
  deliveryDate: string;
  currency: "EUR";
  /** BT-10: the Leitweg-ID for public buyers, else the buyer's reference or customer number. */
  buyerReference: string;
  /** The office's own text on the document. */
  notes: string | null;
  /** Where the work was done (the site), when it is not the buyer's address. */
  deliveryAddress: Address | null;
  /** A credit note's original invoice (BG-3). */
  corrects: { number: string; issueDate: string } | null;
  seller: Seller;
  buyer: Buyer;
  lines: DocumentLine[];
  vatBreakdown: VatGroup[];
  netCents: number;
  vatCents: number;
  grossCents: number;
  /** Days to pay, for the payment terms text. */
  paymentTermsDays: number;
}

/** The VAT breakdown of a document's lines: per category and rate, tax on the group's sum, rounded half away from zero. */
export function vatBreakdownOf(
  lines: Array<Pick<DocumentLine, "vatCategory" | "vatRate" | "lineNetCents"> & { exemptionReason?: string | null }>,
): VatGroup[] {
  const groups = new Map<string, VatGroup>();
  for (const line of lines) {
    const key = `${line.vatCategory}/${line.vatRate}`;
    const group = groups.get(key) ?? {
      category: line.vatCategory,
      rate: line.vatRate,
      taxableCents: 0,
      taxCents: 0,
      exemptionReason:
        line.vatCategory === "E" ? (line.exemptionReason ?? null) : line.vatCategory === "AE" ? "Reverse charge" : null,
    };
    group.taxableCents += line.lineNetCents;
    groups.set(key, group);
  }
  for (const group of groups.values()) {
    const exact = (group.taxableCents * group.rate) / 100;
    group.taxCents = Math.sign(exact) * Math.round(Math.abs(exact));
  }
  const order: VatCategory[] = ["S", "Z", "E", "AE"];
  return [...groups.values()].sort((a, b) => order.indexOf(a.category) - order.indexOf(b.category) || b.rate - a.rate);
}

/**
 * The legal notes a German invoice carries beside its lines (§14 Abs. 4 UStG): the 0 % rate for
 * PV systems (§12 Abs. 3 UStG), reverse charge (§13b UStG), each exemption's reason, and the
 * private customer's duty to keep an invoice for work on a property two years (§14b Abs. 1 S. 5 UStG).
 */
export function legalNotes(doc: Pick<BillingDocument, "lines" | "buyer">): string[] {
  const notes: string[] = [];
  const categories = new Set(doc.lines.map((l) => l.vatCategory));
  if (categories.has("Z")) {
    notes.push(
      "Nullsteuersatz für die Lieferung und Installation von Photovoltaikanlagen und Stromspeichern gemäß § 12 Abs. 3 UStG.",
    );
  }
  if (categories.has("AE")) notes.push("Steuerschuldnerschaft des Leistungsempfängers (§ 13b UStG).");
  for (const reason of new Set(doc.lines.filter((l) => l.vatCategory === "E").map((l) => l.exemptionReason))) {
    if (reason) notes.push(`Steuerfrei: ${reason}`);
  }
  if (doc.buyer.kind === "private") {
    notes.push(
      "Sie sind gesetzlich verpflichtet, diese Rechnung zwei Jahre lang aufzubewahren (§ 14b Abs. 1 Satz 5 UStG).",
    );
  }
  return notes;
}

/** The payment terms text (BT-20) of a document. */
export function paymentTermsText(doc: Pick<BillingDocument, "typeCode" | "paymentTermsDays" | "dueDate">): string {
  if (doc.typeCode === 381) return "Der Betrag wird Ihnen erstattet oder mit offenen Forderungen verrechnet.";
  return `Zahlbar innerhalb von ${doc.paymentTermsDays} Tagen ohne Abzug${doc.dueDate ? ` bis ${germanDate(doc.dueDate)}` : ""}.`;
}

/** Integer cents as a decimal with exactly two places: 1999 → "19.99", -5 → "-0.05". */
export function centsText(cents: number): string {
  if (!Number.isSafeInteger(cents)) throw new RangeError(`amount ${cents} is not a whole number of cents`);
  const abs = Math.abs(cents);
  const fraction = abs % 100;
  return `${cents < 0 ? "-" : ""}${(abs - fraction) / 100}.${String(fraction).padStart(2, "0")}`;
}

/**
 * A number as a decimal of at most `places` places without trailing zeros (2.5 → "2.5", 3 → "3"),
 * rounded half away from zero on the scaled integer so binary noise (2.4999999…) never shows.
 */
export function decimalText(value: number, places: number): string {
  const scale = 10 ** places;
  const scaled = Math.round(Math.abs(value) * scale);
  if (!Number.isSafeInteger(scaled)) throw new RangeError(`number ${value} is out of range`);
  const fraction = String(scaled % scale)
    .padStart(places, "0")
    .replace(/0+$/, "");
  const integer = (scaled - (scaled % scale)) / scale;
  return `${value < 0 && scaled !== 0 ? "-" : ""}${integer}${fraction ? `.${fraction}` : ""}`;
}

/** YYYY-MM-DD → DD.MM.YYYY. */
export function germanDate(isoDate: string): string {
  const [y, m, d] = isoDate.split("-");
  return `${d}.${m}.${y}`;
}

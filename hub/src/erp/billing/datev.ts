/**
 * The DATEV export of finalised invoices, credit notes and payments: a "Buchungsstapel" in the
 * DATEV format (EXTF, header version 700, data category 21, format version 13), the file a tax
 * advisor imports into DATEV Rechnungswesen. Pure: documents, payments and settings in, bytes out.
 *
 * Format: https://developer.datev.de/datev/platform/de/dtvf/formate/buchungsstapel (columns),
 * https://developer.datev.de/datev/platform/en/dtvf/formate/header (header line),
 * https://developer.datev.de/datev/platform/schnittstellenvorgaben/dtvf (file rules).
 */
import iconv from "iconv-lite";
import { hubError } from "../../errors.js";
import { type BillingDocument, centsText, type VatGroup } from "./document.js";

/** The accounts the export books on: revenue per VAT case, and the bank account payments arrive on. */
export type DatevAccountKey = "S19" | "S7" | "Z" | "E" | "AE" | "bank";

/** What the tax advisor tells the office about the client's DATEV books. */
export interface DatevSettings {
  /** Beraternummer, 1001–9999999. */
  advisorNumber: number;
  /** Mandantennummer, 1–99999. */
  clientNumber: number;
  chart: "SKR03" | "SKR04";
  /** Sachkontenlänge, 4–8; personal (debitor) accounts have one digit more. */
  accountLength: number;
  /** The month the fiscal year starts in, 1–12. */
  fiscalYearStartMonth: number;
  /**
   * Accounts that differ from the chart's standard ones, with `accountLength` digits (leading zeros
   * may be left out). `Z` has no standard account and must be set before a 0 % booking is exported.
   */
  accounts?: Partial<Record<DatevAccountKey, number>>;
  /** The header's "Exportiert von" (at most 25 characters). */
  exportedBy?: string;
}

/** A payment on an invoice (or its reversal), as the bank account shows it. */
export interface DatevPayment {
  /** The invoice it settles: DATEV clears the open item whose Belegfeld 1 is this number. */
  invoiceNumber: string;
  /** `K-NNNNN`; the digits are the debitor account. */
  customerNumber: string;
  /** For messages. */
  customerName: string;
  /** YYYY-MM-DD. */
  paidOn: string;
  /** Positive for a payment, negative for its reversal. */
  amountCents: number;
  /** The bank's purpose text; becomes the booking text. */
  reference: string | null;
}

/** One line of the Buchungsstapel, before it is written. */
export interface DatevBooking {
  /** Umsatz in cents, always positive: the direction is `side`. */
  amountCents: number;
  /** Soll/Haben of `account`. */
  side: "S" | "H";
  /** Konto: the debitor for documents, the bank account for payments. */
  account: number;
  /** Gegenkonto: the revenue account for documents, the debitor for payments. */
  contraAccount: number;
  /** Belegdatum, YYYY-MM-DD (the file carries day and month; the year comes from the header). */
  date: string;
  /** Belegfeld 1: the document number, DATEV's key for open items. */
  documentNumber: string;
  /**
   * Belegfeld 2: the invoice a credit note corrects, checked like Belegfeld 1. DATEV's Prüfprogramm
   * warns above 12 characters here (github.com/seamless-engineering/datev-extf, src/extf.ts).
   */
  correctedNumber: string | null;
  /** Buchungstext, without control characters and at most 60 characters. */
  text: string;
  /** Leistungsdatum, YYYY-MM-DD. */
  serviceDate: string | null;
  /** Fälligkeit, YYYY-MM-DD. */
  dueDate: string | null;
  /** EU-Land u. UStID (Bestimmung): the buyer's VAT id for a reverse-charge booking to another EU state. */
  euVatId: string | null;
  /** What the booking comes from, for messages: the document number, or "payment on RE-… of 2026-11-28". */
  origin: string;
}

/** DATEV takes at most this many bookings per file (format page, "Buchungsstapel"). */
export const DATEV_MAX_BOOKINGS = 99_999;

/**
 * Standard accounts of DATEV's charts (four-digit Sachkonten), automatic accounts that carry their
 * tax key, so bookings on them have no BU-Schlüssel: Erlöse 19 % / 7 % USt, Erlöse aus Leistungen
 * nach § 13b UStG, steuerfreie Umsätze § 4 Nr. 8 ff. UStG, Bank.
 *
 * No Z account: DATEV's SKR03 and SKR04 have no standard account for 0 % turnover under § 12 Abs. 3
 * UStG. DATEV added tax keys and UStVA lines for it (https://www.datev.de/web/de/aktuelles/rund-um-die-datev-programme/neuerungen-in-den-datev-programmen/steuerberatung/rechnungswesen-neuer-steuersatz-0-fuer-die-lieferung-und-installation-von-photovoltaikanlagen-aufgenommen-dezember-2022/),
 * and the accounts office software uses (8290 / 4290 in Lexware and Buhl) must be set up "in DATEV
 * einheitlich" by the advisor (https://www.lexware.de/support/faq/faq-beitrag/000031929). So the
 * tax advisor names it.
 */
export const DATEV_STANDARD_ACCOUNTS: Record<DatevSettings["chart"], Record<Exclude<DatevAccountKey, "Z">, number>> = {
  SKR03: { S19: 8400, S7: 8300, AE: 8337, E: 8100, bank: 1200 },
  SKR04: { S19: 4400, S7: 4300, AE: 4337, E: 4100, bank: 1800 },
};

/** The 125 column headings of format version 13 (line 2), spelled as in DATEV's sample file. */
export const DATEV_COLUMNS: readonly string[] = [
  "Umsatz (ohne Soll/Haben-Kz)",
  "Soll/Haben-Kennzeichen",
  "WKZ Umsatz",
  "Kurs",
  "Basis-Umsatz",
  "WKZ Basis-Umsatz",
  "Konto",
  "Gegenkonto (ohne BU-Schlüssel)",
  "BU-Schlüssel",
  "Belegdatum",
  "Belegfeld 1",
  "Belegfeld 2",
  "Skonto",
  "Buchungstext",
  "Postensperre",
  "Diverse Adressnummer",
  "Geschäftspartnerbank",
  "Sachverhalt",
  "Zinssperre",
  "Beleglink",
  ...[1, 2, 3, 4, 5, 6, 7, 8].flatMap((n) => [`Beleginfo - Art ${n}`, `Beleginfo - Inhalt ${n}`]),
  "KOST1 - Kostenstelle",
  "KOST2 - Kostenstelle",
  "Kost-Menge",
  "EU-Land u. UStID (Bestimmung)",
  "EU-Steuersatz (Bestimmung)",
  "Abw. Versteuerungsart",
  "Sachverhalt L+L",
  "Funktionsergänzung L+L",
  "BU 49 Hauptfunktionstyp",
  "BU 49 Hauptfunktionsnummer",
  "BU 49 Funktionsergänzung",
  // DATEV's sample has no space before "- Inhalt" here.
  ...Array.from({ length: 20 }, (_, i) => [
    `Zusatzinformation - Art ${i + 1}`,
    `Zusatzinformation- Inhalt ${i + 1}`,
  ]).flat(),
  "Stück",
  "Gewicht",
  "Zahlweise",
  "Forderungsart",
  "Veranlagungsjahr",
  "Zugeordnete Fälligkeit",
  "Skontotyp",
  "Auftragsnummer",
  "Buchungstyp",
  "USt-Schlüssel (Anzahlungen)",
  "EU-Land (Anzahlungen)",
  "Sachverhalt L+L (Anzahlungen)",
  "EU-Steuersatz (Anzahlungen)",
  "Erlöskonto (Anzahlungen)",
  "Herkunft-Kz",
  "Buchungs GUID",
  "KOST-Datum",
  "SEPA-Mandatsreferenz",
  "Skontosperre",
  "Gesellschaftername",
  "Beteiligtennummer",
  "Identifikationsnummer",
  "Zeichnernummer",
  "Postensperre bis",
  "Bezeichnung SoBil-Sachverhalt",
  "Kennzeichen SoBil-Buchung",
  "Festschreibung",
  "Leistungsdatum",
  "Datum Zuord. Steuerperiode",
  "Fälligkeit",
  "Generalumkehr (GU)",
  "Steuersatz",
  "Land",
  "Abrechnungsreferenz",
  "BVV-Position",
  "EU-Land u. UStID (Ursprung)",
  "EU-Steuersatz (Ursprung)",
  "Abw. Skontokonto",
];

/** Position of a column by its heading; throws at load time on a misspelt heading. */
function column(heading: string): number {
  const index = DATEV_COLUMNS.indexOf(heading);
  if (index < 0) throw new Error(`DATEV column "${heading}" does not exist`);
  return index;
}

const COL = {
  amount: column("Umsatz (ohne Soll/Haben-Kz)"),
  side: column("Soll/Haben-Kennzeichen"),
  currency: column("WKZ Umsatz"),
  account: column("Konto"),
  contraAccount: column("Gegenkonto (ohne BU-Schlüssel)"),
  date: column("Belegdatum"),
  documentNumber: column("Belegfeld 1"),
  correctedNumber: column("Belegfeld 2"),
  text: column("Buchungstext"),
  euVatId: column("EU-Land u. UStID (Bestimmung)"),
  fixed: column("Festschreibung"),
  serviceDate: column("Leistungsdatum"),
  dueDate: column("Fälligkeit"),
};

/** Characters Windows-1252 has: the 251 that its bytes decode to (five bytes are undefined). */
const WINDOWS_1252 = new Set(iconv.decode(Buffer.from(Array.from({ length: 256 }, (_, b) => b)), "win1252"));
WINDOWS_1252.delete("\uFFFD");

/** Control characters and Unicode line breaks; DATEV text fields must hold neither. */
const CONTROL = /[\p{Cc}\u2028\u2029]/gu;

/** Belegfeld 1 and 2: at most 36 of these characters (format page, field 11). */
const BELEGFELD = /^[0-9A-Za-z$%&*+\-/]{1,36}$/;

/** VAT id prefixes of the other EU member states (Greece is EL) and Northern Ireland (XI), for EU-Land u. UStID. */
const EU_VAT_PREFIXES = new Set(
  "AT BE BG CY CZ DK EE EL ES FI FR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK XI".split(" "),
);

/** The settings, checked, with every account resolved. */
interface Resolved {
  settings: DatevSettings;
  accounts: Partial<Record<DatevAccountKey, number>>;
}

/**
 * The bookings of `documents` and `payments`, sorted by date, then document number:
 * per document one booking per VAT group (its gross, debitor to revenue account; "S" for an
 * invoice, "H" for a credit note; zero groups none), per payment one (bank to debitor; "S" for a
 * payment, "H" for a reversal). Every text is checked against Windows-1252 here
 * (`HUB_ERR_DATEV_UNENCODABLE`, naming document and field).
 */
export function datevBookings(
  documents: BillingDocument[],
  payments: DatevPayment[],
  settings: DatevSettings,
): DatevBooking[] {
  const resolved = resolveSettings(settings);
  const keyed: { booking: DatevBooking; kind: number }[] = [];
  for (const doc of documents) {
    for (const booking of documentBookings(doc, resolved)) keyed.push({ booking, kind: 0 });
  }
  for (const payment of payments) keyed.push({ booking: paymentBooking(payment, resolved), kind: 1 });
  // Array.prototype.sort is stable: a document's groups keep the breakdown's order.
  keyed.sort(
    (a, b) =>
      compare(a.booking.date, b.booking.date) ||
      compare(a.booking.documentNumber, b.booking.documentNumber) ||
      a.kind - b.kind,
  );
  return keyed.map((k) => k.booking);
}

/**
 * The Buchungsstapel of the period `from`..`to` (YYYY-MM-DD, within one fiscal year and one
 * calendar year): header line, column headings, one line per booking, each line ended by CR LF,
 * encoded as Windows-1252. Refuses bookings dated outside the period and more than 99,999 bookings.
 */
export function datevExtf(input: {
  from: string;
  to: string;
  createdAt: Date;
  settings: DatevSettings;
  documents: BillingDocument[];
  payments: DatevPayment[];
}): { fileName: string; content: Buffer; bookings: number } {
  const { from, to, createdAt, settings } = input;
  const { settings: s } = resolveSettings(settings);
  const fiscalYearStart = checkPeriod(from, to, s.fiscalYearStartMonth);
  if (!(createdAt instanceof Date) || Number.isNaN(createdAt.getTime())) {
    throw hubError("HUB_ERR_VALIDATION", "createdAt is not a valid time");
  }
  const exportedBy = text(s.exportedBy ?? "", 25, "DATEV settings", "datev.exportedBy");

  const bookings = datevBookings(input.documents, input.payments, settings);
  for (const b of bookings) {
    if (b.date < from || b.date > to) {
      throw hubError(
        "HUB_ERR_VALIDATION",
        `${b.origin}: dated ${b.date}, outside the export period ${from} to ${to}; DATEV books by day and month within the period`,
      );
    }
  }
  if (bookings.length > DATEV_MAX_BOOKINGS) {
    throw hubError(
      "HUB_ERR_VALIDATION",
      `${bookings.length} bookings from ${from} to ${to}; a DATEV file takes at most ${DATEV_MAX_BOOKINGS}: export a shorter period`,
    );
  }

  const header = [
    quote("EXTF"),
    "700",
    "21",
    quote("Buchungsstapel"),
    "13",
    timestamp(createdAt),
    "",
    quote("RE"),
    quote(exportedBy),
    quote(""),
    String(s.advisorNumber),
    String(s.clientNumber),
    compact(fiscalYearStart),
    String(s.accountLength),
    compact(from),
    compact(to),
    quote(label(from, to)),
    quote(""),
    "1", // Buchungstyp: Finanzbuchführung
    "0", // Rechnungslegungszweck: unabhängig
    "1", // Festschreibung: the batch is locked after import (GoBD)
    quote("EUR"),
    "",
    quote(""),
    "",
    "",
    quote(s.chart === "SKR03" ? "03" : "04"),
    "",
    "",
    quote(""),
    quote(""),
  ];
  const lines = [header.join(";"), DATEV_COLUMNS.join(";"), ...bookings.map(bookingLine)];
  return {
    fileName: `EXTF_Buchungsstapel_${from}_${to}.csv`,
    content: iconv.encode(lines.map((line) => `${line}\r\n`).join(""), "win1252"),
    bookings: bookings.length,
  };
}

function documentBookings(doc: BillingDocument, { settings, accounts }: Resolved): DatevBooking[] {
  const debitor = debitorAccount(doc.buyer.customerNumber, settings.accountLength, doc.number);
  const documentNumber = belegfeld(doc.number, doc.number, "number (Belegfeld 1)");
  const correctedNumber = doc.corrects
    ? belegfeld(doc.corrects.number, doc.number, "corrected invoice number (Belegfeld 2)")
    : null;
  const buyerName = text(doc.buyer.name, 60, doc.number, "buyer name");
  const date = isoDate(doc.issueDate, doc.number, "issue date");
  const serviceDate = isoDate(doc.deliveryDate, doc.number, "delivery date");
  const dueDate = doc.dueDate === null ? null : isoDate(doc.dueDate, doc.number, "due date");
  const direction = doc.typeCode === 381 ? -1 : 1;
  const bookings: DatevBooking[] = [];
  for (const group of doc.vatBreakdown) {
    const gross = group.taxableCents + group.taxCents;
    if (gross === 0) continue;
    const amountCents = checkAmount(Math.abs(gross), doc.number);
    bookings.push({
      amountCents,
      side: gross * direction > 0 ? "S" : "H",
      account: debitor,
      contraAccount: revenueAccount(group, accounts, settings, doc.number),
      date,
      documentNumber,
      correctedNumber,
      text: buyerName,
      serviceDate,
      dueDate,
      euVatId: group.category === "AE" ? euVatId(doc) : null,
      origin: doc.number,
    });
  }
  return bookings;
}

function paymentBooking(payment: DatevPayment, { settings, accounts }: Resolved): DatevBooking {
  const origin = `payment on ${payment.invoiceNumber} of ${payment.paidOn}`;
  if (!Number.isSafeInteger(payment.amountCents) || payment.amountCents === 0) {
    throw hubError("HUB_ERR_VALIDATION", `${origin}: amount ${payment.amountCents} is not a non-zero number of cents`);
  }
  const reversal = payment.amountCents < 0;
  const reference = payment.reference?.trim()
    ? payment.reference
    : `${reversal ? "Storno Zahlung" : "Zahlung"} ${payment.invoiceNumber}`;
  return {
    amountCents: checkAmount(Math.abs(payment.amountCents), origin),
    side: reversal ? "H" : "S",
    account: account("bank", accounts),
    contraAccount: debitorAccount(payment.customerNumber, settings.accountLength, origin),
    date: isoDate(payment.paidOn, origin, "payment date"),
    documentNumber: belegfeld(payment.invoiceNumber, origin, "invoice number (Belegfeld 1)"),
    correctedNumber: null,
    text: text(reference, 60, origin, "payment reference"),
    serviceDate: null,
    dueDate: null,
    euVatId: null,
    origin,
  };
}

function bookingLine(b: DatevBooking): string {
  const fields = new Array<string>(DATEV_COLUMNS.length).fill("");
  fields[COL.amount] = decimal(b.amountCents);
  fields[COL.side] = quote(b.side);
  fields[COL.currency] = quote("EUR");
  fields[COL.account] = String(b.account);
  fields[COL.contraAccount] = String(b.contraAccount);
  // Belegdatum TTMM: DATEV takes the year from the header's period (format page, field 10).
  fields[COL.date] = b.date.slice(8, 10) + b.date.slice(5, 7);
  fields[COL.documentNumber] = quote(b.documentNumber);
  if (b.correctedNumber !== null) fields[COL.correctedNumber] = quote(b.correctedNumber);
  fields[COL.text] = quote(b.text);
  if (b.euVatId !== null) fields[COL.euVatId] = quote(b.euVatId);
  fields[COL.fixed] = "1";
  if (b.serviceDate !== null) fields[COL.serviceDate] = dayMonthYear(b.serviceDate);
  if (b.dueDate !== null) fields[COL.dueDate] = dayMonthYear(b.dueDate);
  return fields.join(";");
}

/** Checks every setting at once (one message naming each wrong one) and resolves the accounts. */
function resolveSettings(settings: DatevSettings): Resolved {
  const problems: string[] = [];
  const integerIn = (name: keyof DatevSettings, value: unknown, min: number, max: number) => {
    if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
      problems.push(`datev.${name} must be a whole number from ${min} to ${max} (is ${String(value)})`);
      return false;
    }
    return true;
  };
  integerIn("advisorNumber", settings.advisorNumber, 1001, 9_999_999);
  integerIn("clientNumber", settings.clientNumber, 1, 99_999);
  const lengthOk = integerIn("accountLength", settings.accountLength, 4, 8);
  integerIn("fiscalYearStartMonth", settings.fiscalYearStartMonth, 1, 12);
  const standard = DATEV_STANDARD_ACCOUNTS[settings.chart];
  if (!standard) problems.push(`datev.chart must be "SKR03" or "SKR04" (is ${JSON.stringify(settings.chart)})`);
  if (settings.exportedBy !== undefined && typeof settings.exportedBy !== "string") {
    problems.push("datev.exportedBy must be text");
  }

  const accounts: Partial<Record<DatevAccountKey, number>> = {};
  if (lengthOk && standard) {
    const length = settings.accountLength;
    // A longer Sachkontenlänge extends the standard accounts by zeros on the right (8400 → 84000).
    for (const [key, number] of Object.entries(standard))
      accounts[key as DatevAccountKey] = number * 10 ** (length - 4);
    for (const [key, number] of Object.entries(settings.accounts ?? {})) {
      if (number === undefined) continue;
      if (!Number.isInteger(number) || number < 1 || number >= 10 ** length) {
        problems.push(
          `datev.accounts.${key} must be a Sachkonto of at most ${length} digits, as datev.accountLength says (is ${String(number)})`,
        );
      } else {
        accounts[key as DatevAccountKey] = number;
      }
    }
  }
  if (problems.length > 0) throw hubError("HUB_ERR_SETTINGS_MISSING", `DATEV settings: ${problems.join("; ")}`);
  return { settings, accounts };
}

function account(key: DatevAccountKey, accounts: Resolved["accounts"]): number {
  const number = accounts[key];
  if (number === undefined) throw new Error(`DATEV account ${key} was not resolved`);
  return number;
}

function revenueAccount(
  group: VatGroup,
  accounts: Resolved["accounts"],
  settings: DatevSettings,
  origin: string,
): number {
  switch (group.category) {
    case "S":
      if (group.rate === 19) return account("S19", accounts);
      if (group.rate === 7) return account("S7", accounts);
      throw hubError(
        "HUB_ERR_VALIDATION",
        `${origin}: VAT group S ${group.rate} % has no DATEV revenue account (the export books S 19 %, S 7 %, Z, E and AE)`,
      );
    case "Z": {
      const number = accounts.Z;
      if (number === undefined) {
        throw hubError(
          "HUB_ERR_SETTINGS_MISSING",
          `${origin}: datev.accounts.Z is not set. DATEV's ${settings.chart} has no standard account for 0 % turnover under § 12 Abs. 3 UStG; the tax advisor names the account`,
        );
      }
      return number;
    }
    case "E":
      return account("E", accounts);
    case "AE":
      return account("AE", accounts);
  }
}

/**
 * The debitor account of a customer number `K-NNNNN`: its digits, which must lie in DATEV's
 * debitor range for the account length (personal accounts have length + 1 digits; 10000–69999
 * for length 4, kreditors start at 70000).
 */
function debitorAccount(customerNumber: string, accountLength: number, origin: string): number {
  const match = /^K-(\d{1,9})$/.exec(customerNumber);
  const min = 10 ** accountLength;
  const max = 7 * 10 ** accountLength - 1;
  const number = match ? Number(match[1]) : Number.NaN;
  if (!(number >= min && number <= max)) {
    throw hubError(
      "HUB_ERR_SETTINGS_MISSING",
      `${origin}: customer number ${JSON.stringify(customerNumber)} gives no debitor account: with datev.accountLength ${accountLength} debitors are K-${min} to K-${max}`,
    );
  }
  return number;
}

/** The buyer's VAT id when it belongs to another EU member state; a domestic § 13b booking has none. */
function euVatId(doc: BillingDocument): string | null {
  if (doc.buyer.vatId === null) return null;
  const vatId = text(doc.buyer.vatId, Number.POSITIVE_INFINITY, doc.number, "buyer VAT id")
    .replace(/[\s.-]/g, "")
    .toUpperCase();
  if (!EU_VAT_PREFIXES.has(vatId.slice(0, 2))) return null;
  if (!/^[A-Z]{2}[0-9A-Z+*]{2,13}$/.test(vatId)) {
    throw hubError("HUB_ERR_VALIDATION", `${doc.number}: buyer VAT id ${JSON.stringify(doc.buyer.vatId)} is malformed`);
  }
  return vatId;
}

/**
 * A text for the file: control characters and line breaks become spaces, then every character must
 * be one Windows-1252 has (iconv-lite would silently write "?"), then it is cut to `max`.
 */
function text(value: string, max: number, origin: string, field: string): string {
  const clean = value.replace(CONTROL, " ");
  const missing = [...new Set([...clean].filter((ch) => !WINDOWS_1252.has(ch)))];
  if (missing.length > 0) {
    throw hubError(
      "HUB_ERR_DATEV_UNENCODABLE",
      `${origin}: ${field} "${clean}" has ${missing.join(", ")}, which Windows-1252 cannot encode`,
    );
  }
  return clean.slice(0, max);
}

function belegfeld(value: string, origin: string, field: string): string {
  if (!BELEGFELD.test(value)) {
    throw hubError(
      "HUB_ERR_VALIDATION",
      `${origin}: ${field} ${JSON.stringify(value)} must be 1 to 36 of 0-9 A-Z a-z $ % & * + - / for DATEV`,
    );
  }
  return value;
}

/** Umsatz has at most 10 digits before the decimal comma. */
function checkAmount(cents: number, origin: string): number {
  if (!Number.isSafeInteger(cents) || cents > 999_999_999_999) {
    throw hubError("HUB_ERR_VALIDATION", `${origin}: amount ${cents} cents is more than DATEV's 9999999999,99`);
  }
  return cents;
}

/** A calendar date YYYY-MM-DD, checked. */
function isoDate(value: string, origin: string, field: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const day = match ? new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) : null;
  if (!day || day.toISOString().slice(0, 10) !== value) {
    throw hubError("HUB_ERR_VALIDATION", `${origin}: ${field} ${JSON.stringify(value)} is not a date YYYY-MM-DD`);
  }
  return value;
}

/**
 * Checks the period and returns the start of its fiscal year. Belegdatum carries day and month
 * only, so DATEV refuses a batch whose "Datum vom" and "Datum bis" lie in different calendar years
 * (import message #REW04404) as well as one that leaves the fiscal year.
 */
function checkPeriod(from: string, to: string, fiscalYearStartMonth: number): string {
  isoDate(from, "export period", "from");
  isoDate(to, "export period", "to");
  if (to < from) throw hubError("HUB_ERR_VALIDATION", `export period: ${to} is before ${from}`);
  const year = Number(from.slice(0, 4));
  const startYear = Number(from.slice(5, 7)) >= fiscalYearStartMonth ? year : year - 1;
  const month = String(fiscalYearStartMonth).padStart(2, "0");
  const start = `${startYear}-${month}-01`;
  const next = `${startYear + 1}-${month}-01`;
  if (to >= next) {
    throw hubError(
      "HUB_ERR_VALIDATION",
      `export period ${from} to ${to} crosses the fiscal year starting ${next}; export each fiscal year on its own`,
    );
  }
  if (to.slice(0, 4) !== from.slice(0, 4)) {
    throw hubError(
      "HUB_ERR_VALIDATION",
      `export period ${from} to ${to} crosses a calendar year; DATEV takes the year of every Belegdatum from the period, so export each calendar year on its own`,
    );
  }
  return start;
}

/** The batch label (at most 30 characters): the month when the period is one, else the dates. */
function label(from: string, to: string): string {
  const month = from.slice(0, 7);
  const lastDay = new Date(Date.UTC(Number(from.slice(0, 4)), Number(from.slice(5, 7)), 0)).getUTCDate();
  if (from === `${month}-01` && to === `${month}-${lastDay}`) return `Ausgangsrechnungen ${month}`;
  return `Rechnungen ${compact(from)}-${compact(to)}`;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const quote = (value: string) => `"${value.replaceAll('"', '""')}"`;
const compact = (isoDate: string) => isoDate.replaceAll("-", "");
const dayMonthYear = (isoDate: string) => isoDate.slice(8, 10) + isoDate.slice(5, 7) + isoDate.slice(0, 4);
const decimal = (cents: number) => centsText(cents).replace(".", ",");

/** "Erzeugt am": JJJJMMTTHHMMSSFFF in UTC. */
function timestamp(at: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    String(at.getUTCFullYear()) +
    two(at.getUTCMonth() + 1) +
    two(at.getUTCDate()) +
    two(at.getUTCHours()) +
    two(at.getUTCMinutes()) +
    two(at.getUTCSeconds()) +
    String(at.getUTCMilliseconds()).padStart(3, "0")
  );
}

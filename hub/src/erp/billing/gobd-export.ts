import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type pg from "pg";
import Cursor from "pg-cursor";
import { centsText } from "./document.js";
import { escapeXml } from "./xrechnung.js";

/**
 * The tax auditor's data export (GoBD Z3, "Datenträgerüberlassung", §147 Abs. 6 AO): the
 * period's invoices and credit notes with their lines, its payments, the customers they name and
 * the audit trail, as `;`-separated UTF-8 files without a header row, described by an
 * `index.xml` in the Beschreibungsstandard (GDPdU, 01.08.2002) that auditors' tools (IDEA) read.
 * Each file and its description come from one table declaration below, so the description is
 * always exactly what was written.
 */

type ColumnType = { kind: "alphanumeric" } | { kind: "numeric"; accuracy: number } | { kind: "date" };

interface Column {
  name: string;
  description: string;
  type: ColumnType;
}

interface ExportTable {
  file: string;
  name: string;
  description: string;
  /** Columns named as the primary key (first in the file). */
  primaryKey: string[];
  columns: Column[];
  /** The rows, `$1` = from and `$2` = to (YYYY-MM-DD), values in column order. */
  sql: string;
  foreignKeys?: Array<{ columns: string[]; references: string }>;
}

const text = (name: string, description: string): Column => ({ name, description, type: { kind: "alphanumeric" } });
const amount = (name: string, description: string): Column => ({
  name,
  description,
  type: { kind: "numeric", accuracy: 2 },
});
const day = (name: string, description: string): Column => ({ name, description, type: { kind: "date" } });
const integer = (name: string, description: string): Column => ({
  name,
  description,
  type: { kind: "numeric", accuracy: 0 },
});

/** Documents of the period: finalised, issued from $1 to $2. */
const DOCUMENTS = "i.status = 'finalised' AND i.issue_date BETWEEN $1::date AND $2::date";

/** What the export writes, in this order. */
export const GOBD_TABLES: ExportTable[] = [
  {
    file: "kunden.csv",
    name: "Kunden",
    description: "Kunden der Belege des Zeitraums",
    primaryKey: ["kundennummer"],
    columns: [
      text("kundennummer", "Kundennummer"),
      text("name", "Name"),
      text("art", "private = Privatkunde, business = Gewerbe"),
      text("strasse", "Straße"),
      text("plz", "Postleitzahl"),
      text("ort", "Ort"),
      text("land", "Land (ISO 3166-1)"),
      text("ust_id", "Umsatzsteuer-Identifikationsnummer"),
      text("leitweg_id", "Leitweg-ID"),
    ],
    sql: `SELECT c.number, c.name, c.kind, c.street, c.postal_code, c.city, c.country, c.vat_id, c.leitweg_id
          FROM erp.customers c WHERE EXISTS (SELECT FROM erp.invoices i WHERE i.customer_id = c.id AND ${DOCUMENTS})
          ORDER BY c.number`,
  },
  {
    file: "belege.csv",
    name: "Belege",
    description: "Festgeschriebene Rechnungen (380) und Gutschriften (381) mit Belegdatum im Zeitraum",
    primaryKey: ["belegnummer"],
    columns: [
      text("belegnummer", "Rechnungs- oder Gutschriftsnummer"),
      integer("belegart", "380 Rechnung, 381 Gutschrift/Rechnungskorrektur"),
      day("belegdatum", "Rechnungsdatum"),
      day("leistungsdatum", "Leistungsdatum"),
      day("faellig", "Fälligkeit"),
      text("kundennummer", "Kundennummer"),
      text("korrigiert", "Nummer der korrigierten Rechnung"),
      text("kaeuferreferenz", "Käuferreferenz (Leitweg-ID)"),
      amount("netto", "Nettobetrag EUR"),
      amount("umsatzsteuer", "Umsatzsteuer EUR"),
      amount("brutto", "Bruttobetrag EUR"),
      text("festgeschrieben", "Zeitpunkt der Festschreibung (ISO 8601, UTC)"),
    ],
    sql: `SELECT i.number, i.type_code, i.issue_date, coalesce(i.delivery_date, i.issue_date), i.due_date, c.number,
            o.number, d.document->>'buyerReference', i.net_cents, i.vat_cents, i.gross_cents,
            to_char(i.finalised_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
          FROM erp.invoices i JOIN erp.customers c ON c.id = i.customer_id LEFT JOIN erp.invoices o ON o.id = i.corrects_id
          LEFT JOIN erp.invoice_documents d ON d.invoice_id = i.id
          WHERE ${DOCUMENTS} ORDER BY i.number`,
    foreignKeys: [{ columns: ["kundennummer"], references: "Kunden" }],
  },
  {
    file: "belegpositionen.csv",
    name: "Belegpositionen",
    description: "Positionen der Belege",
    primaryKey: ["belegnummer", "position"],
    columns: [
      text("belegnummer", "Rechnungs- oder Gutschriftsnummer"),
      integer("position", "Positionsnummer"),
      text("art", "article = Artikel, hours = Arbeitszeit, flat = Pauschale"),
      text("artikelnummer", "Artikelnummer"),
      text("seriennummer", "Seriennummer"),
      text("beschreibung", "Beschreibung"),
      { name: "menge", description: "Menge", type: { kind: "numeric", accuracy: 3 } },
      text("einheit", "Einheit (UN/ECE Rec. 20)"),
      amount("einzelpreis", "Einzelpreis netto EUR"),
      amount("netto", "Positionsbetrag netto EUR"),
      text("ust_kategorie", "USt-Kategorie (S, Z 0 % nach § 12 Abs. 3 UStG, E steuerfrei, AE § 13b UStG)"),
      amount("ust_satz", "USt-Satz in Prozent"),
      text("befreiungsgrund", "Grund der Steuerbefreiung"),
    ],
    sql: `SELECT i.number, l.position, l.kind, a.number, l.serial_number, l.description, l.quantity, l.unit,
            l.unit_price_cents, l.line_net_cents, l.vat_category, l.vat_rate * 100, l.exemption_reason
          FROM erp.invoice_lines l JOIN erp.invoices i ON i.id = l.invoice_id LEFT JOIN erp.articles a ON a.id = l.article_id
          WHERE ${DOCUMENTS} ORDER BY i.number, l.position`,
    foreignKeys: [{ columns: ["belegnummer"], references: "Belege" }],
  },
  {
    file: "zahlungen.csv",
    name: "Zahlungen",
    description: "Zahlungseingänge und ihre Stornos mit Zahlungsdatum im Zeitraum",
    primaryKey: ["zahlungsnummer"],
    columns: [
      integer("zahlungsnummer", "laufende Nummer der Zahlung"),
      text("belegnummer", "Nummer der bezahlten Rechnung"),
      day("zahlungsdatum", "Zahlungsdatum"),
      amount("betrag", "Betrag EUR (negativ: Storno)"),
      text("zahlungsart", "transfer, direct_debit, cash, card, offset"),
      text("verwendungszweck", "Verwendungszweck"),
      integer("storno_von", "Nummer der stornierten Zahlung"),
    ],
    sql: `SELECT p.number, i.number, p.paid_on, p.amount_cents, p.method, p.reference, r.number
          FROM erp.payments p JOIN erp.invoices i ON i.id = p.invoice_id LEFT JOIN erp.payments r ON r.id = p.reverses_id
          WHERE p.paid_on BETWEEN $1::date AND $2::date ORDER BY p.number`,
  },
  {
    file: "protokoll.csv",
    name: "Änderungsprotokoll",
    description: "Protokoll aller Änderungen im ERP im Zeitraum (Zeit in UTC), hashverkettet",
    primaryKey: ["nr"],
    columns: [
      integer("nr", "laufende Nummer"),
      text("zeitpunkt", "Zeitpunkt (ISO 8601, UTC)"),
      text("tabelle", "Tabelle"),
      text("datensatz", "Datensatz-ID"),
      text("vorgang", "INSERT, UPDATE, DELETE, REFUSED, READ, EXPORT"),
      text("benutzer", "handelnder Benutzer oder Systemprozess"),
      text("grund", "angegebener Grund"),
      text("vorher", "Zustand vorher (JSON)"),
      text("nachher", "Zustand nachher (JSON)"),
      text("hash", "SHA-256 des Eintrags in seiner Kette"),
    ],
    sql: `SELECT r.id, to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), r.schema_name || '.' || r.table_name,
            r.entity_id, r.op, r.actor_id, r.reason, r.before::text, r.after::text, r.hash
          FROM audit.records r
          WHERE r.at >= $1::date AND r.at < $2::date + 1 ORDER BY r.id`,
  },
];

/** A value as the Beschreibungsstandard column type writes it. */
function field(value: unknown, type: ColumnType): string {
  if (value === null || value === undefined) return "";
  if (type.kind === "date") {
    const d = value instanceof Date ? value : new Date(`${value}T00:00:00Z`);
    const iso = value instanceof Date ? localDay(d) : String(value);
    const [y, m, dd] = iso.split("-");
    return `${dd}.${m}.${y}`;
  }
  if (type.kind === "numeric") {
    if (type.accuracy === 0) return String(value);
    // amounts arrive in cents (accuracy 2) or as numeric text (accuracy 3): fixed-point, decimal comma
    const text = type.accuracy === 2 ? centsText(Number(value)) : Number(value).toFixed(type.accuracy);
    return text.replace(".", ",");
  }
  return `"${String(value)
    .replace(/[\r\n\t]+/g, " ")
    .replace(/"/g, '""')}"`;
}

const localDay = (d: Date) =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;

/** The `index.xml` describing `tables` (Beschreibungsstandard 1.0, variable length, UTF-8). */
export function gobdIndexXml(
  supplier: { name: string; location: string; comment: string },
  period: { from: string; to: string },
  tables: ExportTable[] = GOBD_TABLES,
): string {
  const columnType = (t: ColumnType) =>
    t.kind === "alphanumeric"
      ? "<AlphaNumeric/>"
      : t.kind === "date"
        ? "<Date><Format>DD.MM.YYYY</Format></Date>"
        : `<Numeric><Accuracy>${t.accuracy}</Accuracy></Numeric>`;
  const german = (d: string) => d.split("-").reverse().join(".");
  const described = tables.map((table) => {
    const columns = table.columns.map((c) => {
      const element = table.primaryKey.includes(c.name) ? "VariablePrimaryKey" : "VariableColumn";
      return `          <${element}><Name>${escapeXml(c.name)}</Name><Description>${escapeXml(c.description)}</Description>${columnType(c.type)}</${element}>`;
    });
    const keys = (table.foreignKeys ?? []).map(
      (k) =>
        `          <ForeignKey>${k.columns.map((c) => `<Name>${escapeXml(c)}</Name>`).join("")}<References>${escapeXml(k.references)}</References></ForeignKey>`,
    );
    return [
      "    <Table>",
      `      <URL>${escapeXml(table.file)}</URL>`,
      `      <Name>${escapeXml(table.name)}</Name>`,
      `      <Description>${escapeXml(table.description)}</Description>`,
      `      <Validity><Range><From>${german(period.from)}</From><To>${german(period.to)}</To></Range><Format>DD.MM.YYYY</Format></Validity>`,
      "      <UTF8/>",
      "      <DecimalSymbol>,</DecimalSymbol>",
      "      <DigitGroupingSymbol>.</DigitGroupingSymbol>",
      "      <VariableLength>",
      "        <ColumnDelimiter>;</ColumnDelimiter>",
      "        <RecordDelimiter>&#13;&#10;</RecordDelimiter>",
      '        <TextEncapsulator>"</TextEncapsulator>',
      ...columns,
      ...keys,
      "      </VariableLength>",
      "    </Table>",
    ].join("\n");
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE DataSet SYSTEM "gdpdu-01-08-2002.dtd">',
    "<DataSet>",
    "  <Version>1.0</Version>",
    `  <DataSupplier><Name>${escapeXml(supplier.name)}</Name><Location>${escapeXml(supplier.location)}</Location><Comment>${escapeXml(supplier.comment)}</Comment></DataSupplier>`,
    "  <Media>",
    "    <Name>Datenträger 1</Name>",
    ...described,
    "  </Media>",
    "</DataSet>",
    "",
  ].join("\n");
}

/**
 * Writes the Z3 export of `from`..`to` (YYYY-MM-DD, inclusive) into `outDir`: one file per
 * table, read through a cursor (a long period never sits in memory whole), and `index.xml`.
 * Runs in one REPEATABLE READ, read-only transaction, so every file shows the same moment.
 * Returns the rows written per file.
 */
export async function exportGobd(
  pool: pg.Pool,
  options: { from: string; to: string; outDir: string },
): Promise<Record<string, number>> {
  await mkdir(options.outDir, { recursive: true });
  const client = await pool.connect();
  const written: Record<string, number> = {};
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const { rows } = await client.query("SELECT name, city FROM erp.company_settings WHERE id = 1");
    for (const table of GOBD_TABLES) {
      const out = createWriteStream(join(options.outDir, table.file));
      const cursor = client.query(new Cursor(table.sql, [options.from, options.to], { rowMode: "array" }));
      let count = 0;
      for (;;) {
        const batch: unknown[][] = await cursor.read(1000);
        if (!batch.length) break;
        const lines = batch.map(
          (row) => `${row.map((v, i) => field(v, table.columns[i]?.type as ColumnType)).join(";")}\r\n`,
        );
        count += batch.length;
        if (!out.write(lines.join(""))) await once(out, "drain");
      }
      await cursor.close();
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      written[table.file] = count;
    }
    await client.query("COMMIT");
    const supplier = {
      name: rows[0]?.name ?? "(Firmenname nicht gesetzt)",
      location: rows[0]?.city ?? "",
      comment: `GoBD-Datenträgerüberlassung (Z3) ${options.from} bis ${options.to}`,
    };
    await writeFile(join(options.outDir, "index.xml"), gobdIndexXml(supplier, options));
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
  return written;
}

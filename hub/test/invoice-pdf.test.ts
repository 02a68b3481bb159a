/**
 * The invoice PDF, read back with pdfjs-dist as a recipient's software reads it: every fixture
 * carries the §14 Abs. 4 UStG particulars, its totals in German format and each legal note; a
 * long table flows over pages with its header, carried subtotals and "Seite n von m"; German
 * characters survive and others do not break it; the same document gives the same bytes.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { getDocument } from "pdfjs-dist/legacy/build/pdf.mjs";
import t from "tap";
import {
  type BillingDocument,
  type DocumentLine,
  legalNotes,
  paymentTermsText,
  type VatGroup,
} from "../src/erp/billing/document.js";
import { renderInvoicePdf } from "../src/erp/billing/pdf.js";
import {
  businessBuyer,
  creditNote,
  documentOf,
  exempt,
  FIXTURE_DOCUMENTS,
  line,
  pvZeroRate,
  reverseCharge,
  standard19,
} from "./fixtures/billing-documents.js";

const standardFontDataUrl = `${join(dirname(createRequire(import.meta.url).resolve("pdfjs-dist/package.json")), "standard_fonts")}/`;

interface Item {
  str: string;
  x: number;
  y: number;
  width: number;
}

interface ReadPdf {
  /** Each page's text: its items joined by single spaces. */
  pages: string[];
  /** Each page's non-blank text items with their position (PDF user space, y upwards). */
  items: Item[][];
  /** The whole document's text. */
  text: string;
  /** The info dictionary. */
  info: Record<string, unknown>;
}

/** The text of a PDF as pdfjs-dist extracts it (no worker, no canvas: text only). */
async function readPdf(bytes: Buffer): Promise<ReadPdf> {
  const pdf = await getDocument({
    data: new Uint8Array(bytes),
    standardFontDataUrl,
    isEvalSupported: false,
    verbosity: 0,
  }).promise;
  try {
    const items: Item[][] = [];
    for (let n = 1; n <= pdf.numPages; n++) {
      const content = await (await pdf.getPage(n)).getTextContent();
      items.push(
        content.items
          .filter((item) => "str" in item && item.str.trim() !== "")
          .map((item) => {
            const { str, transform, width } = item as { str: string; transform: number[]; width: number };
            return { str, x: transform[4] ?? 0, y: transform[5] ?? 0, width };
          }),
      );
    }
    const pages = items.map((page) =>
      page
        .map((item) => item.str)
        .join(" ")
        .replace(/\s+/g, " "),
    );
    const { info } = await pdf.getMetadata();
    return { pages, items, text: pages.join(" "), info: info as Record<string, unknown> };
  } finally {
    await pdf.destroy();
  }
}

/** The expected German amount, from Intl rather than the renderer's own integer formatter. */
const euro = (cents: number) =>
  new Intl.NumberFormat("de-DE", { style: "currency", currency: "EUR" }).format(cents / 100).replace(/\u00a0/g, " ");

const VAT_LABELS: Record<VatGroup["category"], (rate: number) => string> = {
  S: (rate) => `USt. ${rate} %`,
  Z: () => "USt. 0 % (§ 12 Abs. 3 UStG)",
  AE: () => "USt. 0 % (§ 13b UStG, Reverse Charge)",
  E: () => "USt. 0 % (steuerfrei)",
};
const vatLine = (g: VatGroup) => `${VAT_LABELS[g.category](g.rate)} auf ${euro(g.taxableCents)} ${euro(g.taxCents)}`;

const RETENTION_NOTICE = "§ 14b Abs. 1 Satz 5 UStG";
const TABLE_HEADER = "Pos. Beschreibung Menge Einzelpreis USt. Gesamt";

/** Large amounts (thousands grouping), a foreign buyer, an unknown unit code. */
const bigAmounts = documentOf({
  number: "RE-2026-00099",
  buyer: { ...businessBuyer, name: "Alpenstrom GmbH", country: "AT", city: "Innsbruck", postalCode: "6020" },
  lines: [
    line(1, { description: "Solarpark Tirol, Generalunternehmer", quantity: 1, unitPriceCents: 123_456_789 }),
    line(2, { description: "Kabel", quantity: 1_250.5, unit: "MTR", unitPriceCents: 129 }),
    line(3, { description: "Gerüst", quantity: 3, unit: "WEE", unitPriceCents: 45_000 }),
  ],
});

for (const [name, doc] of Object.entries({ ...FIXTURE_DOCUMENTS, bigAmounts })) {
  t.test(`${name}: the particulars of §14 Abs. 4 UStG`, async (t) => {
    const bytes = await renderInvoicePdf(doc);
    t.equal(bytes.subarray(0, 5).toString("latin1"), "%PDF-");
    const { text, pages } = await readPdf(bytes);
    const has = (s: string) => t.ok(text.includes(s), `shows "${s}"`);

    has(doc.number);
    has(doc.seller.name);
    has(doc.buyer.name);
    has(`${doc.buyer.street}`);
    has(`${doc.buyer.postalCode} ${doc.buyer.city}`);
    has(`Leistungsdatum ${doc.deliveryDate.split("-").reverse().join(".")}`);
    has(`Kundennummer ${doc.buyer.customerNumber}`);
    if (doc.buyer.vatId) has(`Ihre USt-IdNr. ${doc.buyer.vatId}`);
    has(`Nettobetrag ${euro(doc.netCents)}`);
    for (const group of doc.vatBreakdown) has(vatLine(group));
    has(`${doc.typeCode === 381 ? "Gutschriftsbetrag" : "Rechnungsbetrag"} ${euro(doc.grossCents)}`);
    for (const l of doc.lines) {
      has(`${l.position} ${l.description}`);
      has(`${euro(l.unitPriceCents)}`);
      has(euro(l.lineNetCents));
    }
    for (const note of legalNotes(doc)) has(note);
    has(paymentTermsText(doc));
    // seller particulars in the footer
    has("USt-IdNr. DE811907980");
    has("Steuernr. 026 123 45678");
    has("Amtsgericht Kassel HRB 17 523");
    has("Geschäftsführung: Jana Brenner");
    has("IBAN DE02 1203 0000 0000 2020 51");
    has("BIC BYLADEM1001");
    has("Deutsche Kreditbank Berlin");
    has("Tel. +49 561 123456");
    has("buchhaltung@sonnenstrom.example");
    t.same(
      pages.map((p) => /Seite (\d+) von (\d+)/.exec(p)?.slice(1)),
      pages.map((_, i) => [String(i + 1), String(pages.length)]),
      "Seite n von m",
    );
    t.equal(text.includes(RETENTION_NOTICE), doc.buyer.kind === "private", "§14b notice exactly for private buyers");
  });
}

t.test("standard19: dates, units, no retention notice for a business", async (t) => {
  const { text } = await readPdf(await renderInvoicePdf(standard19));
  t.match(text, "Rechnung RE-2026-00001");
  t.match(text, "Rechnungsdatum 20.11.2026");
  t.match(text, "Leistungsdatum 18.11.2026");
  t.match(text, "1 Wartung PV-Anlage 2,5 Std. 73,33 € 19 % 183,33 €");
  t.match(text, "2 Kleinmaterial 3 Stk. 3,33 € 19 % 9,99 €");
  t.match(text, "Zahlbar innerhalb von 14 Tagen ohne Abzug bis 04.12.2026.");
  t.match(text, "unter Angabe der Rechnungsnummer RE-2026-00001");
  t.notMatch(text, "§ 14b");
  t.notMatch(text, "Leitweg-ID");
  t.notMatch(text, "Ihre Referenz");
  t.notMatch(text, "Leistungsort");
  // the sender line above the window address
  t.match(text, "Sonnenstrom Nordhessen GmbH · Industriestraße 12 · 34123 Kassel Bäckerei Morgenrot GmbH Marktplatz 3");
});

t.test("pvZeroRate: the 0 % rate of §12 Abs. 3 UStG, the place of performance, serial numbers", async (t) => {
  const { text } = await readPdf(await renderInvoicePdf(pvZeroRate));
  t.match(text, "Nullsteuersatz für die Lieferung und Installation von Photovoltaikanlagen");
  t.match(text, "Sie sind gesetzlich verpflichtet, diese Rechnung zwei Jahre lang aufzubewahren");
  t.match(text, "USt. 0 % (§ 12 Abs. 3 UStG) auf 5.667,00 € 0,00 €");
  t.match(text, "Rechnungsbetrag 5.667,00 €");
  t.match(text, "Leistungsort: Sonnenweg 7, 34117 Kassel");
  t.match(text, "2 Hybrid-Wechselrichter 10 kW Art.-Nr. INV-10 SN: SIM-INV-0001 1 Stk. 1.890,00 € 0 % 1.890,00 €");
  t.match(text, "23 Stk. 119,00 € 0 % 2.737,00 €");
  t.match(text, "16 Std. 65,00 € 0 % 1.040,00 €");
});

t.test("reverseCharge: §13b UStG, the Leitweg-ID of a public buyer", async (t) => {
  const { text } = await readPdf(await renderInvoicePdf(reverseCharge));
  t.match(text, "Steuerschuldnerschaft des Leistungsempfängers (§ 13b UStG).");
  t.match(text, "Leitweg-ID 04011000-1234512345-06");
  t.match(text, "24 Std. 62,00 € RC 1.488,00 €");
  t.match(text, "Rechnungsbetrag 1.488,00 €");
});

t.test("a buyer reference that is no Leitweg-ID is the buyer's reference", async (t) => {
  const { text } = await readPdf(await renderInvoicePdf({ ...standard19, buyerReference: "Bestellung 4711" }));
  t.match(text, "Ihre Referenz Bestellung 4711");
  t.notMatch(text, "Leitweg-ID");
});

t.test("exempt: the exemption reason", async (t) => {
  const { text } = await readPdf(await renderInvoicePdf(exempt));
  t.match(text, "Steuerfrei: Steuerfreie Versicherungsvermittlung nach § 4 Nr. 11 UStG");
  t.match(text, "Vermittlung Versicherung 1 pauschal 120,00 € befreit 120,00 €");
  t.match(text, "USt. 19 % auf 450,00 € 85,50 €");
  t.match(text, "USt. 0 % (steuerfrei) auf 120,00 € 0,00 €");
});

t.test("creditNote: a credit note names the invoice it corrects", async (t) => {
  const { text } = await readPdf(await renderInvoicePdf(creditNote));
  t.match(text, "Gutschrift / Rechnungskorrektur GS-2026-00001");
  t.match(text, "zu Rechnung RE-2026-00003 vom 20.11.2026");
  t.match(text, "Datum 25.11.2026");
  t.match(text, "Gutschriftsbetrag 238,00 €");
  t.match(text, "Der Betrag wird Ihnen erstattet oder mit offenen Forderungen verrechnet.");
  t.notMatch(text, "Rechnungsbetrag");
  t.notMatch(text, "Bitte überweisen");
});

t.test("bigAmounts: thousands grouping, a foreign buyer, units", async (t) => {
  const { text } = await readPdf(await renderInvoicePdf(bigAmounts));
  t.match(text, "Generalunternehmer 1 pauschal 1.234.567,89 € 19 % 1.234.567,89 €");
  t.match(text, "1.250,5 m 1,29 €");
  t.match(text, "Gerüst 3 WEE 450,00 €", "an unknown unit code as it is");
  t.match(text, "6020 Innsbruck ÖSTERREICH");
});

t.test("60 lines flow over pages: header and page number on each, every position once", async (t) => {
  const long =
    "Lieferung und Montage eines Batteriespeichers mit Notstromfunktion, einschließlich Verkabelung, " +
    "Überspannungsschutz, Inbetriebnahme und Einweisung des Betreibers vor Ort";
  const lines: DocumentLine[] = Array.from({ length: 60 }, (_, i) =>
    line(i + 1, {
      description: i % 7 === 3 ? `${long} (${i + 1})` : `Position ${i + 1}: Montagematerial`,
      quantity: (i % 4) + 1,
      unit: "H87",
      unitPriceCents: 1_000 + i * 37,
      serialNumber: i % 10 === 0 ? `SN-${i + 1}` : null,
    }),
  );
  const doc = documentOf({ number: "RE-2026-00060", buyer: businessBuyer, lines });
  const started = performance.now();
  const bytes = await renderInvoicePdf(doc);
  t.comment(`60 lines: ${(performance.now() - started).toFixed(1)} ms, ${bytes.length} bytes`);
  const { pages, items } = await readPdf(bytes);

  t.ok(pages.length >= 3, `${pages.length} pages`);
  const positions: number[] = [];
  let carried = 0;
  for (const [i, page] of pages.entries()) {
    const n = i + 1;
    t.match(page, `Seite ${n} von ${pages.length}`);
    t.match(page, TABLE_HEADER, `table header on page ${n}`);
    const pageItems = items[i] ?? [];
    const header = pageItems.find((item) => item.str === "Pos.");
    const quantityHeader = pageItems.find((item) => item.str === "Menge");
    if (!header || !quantityHeader) {
      t.fail(`no table header on page ${n}`);
      continue;
    }
    const onPage = pageItems
      .filter((item) => Math.abs(item.x - header.x) < 1 && /^\d+$/.test(item.str))
      .map((item) => Number(item.str));
    t.ok(onPage.length > 0, `positions on page ${n}`);
    positions.push(...onPage);
    // descriptions stay in their column
    const descriptionX = pageItems.find((item) => item.str === "Beschreibung")?.x ?? 0;
    const overflowing = pageItems
      .filter((item) => Math.abs(item.x - descriptionX) < 1 && item.x + item.width >= quantityHeader.x)
      .map((item) => item.str);
    t.same(overflowing, [], `descriptions on page ${n} end before the quantity column`);
    // each page but the first opens with the previous page's subtotal, each but the last ends with its own
    if (n > 1) t.match(page, `${TABLE_HEADER} Übertrag ${euro(carried)}`, `carried into page ${n}`);
    carried += onPage.reduce((sum, pos) => sum + (lines[pos - 1]?.lineNetCents ?? 0), 0);
    if (n < pages.length) t.match(page, new RegExp(`Übertrag ${euro(carried)} Rechnung RE-2026-00060 vom`));
    t.equal(page.includes(`Rechnungsbetrag ${euro(doc.grossCents)}`), n === pages.length, `totals on page ${n}`);
  }
  t.same(
    positions,
    Array.from({ length: 60 }, (_, i) => i + 1),
    "positions 1..60, each exactly once, in order",
  );
  t.equal(carried, doc.netCents);

  const text = pages.join(" ");
  t.match(text, `${long} (4)`, "a long description, wrapped, reads whole");
  t.notOk(
    items.flat().some((item) => item.str.includes(long)),
    "the long description is broken into lines",
  );
});

t.test("a row longer than a page is split between pages, clear of the footer", async (t) => {
  const description = Array.from({ length: 600 }, (_, i) => `Prüfschritt${i + 1}`).join(" ");
  const doc = documentOf({
    number: "RE-2026-00061",
    buyer: businessBuyer,
    lines: [
      line(1, { description: "Vorab", unitPriceCents: 100 }),
      line(2, { description, unitPriceCents: 50_000 }),
      line(3, { description: "Danach", unitPriceCents: 200 }),
    ],
  });
  const { pages, items } = await readPdf(await renderInvoicePdf(doc));
  t.ok(pages.length >= 3, `${pages.length} pages`);
  const column: string[] = [];
  for (const [i, pageItems] of items.entries()) {
    const pageNumber = pageItems.find((item) => item.str.startsWith("Seite "));
    const descriptionX = pageItems.find((item) => item.str === "Beschreibung")?.x;
    if (!pageNumber || descriptionX === undefined) {
      t.fail(`page ${i + 1} lacks its number or table header`);
      continue;
    }
    column.push(
      ...pageItems
        .filter((item) => Math.abs(item.x - descriptionX) < 1 && item.str !== "Beschreibung")
        .map((i) => i.str),
    );
    const low = pageItems.filter((item) => Math.abs(item.x - descriptionX) < 1 && item.y <= pageNumber.y + 10);
    t.same(
      low.map((item) => item.str),
      [],
      `page ${i + 1}: the table ends above the footer`,
    );
  }
  t.equal(column.join(" "), `Vorab ${description} Danach`, "the description column reads whole, in order");
  t.match(pages.at(-1) ?? "", `Rechnungsbetrag ${euro(doc.grossCents)}`);
});

t.test("German characters render; others become ? and do not break the document", async (t) => {
  const german = "Grüße aus Gießen: „Sonderzubehör“ für 1.000 € – Maß, Öl & Äpfel…";
  const doc = documentOf({
    number: "RE-2026-00100",
    buyer: { ...businessBuyer, name: "Müller & Söhne – Straßenbau" },
    notes: "Wärmepumpe ✓ → 🙂 \u2212 a\u0308\u00ad",
    lines: [line(1, { description: german, unitPriceCents: 10_000 })],
  });
  const { text } = await readPdf(await renderInvoicePdf(doc));
  t.match(text, german);
  t.match(text, "Müller & Söhne – Straßenbau");
  t.match(text, "Wärmepumpe ? ? ? - ä", "outside WinAnsi: ? (an emoji as one); decomposed ä composed");
  t.match(text, "119,00 €");
});

t.test("the same document gives the same bytes, dated by its issue date", async (t) => {
  const first = await renderInvoicePdf(pvZeroRate);
  await new Promise((resolve) => setTimeout(resolve, 1_100)); // PDF dates have seconds: let the clock move on
  const second = await renderInvoicePdf(pvZeroRate);
  t.ok(first.equals(second), "byte-identical");
  const { info } = await readPdf(first);
  t.match(info, { CreationDate: "D:20261120000000Z", ModDate: "D:20261120000000Z", Title: "Rechnung RE-2026-00003" });
  t.notOk((await renderInvoicePdf(standard19)).equals(first), "another document, other bytes");

  const runs = 20;
  const started = performance.now();
  for (let i = 0; i < runs; i++) await renderInvoicePdf(pvZeroRate);
  t.comment(`pvZeroRate: ${((performance.now() - started) / runs).toFixed(1)} ms a render (mean of ${runs})`);
});

t.test("a document that is not finalised is refused, not printed", async (t) => {
  await t.rejects(renderInvoicePdf({ ...standard19, netCents: 193.325 }), RangeError);
  await t.rejects(renderInvoicePdf({ ...standard19, issueDate: "20.11.2026" }), RangeError);
  await t.rejects(renderInvoicePdf({ ...creditNote, corrects: null } as BillingDocument), RangeError);
});

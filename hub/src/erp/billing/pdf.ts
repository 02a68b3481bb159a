/**
 * The PDF rendering of a finalised billing document: a German invoice (380) or credit note (381)
 * on A4 with the particulars of §14 Abs. 4 UStG, laid out after DIN 5008 form B (letterhead,
 * window address with sender line, information block, line table, totals, legal notes, payment,
 * footer with the company's register data on every page).
 *
 * All text is placed line by line at computed positions (`lineBreak: false`): this module wraps
 * and paginates itself, so pdfkit never adds a page on its own and the table header, carried
 * subtotals and "Seite n von m" are always where they belong.
 */
import PDFDocument from "pdfkit";
import {
  type Address,
  type BillingDocument,
  centsText,
  type DocumentLine,
  decimalText,
  germanDate,
  legalNotes,
  paymentTermsText,
  type VatGroup,
} from "./document.js";

/**
 * The document as a PDF. The same document always gives the same bytes: the PDF info dates are
 * the issue date, and pdfkit derives the trailer's /ID from the info dictionary (an MD5 of it,
 * see `PDFSecurity.generateFileID`), not from the clock or a random source.
 */
export async function renderInvoicePdf(doc: BillingDocument): Promise<Buffer> {
  assertRenderable(doc);
  const pdf = new PDFDocument({
    size: "A4",
    margin: 0,
    autoFirstPage: false,
    bufferPages: true,
    lang: "de-DE",
    displayTitle: true,
    info: documentInfo(doc),
  });
  const bytes = collect(pdf);
  const footer = footerColumns(pdf, doc.seller);
  const footerTop = PAGE_HEIGHT - mm(12) - footerHeight(footer);
  const ctx: Ctx = { pdf, doc, y: 0, bodyBottom: footerTop - 26 };

  pdf.addPage({ size: "A4", margin: 0 });
  drawLetterhead(ctx);
  drawFoldMarks(ctx);
  drawAddressWindow(ctx);
  const infoBottom = drawInfoBlock(ctx);
  drawTitle(ctx, infoBottom);
  drawLineTable(ctx);
  drawTotals(ctx);
  drawClosingText(ctx);
  drawPageFrames(ctx, footer, footerTop);

  pdf.end();
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Page geometry and type styles
// ---------------------------------------------------------------------------------------------

/** Millimetres to PDF points (1/72 inch). */
const mm = (millimetres: number) => (millimetres * 72) / 25.4;

const PAGE_WIDTH = mm(210);
const PAGE_HEIGHT = mm(297);
/** DIN 5008: 25 mm left, at least 20 mm right. */
const LEFT = mm(25);
const RIGHT = PAGE_WIDTH - mm(20);
const CONTENT_WIDTH = RIGHT - LEFT;

const REGULAR = "Helvetica";
const BOLD = "Helvetica-Bold";
const INK = "#1a1a1a";
const MUTED = "#5f6368";
const ACCENT = "#1f4e79";
const RULE = "#c8c8c8";
const BAND = "#e9eef4";

interface TextStyle {
  font: typeof REGULAR | typeof BOLD;
  size: number;
  color: string;
  /** Distance from one line's top to the next one's. */
  lineHeight: number;
}

const STYLES = {
  body: { font: REGULAR, size: 9, color: INK, lineHeight: 12 },
  bodyBold: { font: BOLD, size: 9, color: INK, lineHeight: 12 },
  address: { font: REGULAR, size: 10, color: INK, lineHeight: 12.5 },
  detail: { font: REGULAR, size: 7.5, color: MUTED, lineHeight: 9.5 },
  label: { font: REGULAR, size: 8.5, color: MUTED, lineHeight: 12 },
  tableHead: { font: BOLD, size: 8.5, color: INK, lineHeight: 12 },
  sender: { font: REGULAR, size: 7, color: MUTED, lineHeight: 8.5 },
  footer: { font: REGULAR, size: 7, color: MUTED, lineHeight: 8.8 },
  letterhead: { font: BOLD, size: 16, color: ACCENT, lineHeight: 20 },
  letterheadDetail: { font: REGULAR, size: 8, color: MUTED, lineHeight: 10 },
  continuationHead: { font: BOLD, size: 10, color: ACCENT, lineHeight: 13 },
  title: { font: BOLD, size: 14, color: INK, lineHeight: 18 },
  gross: { font: BOLD, size: 10, color: INK, lineHeight: 14 },
} satisfies Record<string, TextStyle>;

/** What the drawing functions share: the pdfkit document, the billing document, the cursor. */
interface Ctx {
  pdf: PDFKit.PDFDocument;
  doc: BillingDocument;
  /** Top of the next thing to draw on the current page. */
  y: number;
  /** Lowest y the body may reach on any page (the footer lies below). */
  bodyBottom: number;
}

// ---------------------------------------------------------------------------------------------
// First page: letterhead, fold marks, address window, information block, title
// ---------------------------------------------------------------------------------------------

function drawLetterhead(ctx: Ctx): void {
  const { seller } = ctx.doc;
  const top = mm(14);
  const nameLines = wrap(ctx.pdf, seller.name, STYLES.letterhead, mm(95));
  nameLines.forEach((line, i) => {
    put(ctx, line, LEFT, top + i * STYLES.letterhead.lineHeight, STYLES.letterhead);
  });
  const contact = [
    seller.street,
    cityLine(seller),
    seller.country === "DE" ? null : countryName(seller.country),
    `Tel. ${seller.phone}`,
    seller.email,
  ].filter(isText);
  contact.forEach((line, i) => {
    putRight(ctx, line, RIGHT, top + 2 + i * STYLES.letterheadDetail.lineHeight, STYLES.letterheadDetail);
  });
  const bottom = Math.max(
    top + nameLines.length * STYLES.letterhead.lineHeight,
    top + 2 + contact.length * STYLES.letterheadDetail.lineHeight,
  );
  hrule(ctx, LEFT, RIGHT, Math.max(mm(38), bottom + 4), ACCENT, 0.8);
}

/** DIN 5008 form B: fold marks at 105 mm and 210 mm, the punch mark at 148.5 mm. */
function drawFoldMarks(ctx: Ctx): void {
  for (const [y, length] of [
    [mm(105), mm(5)],
    [mm(148.5), mm(7)],
    [mm(210), mm(5)],
  ] as const) {
    hrule(ctx, mm(3), mm(3) + length, y, RULE, 0.5);
  }
}

/**
 * DIN 5008 form B window (20 mm from the left, 45 mm from the top, 85 × 45 mm): the sender line
 * at the foot of the 17.7 mm zone for remarks, the buyer's address in the 27.3 mm zone below.
 */
function drawAddressWindow(ctx: Ctx): void {
  const { seller, buyer } = ctx.doc;
  const width = mm(80);
  const sender = wrap(
    ctx.pdf,
    [seller.name, seller.street, cityLine(seller)].filter(isText).join(" · "),
    STYLES.sender,
    width,
  );
  const senderBottom = mm(61.5);
  sender.forEach((line, i) => {
    put(ctx, line, LEFT, senderBottom - (sender.length - i) * STYLES.sender.lineHeight, STYLES.sender);
  });
  hrule(ctx, LEFT, LEFT + width, senderBottom + 0.5, RULE, 0.4);

  const lines = [
    ...wrap(ctx.pdf, buyer.name, STYLES.address, width),
    ...addressLines(buyer).flatMap((line) => wrap(ctx.pdf, line, STYLES.address, width)),
  ];
  lines.forEach((line, i) => {
    put(ctx, line, LEFT, mm(63.5) + i * STYLES.address.lineHeight, STYLES.address);
  });
}

/** The information block right of the window (DIN 5008 form B: 125 mm from the left, 50 mm down); returns its bottom. */
function drawInfoBlock(ctx: Ctx): number {
  const left = mm(125);
  const labelWidth = 72;
  const valueWidth = RIGHT - left - labelWidth;
  let y = mm(50);
  for (const [label, value] of infoRows(ctx.doc)) {
    put(ctx, label, left, y + 0.5, STYLES.label);
    for (const line of wrap(ctx.pdf, value, STYLES.body, valueWidth)) {
      put(ctx, line, left + labelWidth, y, STYLES.body);
      y += STYLES.body.lineHeight;
    }
  }
  return y;
}

function infoRows(doc: BillingDocument): Array<[string, string]> {
  const credit = doc.typeCode === 381;
  const rows: Array<[string, string]> = [
    [credit ? "Gutschrift-Nr." : "Rechnungs-Nr.", doc.number],
    [credit ? "Datum" : "Rechnungsdatum", germanDate(doc.issueDate)],
    ["Leistungsdatum", germanDate(doc.deliveryDate)],
    ["Kundennummer", doc.buyer.customerNumber],
  ];
  if (doc.buyerReference !== doc.buyer.customerNumber) {
    rows.push([isLeitwegId(doc.buyerReference) ? "Leitweg-ID" : "Ihre Referenz", doc.buyerReference]);
  }
  if (doc.buyer.vatId) rows.push(["Ihre USt-IdNr.", doc.buyer.vatId]);
  rows.push(["Ansprechpartner", doc.seller.contactName]);
  return rows;
}

/**
 * Title ("Rechnung" / "Gutschrift / Rechnungskorrektur" with the number), the corrected invoice
 * of a credit note, the place of performance when it is not the buyer's address, a short intro.
 */
function drawTitle(ctx: Ctx, infoBottom: number): void {
  const { doc } = ctx;
  ctx.y = Math.max(mm(98), infoBottom + 16);
  for (const line of wrap(ctx.pdf, `${documentTitle(doc)} ${doc.number}`, STYLES.title, CONTENT_WIDTH)) {
    put(ctx, line, LEFT, ctx.y, STYLES.title);
    ctx.y += STYLES.title.lineHeight;
  }
  const below: string[] = [];
  if (doc.typeCode === 381 && doc.corrects) {
    below.push(`zu Rechnung ${doc.corrects.number} vom ${germanDate(doc.corrects.issueDate)}`);
  }
  if (doc.deliveryAddress) {
    below.push(`Leistungsort: ${addressLines(doc.deliveryAddress).join(", ")}`);
  }
  below.push(
    doc.typeCode === 381
      ? "Wir schreiben Ihnen die folgenden Positionen gut:"
      : "Vielen Dank für Ihren Auftrag. Wir berechnen Ihnen die folgenden Lieferungen und Leistungen:",
  );
  ctx.y += 2;
  paragraphs(ctx, below, STYLES.body, 0);
  ctx.y += 8;
}

// ---------------------------------------------------------------------------------------------
// The line table
// ---------------------------------------------------------------------------------------------

type ColumnKey = "position" | "description" | "quantity" | "unitPrice" | "vat" | "total";

interface Column {
  key: ColumnKey;
  header: string;
  align: "left" | "right";
  x: number;
  width: number;
}

/** Inner padding of a table cell, left and right. */
const CELL_PAD = 4;
/** Space above and below a row's text. */
const ROW_PAD = 3.5;
/** Height of a carried-subtotal ("Übertrag") row. */
const CARRY_HEIGHT = 16;

/** The columns, left to right: fixed widths, the description takes what is left. */
const COLUMNS: Column[] = (() => {
  const spec: Array<Omit<Column, "x" | "width"> & { width: number | null }> = [
    { key: "position", header: "Pos.", align: "left", width: 28 },
    { key: "description", header: "Beschreibung", align: "left", width: null },
    { key: "quantity", header: "Menge", align: "right", width: 62 },
    { key: "unitPrice", header: "Einzelpreis", align: "right", width: 66 },
    { key: "vat", header: "USt.", align: "right", width: 40 },
    { key: "total", header: "Gesamt", align: "right", width: 70 },
  ];
  const fixed = spec.reduce((sum, c) => sum + (c.width ?? 0), 0);
  let x = LEFT;
  return spec.map((c) => {
    const width = c.width ?? CONTENT_WIDTH - fixed;
    const column = { ...c, x, width };
    x += width;
    return column;
  });
})();

function column(key: ColumnKey): Column {
  const found = COLUMNS.find((c) => c.key === key);
  if (!found) throw new Error(`no table column ${key}`);
  return found;
}

/** A row's description column: the wrapped description, then article number and serial number. */
function descriptionLines(ctx: Ctx, line: DocumentLine): Array<{ text: string; style: TextStyle }> {
  const width = column("description").width - 2 * CELL_PAD;
  const lines = wrap(ctx.pdf, line.description, STYLES.body, width).map((text) => ({ text, style: STYLES.body }));
  const details = [
    line.articleNumber ? `Art.-Nr. ${line.articleNumber}` : null,
    line.serialNumber ? `SN: ${line.serialNumber}` : null,
  ].filter(isText);
  for (const detail of details) {
    lines.push(...wrap(ctx.pdf, detail, STYLES.detail, width).map((text) => ({ text, style: STYLES.detail })));
  }
  return lines;
}

/**
 * The lines, flowing over as many pages as they need. A page that is followed by another ends
 * with the carried net subtotal ("Übertrag"), which opens the next page under the repeated
 * header. The last row is kept with the totals, so the totals never stand alone on a page.
 */
function drawLineTable(ctx: Ctx): void {
  drawTableHeader(ctx);
  const totalsHeight = totalsBlockHeight(ctx.doc);
  const emptyPageRoom = ctx.bodyBottom - continuationTableTop();
  let carried = 0;
  let rowsOnPage = 0;
  ctx.doc.lines.forEach((line, i) => {
    const lines = descriptionLines(ctx, line);
    const height = 2 * ROW_PAD + lines.reduce((sum, l) => sum + l.style.lineHeight, 0);
    const reserve = i === ctx.doc.lines.length - 1 ? totalsHeight : CARRY_HEIGHT;
    const fitsWhole = ctx.y + height + reserve <= ctx.bodyBottom;
    const fitsOnEmptyPage = height + reserve <= emptyPageRoom;
    const firstLineFits = ctx.y + 2 * ROW_PAD + (lines[0]?.style.lineHeight ?? 0) + CARRY_HEIGHT <= ctx.bodyBottom;
    if (rowsOnPage > 0 && (!firstLineFits || (!fitsWhole && fitsOnEmptyPage))) {
      breakTablePage(ctx, carried);
      rowsOnPage = 0;
    }
    carried += line.lineNetCents;
    drawRow(ctx, line, lines, carried);
    rowsOnPage++;
  });
}

function drawTableHeader(ctx: Ctx): void {
  const height = STYLES.tableHead.lineHeight + 2 * ROW_PAD;
  ctx.pdf.rect(LEFT, ctx.y, CONTENT_WIDTH, height).fill(BAND);
  for (const c of COLUMNS) putCell(ctx, c, c.header, ctx.y + ROW_PAD + 0.5, STYLES.tableHead);
  ctx.y += height;
}

/**
 * One row, drawn in reading order (position, description, then the figures at the row's top).
 * A row taller than the room left on an empty page is split between pages.
 */
function drawRow(
  ctx: Ctx,
  line: DocumentLine,
  lines: Array<{ text: string; style: TextStyle }>,
  carriedAfter: number,
): void {
  const top = ctx.y + ROW_PAD;
  putCell(ctx, column("position"), String(line.position), top, STYLES.body);
  let figuresDrawn = false;
  const drawFigures = () => {
    if (figuresDrawn) return;
    figuresDrawn = true;
    const figures: Array<[ColumnKey, string]> = [
      ["quantity", `${formatQuantity(line.quantity)} ${unitLabel(line)}`],
      ["unitPrice", formatEuro(line.unitPriceCents)],
      ["vat", vatColumnText(line)],
      ["total", formatEuro(line.lineNetCents)],
    ];
    for (const [key, text] of figures) putCell(ctx, column(key), text, top, STYLES.body);
  };
  const description = column("description");
  let y = top;
  lines.forEach((l, i) => {
    if (i > 0 && y + l.style.lineHeight + ROW_PAD + CARRY_HEIGHT > ctx.bodyBottom) {
      drawFigures();
      ctx.y = y + ROW_PAD;
      breakTablePage(ctx, carriedAfter);
      y = ctx.y + ROW_PAD;
    }
    putCell(ctx, description, l.text, y, l.style);
    y += l.style.lineHeight;
  });
  drawFigures();
  ctx.y = y + ROW_PAD;
  hrule(ctx, LEFT, RIGHT, ctx.y, RULE, 0.4);
}

function breakTablePage(ctx: Ctx, carried: number): void {
  drawCarry(ctx, carried);
  newContinuationPage(ctx);
  drawTableHeader(ctx);
  drawCarry(ctx, carried);
}

/** "Übertrag" and the net sum of the rows so far, right-aligned under the amounts. */
function drawCarry(ctx: Ctx, cents: number): void {
  const y = ctx.y + (CARRY_HEIGHT - STYLES.bodyBold.lineHeight) / 2;
  putRight(ctx, "Übertrag", column("vat").x + column("vat").width - CELL_PAD, y, STYLES.bodyBold);
  putCell(ctx, column("total"), formatEuro(cents), y, STYLES.bodyBold);
  ctx.y += CARRY_HEIGHT;
}

/** Where the table header starts on a page after the first. */
function continuationTableTop(): number {
  return mm(24) + STYLES.tableHead.lineHeight + 2 * ROW_PAD + CARRY_HEIGHT;
}

/** A further page: a short head naming the seller and the document. */
function newContinuationPage(ctx: Ctx): void {
  ctx.pdf.addPage({ size: "A4", margin: 0 });
  const top = mm(12);
  put(ctx, ctx.doc.seller.name, LEFT, top, STYLES.continuationHead);
  putRight(ctx, documentReference(ctx.doc), RIGHT, top + 1.5, STYLES.body);
  hrule(ctx, LEFT, RIGHT, mm(19), ACCENT, 0.8);
  ctx.y = mm(24);
}

// ---------------------------------------------------------------------------------------------
// Totals and closing text
// ---------------------------------------------------------------------------------------------

interface TotalsRow {
  label: string;
  cents: number;
  style: TextStyle;
}

/** Net, one line per VAT group (EN 16931 BG-23), the amount due or credited. */
function totalsRows(doc: BillingDocument): TotalsRow[] {
  return [
    { label: "Nettobetrag", cents: doc.netCents, style: STYLES.body },
    ...doc.vatBreakdown.map((group) => ({
      label: `${vatGroupLabel(group)} auf ${formatEuro(group.taxableCents)}`,
      cents: group.taxCents,
      style: STYLES.body,
    })),
    {
      label: doc.typeCode === 381 ? "Gutschriftsbetrag" : "Rechnungsbetrag",
      cents: doc.grossCents,
      style: STYLES.gross,
    },
  ];
}

const TOTALS_TOP_GAP = 8;
const TOTALS_RULE_GAP = 4;

function totalsBlockHeight(doc: BillingDocument): number {
  return TOTALS_TOP_GAP + totalsRows(doc).reduce((sum, r) => sum + r.style.lineHeight, 0) + 2 * TOTALS_RULE_GAP + 6;
}

function drawTotals(ctx: Ctx): void {
  if (ctx.y + totalsBlockHeight(ctx.doc) > ctx.bodyBottom) newContinuationPage(ctx);
  const left = LEFT + CONTENT_WIDTH * 0.4;
  const total = column("total");
  ctx.y += TOTALS_TOP_GAP;
  const rows = totalsRows(ctx.doc);
  rows.forEach((row, i) => {
    if (i === rows.length - 1) {
      ctx.y += TOTALS_RULE_GAP;
      hrule(ctx, left, RIGHT, ctx.y - 2, INK, 0.8);
      ctx.y += TOTALS_RULE_GAP - 2;
    }
    put(ctx, row.label, left + CELL_PAD, ctx.y, row.style);
    putCell(ctx, total, formatEuro(row.cents), ctx.y, row.style);
    ctx.y += row.style.lineHeight;
  });
  hrule(ctx, left, RIGHT, ctx.y, INK, 0.8);
  hrule(ctx, left, RIGHT, ctx.y + 2, INK, 0.8);
  ctx.y += 18;
}

/** The legal notes, the office's notes, the payment terms and how to pay. */
function drawClosingText(ctx: Ctx): void {
  const { doc } = ctx;
  const texts = [...legalNotes(doc), ...(doc.notes ? [doc.notes] : []), paymentTermsText(doc)];
  if (doc.typeCode === 380) {
    texts.push(
      `Bitte überweisen Sie den Rechnungsbetrag unter Angabe der Rechnungsnummer ${doc.number} auf das Konto ${bankDetails(doc.seller)}.`,
    );
  }
  paragraphs(ctx, texts, STYLES.body, 6);
}

/**
 * Paragraphs at the full content width, each kept on one page where it fits on one, otherwise
 * split between lines.
 */
function paragraphs(ctx: Ctx, texts: string[], style: TextStyle, gap: number): void {
  const room = ctx.bodyBottom - mm(24);
  for (const text of texts) {
    const lines = wrap(ctx.pdf, text, style, CONTENT_WIDTH);
    const height = lines.length * style.lineHeight;
    if (ctx.y + height > ctx.bodyBottom && height <= room) newContinuationPage(ctx);
    for (const line of lines) {
      if (ctx.y + style.lineHeight > ctx.bodyBottom) newContinuationPage(ctx);
      put(ctx, line, LEFT, ctx.y, style);
      ctx.y += style.lineHeight;
    }
    ctx.y += gap;
  }
}

// ---------------------------------------------------------------------------------------------
// Footer and page numbers, drawn on every page once the page count is known
// ---------------------------------------------------------------------------------------------

/** A footer column: its lines, wrapped to its width, and where it starts. */
interface FooterColumn {
  x: number;
  lines: string[];
}

const FOOTER_GAP = 10;

/**
 * The footer's four columns: address; contact and tax numbers (§14 Abs. 4 Nr. 2 UStG); bank;
 * register and managing directors (§35a GmbHG). Each column is as wide as its longest line plus
 * an even share of the room left; only when they do not fit side by side are they narrowed
 * (in proportion) and wrapped.
 */
function footerColumns(pdf: PDFKit.PDFDocument, seller: BillingDocument["seller"]): FooterColumn[] {
  const texts = [
    [seller.name, seller.street, cityLine(seller), seller.country === "DE" ? null : countryName(seller.country)],
    [
      `Tel. ${seller.phone}`,
      seller.email,
      seller.vatId ? `USt-IdNr. ${seller.vatId}` : null,
      seller.taxNumber ? `Steuernr. ${seller.taxNumber}` : null,
    ],
    [seller.bankName, `IBAN ${formatIban(seller.iban)}`, seller.bic ? `BIC ${seller.bic}` : null],
    [seller.registration, seller.managingDirectors ? `Geschäftsführung: ${seller.managingDirectors}` : null],
  ].map((lines) => lines.filter(isText).map(pdfText));
  measureIn(pdf, STYLES.footer);
  const natural = texts.map((lines) => Math.max(0, ...lines.map((line) => pdf.widthOfString(line))));
  const room = CONTENT_WIDTH - (texts.length - 1) * FOOTER_GAP;
  const sum = natural.reduce((a, b) => a + b, 0);
  // contact and bank lines (an e-mail address, an IBAN) read badly when broken: those columns keep
  // their width as long as they fit in two thirds, the name and register columns wrap instead
  const unbroken = (natural[1] ?? 0) + (natural[2] ?? 0) <= (room * 2) / 3 ? [1, 2] : [];
  const kept = unbroken.reduce((a, i) => a + (natural[i] ?? 0), 0);
  const rest = sum - kept;
  const widths =
    sum <= room
      ? natural.map((w) => w + (room - sum) / texts.length)
      : natural.map((w, i) => (unbroken.includes(i) ? w : (w / rest) * (room - kept)));
  let x = LEFT;
  return texts.map((lines, i) => {
    const width = widths[i] ?? 0;
    const column = { x, lines: lines.flatMap((line) => wrap(pdf, line, STYLES.footer, width)) };
    x += width + FOOTER_GAP;
    return column;
  });
}

function footerHeight(columns: FooterColumn[]): number {
  return Math.max(...columns.map((c) => c.lines.length)) * STYLES.footer.lineHeight;
}

/** Footer, document reference and "Seite n von m" on every page. */
function drawPageFrames(ctx: Ctx, footer: FooterColumn[], footerTop: number): void {
  const { start, count } = ctx.pdf.bufferedPageRange();
  for (let i = 0; i < count; i++) {
    ctx.pdf.switchToPage(start + i);
    put(ctx, documentReference(ctx.doc), LEFT, footerTop - 18, STYLES.footer);
    putRight(ctx, `Seite ${i + 1} von ${count}`, RIGHT, footerTop - 18.5, STYLES.label);
    hrule(ctx, LEFT, RIGHT, footerTop - 6, RULE, 0.5);
    for (const column of footer) {
      column.lines.forEach((line, l) => {
        put(ctx, line, column.x, footerTop + l * STYLES.footer.lineHeight, STYLES.footer);
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Drawing primitives
// ---------------------------------------------------------------------------------------------

/** One line of text with its top-left at (x, y); never wraps, never adds a page. */
function put(ctx: Ctx, text: string, x: number, y: number, style: TextStyle): void {
  measureIn(ctx.pdf, style).fillColor(style.color).text(pdfText(text), x, y, { lineBreak: false });
}

/** One line of text ending at x. */
function putRight(ctx: Ctx, text: string, right: number, y: number, style: TextStyle): void {
  const safe = pdfText(text);
  put(ctx, safe, right - measureIn(ctx.pdf, style).widthOfString(safe), y, style);
}

function putCell(ctx: Ctx, c: Column, text: string, y: number, style: TextStyle): void {
  if (c.align === "right") putRight(ctx, text, c.x + c.width - CELL_PAD, y, style);
  else put(ctx, text, c.x + CELL_PAD, y, style);
}

function hrule(ctx: Ctx, x1: number, x2: number, y: number, color: string, width: number): void {
  ctx.pdf.save().moveTo(x1, y).lineTo(x2, y).lineWidth(width).strokeColor(color).stroke().restore();
}

/** Font and size of `style` (no colour: that writes to a page, and measuring may come before the first one). */
function measureIn(pdf: PDFKit.PDFDocument, style: TextStyle): PDFKit.PDFDocument {
  return pdf.font(style.font).fontSize(style.size);
}

/**
 * `text` broken into lines no wider than `width` in `style`: at spaces, at the text's own line
 * breaks, and inside a word only where the word alone is too wide.
 */
function wrap(pdf: PDFKit.PDFDocument, text: string, style: TextStyle, width: number): string[] {
  measureIn(pdf, style);
  const fits = (s: string) => pdf.widthOfString(s) <= width;
  const lines: string[] = [];
  for (const paragraph of pdfText(text).split("\n")) {
    let current = "";
    for (const word of paragraph.split(" ").filter((w) => w !== "")) {
      const candidate = current ? `${current} ${word}` : word;
      if (fits(candidate)) {
        current = candidate;
        continue;
      }
      if (current) lines.push(current);
      current = word;
      while (!fits(current)) {
        let cut = current.length - 1;
        while (cut > 1 && !fits(current.slice(0, cut))) cut--;
        lines.push(current.slice(0, cut));
        current = current.slice(cut);
      }
    }
    lines.push(current);
  }
  return lines;
}

/** Characters outside WinAnsi that have a WinAnsi equivalent good enough for print. */
const WIN_ANSI_FALLBACKS: Record<string, string> = {
  "\u2010": "-", // hyphen
  "\u2011": "-", // non-breaking hyphen
  "\u2212": "-", // minus sign
  "\u2009": " ", // thin space
  "\u202f": " ", // narrow no-break space
  "\u2007": " ", // figure space
};

/**
 * Code points above U+00FF that WinAnsiEncoding (PDF 32000-1, Annex D.2) has in 0x80–0x9F; the
 * same set pdfkit maps in its `WIN_ANSI_MAP`.
 */
const WIN_ANSI_EXTRA = new Set("€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ");

/**
 * Text as the standard 14 fonts can show it. Their WinAnsi encoding covers German (ä ö ü ß € „ “
 * – …) but nothing beyond it; pdfkit would write any other character's UTF-16 code as two bytes
 * and print two wrong glyphs. So, in the PDF only, such a character becomes "?" (after NFC, so a
 * decomposed "ä" stays "ä", and after the few fallbacks above). The document's data keeps the
 * exact text, which the XRechnung carries. Soft hyphens are dropped (no break opportunities are
 * used), tabs become spaces, CR LF becomes LF.
 */
function pdfText(text: string): string {
  let out = "";
  for (const ch of text.normalize("NFC").replace(/\r\n?/g, "\n")) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === "\n" || (code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff && code !== 0xad)) out += ch;
    else if (code === 0xad) continue;
    else if (ch === "\t") out += " ";
    else if (WIN_ANSI_EXTRA.has(ch)) out += ch;
    else out += WIN_ANSI_FALLBACKS[ch] ?? "?";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Texts and formats
// ---------------------------------------------------------------------------------------------

/**
 * A credit note's title names both: "Gutschrift" as customers say it, "Rechnungskorrektur"
 * because in §14 Abs. 2 S. 2 UStG a "Gutschrift" is a self-billed invoice issued by the buyer.
 */
function documentTitle(doc: BillingDocument): string {
  return doc.typeCode === 381 ? "Gutschrift / Rechnungskorrektur" : "Rechnung";
}

/** "Rechnung RE-2026-00001 vom 20.11.2026": the head and foot of every page. */
function documentReference(doc: BillingDocument): string {
  return `${doc.typeCode === 381 ? "Gutschrift" : "Rechnung"} ${doc.number} vom ${germanDate(doc.issueDate)}`;
}

function documentInfo(doc: BillingDocument): PDFKit.DocumentInfo {
  const issued = new Date(`${doc.issueDate}T00:00:00Z`);
  return {
    Title: `${documentTitle(doc)} ${doc.number}`,
    Author: doc.seller.name,
    Subject: `${documentReference(doc)} an ${doc.buyer.name}`,
    Creator: "SteinmetZ Hub",
    Producer: "PDFKit",
    CreationDate: issued,
    ModDate: issued,
  };
}

/** A finalised document is integer cents and ISO dates; anything else is a bug upstream, not something to print. */
function assertRenderable(doc: BillingDocument): void {
  const isoDate = /^\d{4}-\d{2}-\d{2}$/;
  for (const [name, date] of [
    ["issueDate", doc.issueDate],
    ["deliveryDate", doc.deliveryDate],
    ["dueDate", doc.dueDate],
    ["corrects.issueDate", doc.corrects?.issueDate ?? null],
  ] as const) {
    if (date !== null && (!isoDate.test(date) || Number.isNaN(Date.parse(date)))) {
      throw new RangeError(`billing document ${doc.number}: ${name} ${date} is not a YYYY-MM-DD date`);
    }
  }
  const amounts = [
    doc.netCents,
    doc.vatCents,
    doc.grossCents,
    ...doc.lines.flatMap((l) => [l.unitPriceCents, l.lineNetCents]),
    ...doc.vatBreakdown.flatMap((g) => [g.taxableCents, g.taxCents]),
  ];
  if (!amounts.every(Number.isSafeInteger)) {
    throw new RangeError(`billing document ${doc.number}: amounts must be integer cents`);
  }
  if (doc.typeCode === 381 && !doc.corrects) {
    throw new RangeError(`billing document ${doc.number}: a credit note must name the invoice it corrects`);
  }
}

/** The line table's VAT column: the rate, "RC" for reverse charge, "befreit" for an exemption. */
function vatColumnText(line: DocumentLine): string {
  switch (line.vatCategory) {
    case "AE":
      return "RC";
    case "E":
      return "befreit";
    default:
      return `${formatRate(line.vatRate)} %`;
  }
}

/** The label of a VAT group's totals line, before " auf <taxable amount>". */
function vatGroupLabel(group: VatGroup): string {
  switch (group.category) {
    case "S":
      return `USt. ${formatRate(group.rate)} %`;
    case "Z":
      return "USt. 0 % (§ 12 Abs. 3 UStG)";
    case "AE":
      return "USt. 0 % (§ 13b UStG, Reverse Charge)";
    case "E":
      return "USt. 0 % (steuerfrei)";
  }
}

/** UN/ECE recommendation 20 codes in German; codes without a German abbreviation as they are. */
const UNIT_LABELS: Record<string, string> = {
  HUR: "Std.",
  H87: "Stk.",
  MTR: "m",
  MTK: "m²",
  KGM: "kg",
  LTR: "l",
  KWH: "kWh",
  DAY: "Tag(e)",
  SET: "Satz",
  LS: "pauschal",
};

/** C62 ("one") is a flat-rate line's unit, and a piece otherwise. */
function unitLabel(line: DocumentLine): string {
  if (line.unit === "C62") return line.kind === "flat" ? "pauschal" : "Stk.";
  return UNIT_LABELS[line.unit] ?? line.unit;
}

/** 1234567 → "1.234.567". */
function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ".");
}

/** Integer cents as German euros: 123456 → "1.234,56 €". */
function formatEuro(cents: number): string {
  const [euros, rest] = centsText(Math.abs(cents)).split(".");
  return `${cents < 0 ? "-" : ""}${groupThousands(euros as string)},${rest} €`;
}

/** A quantity of up to three decimals: 2.5 → "2,5", 1200 → "1.200", 0.125 → "0,125". */
function formatQuantity(quantity: number): string {
  const text = decimalText(quantity, 3);
  const [whole, fraction] = text.replace("-", "").split(".");
  return `${text.startsWith("-") ? "-" : ""}${groupThousands(whole as string)}${fraction ? `,${fraction}` : ""}`;
}

/** 19 → "19", 5.5 → "5,5". */
function formatRate(rate: number): string {
  return String(rate).replace(".", ",");
}

/** "DE02120300000000202051" → "DE02 1203 0000 0000 2020 51". */
function formatIban(iban: string): string {
  return iban
    .replace(/\s+/g, "")
    .toUpperCase()
    .replace(/(.{4})(?=.)/g, "$1 ");
}

function bankDetails(seller: BillingDocument["seller"]): string {
  return [`IBAN ${formatIban(seller.iban)}`, seller.bic ? `BIC ${seller.bic}` : null, seller.bankName]
    .filter(isText)
    .join(", ");
}

/**
 * The Leitweg-ID of a German public buyer (KoSIT, Format der Leitweg-ID 2.0.2): coarse address
 * of 2–12 digits, optional fine address of up to 30 letters or digits, two check digits.
 */
function isLeitwegId(reference: string): boolean {
  return /^\d{2,12}(-[0-9A-Za-z]{1,30})?-\d{2}$/.test(reference);
}

function cityLine(address: Address): string | null {
  return [address.postalCode, address.city].filter(isText).join(" ") || null;
}

/** Street, postal code and city, and the country in capitals when it is not Germany (DIN 5008). */
function addressLines(address: Address): string[] {
  return [
    address.street,
    cityLine(address),
    address.country === "DE" ? null : countryName(address.country).toLocaleUpperCase("de-DE"),
  ].filter(isText);
}

/** "AT" → "Österreich"; an unknown code as it is. */
function countryName(code: string): string {
  try {
    return new Intl.DisplayNames(["de"], { type: "region" }).of(code) ?? code;
  } catch {
    return code;
  }
}

function isText(value: string | null | undefined): value is string {
  return typeof value === "string" && value.trim() !== "";
}

/** The bytes pdfkit streams, once it has ended. */
function collect(pdf: PDFKit.PDFDocument): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    pdf.on("data", (chunk: Buffer) => chunks.push(chunk));
    pdf.on("end", () => resolve(Buffer.concat(chunks)));
    pdf.on("error", reject);
  });
}

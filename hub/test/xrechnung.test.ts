/**
 * The XRechnung 3.0 (UBL 2.1) rendering against the official rules: every fixture document passes
 * the EN 16931 and the XRechnung schematron without a fatal finding; single-defect variants fail
 * with the rule the defect breaks (and the generator refuses to write those it can see); content,
 * numbers, escaping and element order are checked directly.
 */
import t from "tap";
import type { BillingDocument } from "../src/erp/billing/document.js";
import { decimalText as decimal, centsText as money } from "../src/erp/billing/document.js";
import { escapeXml, toXRechnung, XRechnungDataError } from "../src/erp/billing/xrechnung.js";
import {
  creditNote,
  documentOf,
  exempt,
  FIXTURE_DOCUMENTS,
  line,
  pvZeroRate,
  reverseCharge,
  seller,
  standard19,
} from "./fixtures/billing-documents.js";
import { type Finding, type RuleSet, type ValidationReport, validateXRechnung } from "./fixtures/xrechnung-validate.js";

const timings: Record<RuleSet, number[]> = { en16931: [], xrechnung: [] };

function validate(xml: string): ValidationReport {
  const report = validateXRechnung(xml);
  timings.en16931.push(report.ms.en16931);
  timings.xrechnung.push(report.ms.xrechnung);
  return report;
}

const describe = (f: Finding) => `${f.ruleSet} ${f.id} (${f.flag}) at ${f.location}: ${f.text}`;
const fatalIds = (xml: string) => [...new Set(validate(xml).fatal.map((f) => f.id))].sort();

/** `xml` with `pattern` replaced; throws when the pattern is not there, so a variant is never silently the original. */
function edit(xml: string, pattern: RegExp, replacement: string): string {
  if (!pattern.test(xml)) throw new Error(`pattern ${pattern} not found in the XML`);
  return xml.replace(pattern, replacement);
}

/** The texts of every element `name` in `xml` (the generator writes text elements on one line). */
function texts(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}(?: [^>]*)?>([^<]*)</${name}>`, "g"))].map((m) => m[1] ?? "");
}

/** The error `fn` throws (fails the test when it throws none). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected an error, none was thrown");
}

t.test("every fixture document passes EN 16931 and XRechnung 3.0 without a fatal finding", async (t) => {
  for (const [name, doc] of Object.entries(FIXTURE_DOCUMENTS)) {
    const report = validate(toXRechnung(doc));
    t.same(report.fatal.map(describe), [], `${name}: no fatal finding`);
    const warnings = report.warnings.map(describe);
    t.comment(`${name}: ${warnings.length} warning(s)${warnings.length ? `\n  ${warnings.join("\n  ")}` : ""}`);
  }
});

t.test("the oracle sees defects: single-defect variants fail with the rule they break", async (t) => {
  t.test("S at 0 % → BR-S-05 (the generator refuses it)", async (t) => {
    const doc = documentOf({
      number: "RE-V-1",
      buyer: standard19.buyer,
      lines: standard19.lines.map((l) => (l.position === 2 ? { ...l, vatRate: 0 } : l)),
    });
    const err = thrown(() => toXRechnung(doc));
    t.type(err, XRechnungDataError);
    t.same((err as XRechnungDataError).fields, ["lines[1].vatRate"]);
    const xml = edit(toXRechnung(standard19), /<cbc:Percent>19<\/cbc:Percent>/g, "<cbc:Percent>0</cbc:Percent>");
    // The tax amounts stay at 19 %, so the rate checks of the breakdown fire beside BR-S-05.
    t.same(fatalIds(xml), ["BR-CO-17", "BR-S-05", "BR-S-09"]);
  });

  t.test("E without exemption reason → BR-E-10 (the generator refuses it)", async (t) => {
    const doc = documentOf({
      number: "RE-V-2",
      buyer: exempt.buyer,
      lines: exempt.lines.map((l) => (l.vatCategory === "E" ? { ...l, exemptionReason: null } : l)),
    });
    const err = thrown(() => toXRechnung(doc));
    t.type(err, XRechnungDataError);
    t.same((err as XRechnungDataError).fields, ["lines[1].exemptionReason", "vatBreakdown[1].exemptionReason"]);
    const xml = edit(toXRechnung(exempt), /\s*<cbc:TaxExemptionReason>[^<]*<\/cbc:TaxExemptionReason>/, "");
    t.same(fatalIds(xml), ["BR-E-10"]);
  });

  t.test("Z with exemption reason → BR-Z-10 (the generator never writes one)", async (t) => {
    const withReason = documentOf({
      number: "RE-V-3",
      buyer: pvZeroRate.buyer,
      lines: pvZeroRate.lines.map((l) => ({ ...l, exemptionReason: "§ 12 Abs. 3 UStG" })),
    });
    const generated = toXRechnung(withReason);
    t.notMatch(generated, /TaxExemptionReason/, "no reason written for Z");
    t.same(fatalIds(generated), []);
    const xml = edit(
      toXRechnung(pvZeroRate),
      /(<cac:TaxCategory>\s*<cbc:ID>Z<\/cbc:ID>\s*<cbc:Percent>0<\/cbc:Percent>)/,
      "$1<cbc:TaxExemptionReason>Photovoltaik</cbc:TaxExemptionReason>",
    );
    t.same(fatalIds(xml), ["BR-Z-10"]);
  });

  t.test("no BuyerReference → BR-DE-15 (the generator refuses it)", async (t) => {
    const err = thrown(() => toXRechnung({ ...standard19, buyerReference: " " }));
    t.type(err, XRechnungDataError);
    t.same((err as XRechnungDataError).fields, ["buyerReference"]);
    const xml = edit(toXRechnung(standard19), /\s*<cbc:BuyerReference>[^<]*<\/cbc:BuyerReference>/, "");
    t.same(fatalIds(xml), ["BR-DE-15"]);
  });

  t.test("no PaymentMeans → BR-DE-1 (without an IBAN the generator refuses)", async (t) => {
    const err = thrown(() => toXRechnung({ ...standard19, seller: { ...seller, iban: "" } }));
    t.type(err, XRechnungDataError);
    t.same((err as XRechnungDataError).fields, ["seller.iban"]);
    const xml = edit(toXRechnung(standard19), /\s*<cac:PaymentMeans>[\s\S]*?<\/cac:PaymentMeans>/, "");
    t.same(fatalIds(xml), ["BR-DE-1"]);
  });

  t.test("no seller phone → BR-DE-6 (the generator refuses it)", async (t) => {
    const err = thrown(() => toXRechnung({ ...standard19, seller: { ...seller, phone: "" } }));
    t.type(err, XRechnungDataError);
    t.same((err as XRechnungDataError).fields, ["seller.phone"]);
    const xml = edit(toXRechnung(standard19), /\s*<cbc:Telephone>[^<]*<\/cbc:Telephone>/, "");
    t.same(fatalIds(xml), ["BR-DE-6"]);
  });

  t.test("TaxInclusiveAmount off by 1.00 → BR-CO-15 (the generator refuses totals that do not add up)", async (t) => {
    const err = thrown(() => toXRechnung({ ...standard19, grossCents: standard19.grossCents + 100 }));
    t.type(err, Error);
    t.notOk(err instanceof XRechnungDataError, "a contradiction, not missing data");
    t.match((err as Error).message, /grossCents 23105 ≠ netCents \+ vatCents 23005/);
    const xml = edit(toXRechnung(standard19), /(<cbc:TaxInclusiveAmount currencyID="EUR">)230\.05</, "$1231.05<");
    // PayableAmount stays at the old gross, so BR-CO-16 (amount due) fires beside BR-CO-15.
    t.same(fatalIds(xml), ["BR-CO-15", "BR-CO-16"]);
  });
});

t.test("content", async (t) => {
  t.test("identifiers and the UBL 2.1 element order", async (t) => {
    const invoice = toXRechnung(standard19);
    t.same(texts(invoice, "cbc:CustomizationID"), [
      "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
    ]);
    t.same(texts(invoice, "cbc:ProfileID"), ["urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"]);
    t.match(
      invoice,
      /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" /,
    );
    const topLevel = (xml: string) => [...xml.matchAll(/^ {2}<([\w:]+)/gm)].map((m) => m[1]);
    t.same(topLevel(invoice), [
      "cbc:CustomizationID",
      "cbc:ProfileID",
      "cbc:ID",
      "cbc:IssueDate",
      "cbc:DueDate",
      "cbc:InvoiceTypeCode",
      "cbc:DocumentCurrencyCode",
      "cbc:BuyerReference",
      "cac:AccountingSupplierParty",
      "cac:AccountingCustomerParty",
      "cac:Delivery",
      "cac:PaymentMeans",
      "cac:PaymentTerms",
      "cac:TaxTotal",
      "cac:LegalMonetaryTotal",
      "cac:InvoiceLine",
      "cac:InvoiceLine",
    ]);
    t.same(topLevel(toXRechnung(creditNote)), [
      "cbc:CustomizationID",
      "cbc:ProfileID",
      "cbc:ID",
      "cbc:IssueDate",
      "cbc:CreditNoteTypeCode",
      "cbc:Note",
      "cbc:Note",
      "cbc:DocumentCurrencyCode",
      "cbc:BuyerReference",
      "cac:BillingReference",
      "cac:AccountingSupplierParty",
      "cac:AccountingCustomerParty",
      "cac:Delivery",
      "cac:PaymentMeans",
      "cac:PaymentTerms",
      "cac:TaxTotal",
      "cac:LegalMonetaryTotal",
      "cac:CreditNoteLine",
    ]);
  });

  t.test("the credit note is a UBL CreditNote with the corrected invoice in BG-3", async (t) => {
    const xml = toXRechnung(creditNote);
    t.match(xml, /<CreditNote xmlns="urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"/);
    t.same(texts(xml, "cbc:CreditNoteTypeCode"), ["381"]);
    t.match(
      xml,
      /<cac:BillingReference>\s*<cac:InvoiceDocumentReference>\s*<cbc:ID>RE-2026-00003<\/cbc:ID>\s*<cbc:IssueDate>2026-11-20<\/cbc:IssueDate>\s*<\/cac:InvoiceDocumentReference>\s*<\/cac:BillingReference>/,
    );
    t.same(texts(xml, "cbc:CreditedQuantity"), ["2"]);
    t.notMatch(xml, /InvoiceLine|InvoicedQuantity|InvoiceTypeCode|<cbc:DueDate>/);
    t.same(texts(xml, "cbc:PayableAmount"), ["238.00"], "positive amounts");
    const withDue = toXRechnung({ ...creditNote, dueDate: "2026-12-09" });
    t.match(withDue, /<cbc:PaymentMeansCode>58<\/cbc:PaymentMeansCode>\s*<cbc:PaymentDueDate>2026-12-09</);
    t.same(fatalIds(withDue), []);
  });

  t.test("the PV 0 % rate: Z at 0 with the § 12 Abs. 3 UStG note", async (t) => {
    const xml = toXRechnung(pvZeroRate);
    t.ok(
      texts(xml, "cbc:Note").some((n) => n.includes("§ 12 Abs. 3 UStG")),
      "document-level note on § 12 Abs. 3 UStG",
    );
    t.match(xml, /<cac:TaxCategory>\s*<cbc:ID>Z<\/cbc:ID>\s*<cbc:Percent>0<\/cbc:Percent>\s*<cac:TaxScheme>/);
    t.match(
      xml,
      /<cac:AdditionalItemProperty>\s*<cbc:Name>Seriennummer<\/cbc:Name>\s*<cbc:Value>SIM-INV-0001<\/cbc:Value>/,
    );
    t.match(xml, /<cac:DeliveryLocation>\s*<cac:Address>\s*<cbc:StreetName>Sonnenweg 7</);
  });

  t.test("reverse charge: the Leitweg-ID as BuyerReference, AE with VATEX-EU-AE", async (t) => {
    const xml = toXRechnung(reverseCharge);
    t.same(texts(xml, "cbc:BuyerReference"), ["04011000-1234512345-06"]);
    t.same(texts(xml, "cbc:TaxExemptionReasonCode"), ["VATEX-EU-AE"]);
    t.same(texts(xml, "cbc:TaxExemptionReason"), ["Reverse charge"]);
    t.ok(texts(xml, "cbc:Note").some((n) => n.includes("§ 13b UStG")));
    const err = thrown(() => toXRechnung({ ...reverseCharge, buyer: { ...reverseCharge.buyer, vatId: null } }));
    t.same((err as XRechnungDataError).fields, ["buyer.vatId"], "AE needs the buyer's VAT id (BR-AE-02)");
  });

  t.test("amounts have exactly two decimals, quantities no binary noise", async (t) => {
    const xml = toXRechnung(standard19);
    const amounts = [...xml.matchAll(/currencyID="EUR">([^<]*)</g)].map((m) => m[1] ?? "");
    t.ok(amounts.length >= 10);
    t.same(
      amounts.filter((a) => !/^-?\d+\.\d{2}$/.test(a)),
      [],
    );
    // 2.5 h × 73.33 = 183.325 → 183.33; 3 × 3.33 = 9.99; VAT 19 % of 193.32 = 36.7308 → 36.73
    t.same(texts(xml, "cbc:LineExtensionAmount"), ["193.32", "183.33", "9.99"]);
    t.same(texts(xml, "cbc:InvoicedQuantity"), ["2.5", "3"]);
    t.same(texts(xml, "cbc:PriceAmount"), ["73.33", "3.33"]);
    t.same(texts(xml, "cbc:TaxInclusiveAmount"), ["230.05"]);
    t.same(texts(xml, "cbc:TaxAmount"), ["36.73", "36.73"]);

    t.equal(money(1999), "19.99");
    t.equal(money(-5), "-0.05");
    t.equal(money(0), "0.00");
    t.equal(money(100), "1.00");
    t.equal(money(-123_456_789), "-1234567.89");
    t.equal(money(9_007_199_254_740_991), "90071992547409.91");
    t.throws(() => money(19.5), RangeError);
    t.equal(decimal(2.5, 3), "2.5");
    t.equal(decimal(0.1 + 0.2, 3), "0.3");
    t.equal(decimal(2.4999999999, 3), "2.5");
    t.equal(decimal(1.125, 3), "1.125");
    t.equal(decimal(-0.75, 3), "-0.75");
    t.equal(decimal(3, 3), "3");
    t.equal(decimal(-0.0001, 3), "0");
  });

  t.test("a negative line is a negative quantity at a positive price (BR-27)", async (t) => {
    const doc = documentOf({
      number: "RE-V-4",
      buyer: standard19.buyer,
      lines: [...standard19.lines, line(3, { description: "Rundung", quantity: 1, unitPriceCents: -5 })],
    });
    const xml = toXRechnung(doc);
    t.match(
      xml,
      /<cbc:InvoicedQuantity unitCode="C62">-1<\/cbc:InvoicedQuantity>\s*<cbc:LineExtensionAmount currencyID="EUR">-0\.05</,
    );
    t.same(texts(xml, "cbc:PriceAmount"), ["73.33", "3.33", "0.05"]);
    t.same(fatalIds(xml), []);
  });

  t.test("XML text is escaped and characters XML 1.0 forbids are dropped", async (t) => {
    const name = 'Müller & Söhne <Solar> "Sonne" \'s\u0001\uD800';
    const doc: BillingDocument = {
      ...standard19,
      buyer: { ...standard19.buyer, name },
      notes: "Zeile 1\nZeile 2 & mehr",
      lines: standard19.lines.map((l) => (l.position === 1 ? { ...l, description: "Wartung\nAnlage <A&B>" } : l)),
    };
    const xml = toXRechnung(doc);
    t.same(texts(xml, "cbc:RegistrationName")[1], "Müller &amp; Söhne &lt;Solar&gt; &quot;Sonne&quot; &apos;s");
    t.notOk(xml.includes("\u0001") || xml.includes("\uD800"), "U+0001 and a lone surrogate dropped");
    t.match(xml, /<cbc:Description>Wartung\nAnlage &lt;A&amp;B&gt;<\/cbc:Description>\s*<cbc:Name>Wartung<\/cbc:Name>/);
    t.same(fatalIds(xml), [], "well-formed and valid");
    t.equal(escapeXml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;");
  });
});

t.test("missing or invalid data: the error names each field", async (t) => {
  const err = thrown(() =>
    toXRechnung({
      ...standard19,
      seller: { ...seller, phone: "", email: " ", iban: "", city: null, vatId: null, taxNumber: null },
      buyer: { ...standard19.buyer, email: null },
    }),
  );
  t.type(err, XRechnungDataError);
  const dataError = err as XRechnungDataError;
  t.equal(dataError.name, "XRechnungDataError");
  t.same(dataError.fields, [
    "seller.city",
    "seller.vatId",
    "seller.phone",
    "seller.email",
    "seller.iban",
    "buyer.email",
  ]);
  for (const field of dataError.fields) t.match(dataError.message, field, `message names ${field}`);
  t.match(dataError.message, /^RE-2026-00001 cannot be rendered as XRechnung: /);

  const badIban = thrown(() => toXRechnung({ ...standard19, seller: { ...seller, iban: "DE02120300000000202052" } }));
  t.same((badIban as XRechnungDataError).fields, ["seller.iban"]);
  t.match((badIban as Error).message, /seller\.iban is not a valid IBAN/);
  const spaced = toXRechnung({ ...standard19, seller: { ...seller, iban: "DE02 1203 0000 0000 2020 51" } });
  t.same(
    texts(spaced, "cbc:ID").filter((id) => id.startsWith("DE")),
    ["DE02120300000000202051"],
    "IBAN normalised",
  );

  const fewDigits = thrown(() => toXRechnung({ ...standard19, seller: { ...seller, phone: "+49" } }));
  t.match((fewDigits as Error).message, /seller\.phone has fewer than three digits/);
});

t.test("BR-DE-19/20 are left to ibantools: SaxonJS mis-checks a valid IBAN", async (t) => {
  const xml = toXRechnung({ ...standard19, seller: { ...seller, iban: "DE89370400440532013000" } });
  const report = validate(xml);
  t.ok(
    report.findings.some((f) => f.id === "BR-DE-19"),
    "SaxonJS reports BR-DE-19 on a valid IBAN",
  );
  t.same(report.fatal, []);
  t.same(report.warnings, [], "and it is filtered out");
});

t.test("timings", async (t) => {
  for (const ruleSet of Object.keys(timings) as RuleSet[]) {
    const runs = timings[ruleSet];
    const [first = 0, ...rest] = runs;
    const sorted = [...rest].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    t.comment(`${ruleSet}: ${runs.length} runs, first ${first.toFixed(0)} ms, median after ${median.toFixed(0)} ms`);
  }
  t.ok(timings.en16931.length > 0);
});

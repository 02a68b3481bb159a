/**
 * The DATEV Buchungsstapel (EXTF 700, category 21, format 13): a fixture period compared byte for
 * byte with a file written by hand from the format rules, the file rules checked on their own
 * (CR LF, field counts, Windows-1252), and every refusal: unencodable text, settings, debitor range,
 * periods, the 0 % account DATEV has no standard for.
 */
import { readFileSync } from "node:fs";
import iconv from "iconv-lite";
import t from "tap";
import {
  DATEV_COLUMNS,
  type DatevPayment,
  type DatevSettings,
  datevBookings,
  datevExtf,
} from "../src/erp/billing/datev.js";
import {
  businessBuyer,
  creditNote,
  documentOf,
  exempt,
  line,
  mixed19And7,
  privateBuyer,
  pvZeroRate,
  reverseCharge,
  standard19,
} from "./fixtures/billing-documents.js";

/**
 * Written by hand from the format rules (literal lines encoded with iconv-lite, not by the exporter):
 * Windows-1252, CR LF, 2 + 13 lines. `.gitattributes` there keeps git from touching its bytes.
 */
const expected = readFileSync(new URL("./fixtures/datev/EXTF_expected.csv", import.meta.url));

const settings: DatevSettings = {
  advisorNumber: 29098,
  clientNumber: 55003,
  chart: "SKR03",
  accountLength: 4,
  fiscalYearStartMonth: 1,
  // The 0 % account is the advisor's choice; 8290 is what Lexware and Buhl suggest.
  accounts: { Z: 8290 },
  exportedBy: "hub",
};

/** A customer whose name has €, ä, ß and a double quote. */
const gardener = documentOf({
  number: "RE-2026-00006",
  issueDate: "2026-11-27",
  dueDate: "2026-12-11",
  deliveryDate: "2026-11-26",
  buyer: { ...businessBuyer, customerNumber: "K-10004", name: 'Gärtnerei Weiß "Sonnenhof" €-Spar GbR', vatId: null },
  lines: [
    line(1, { description: "Wartung Solardach Gewächshaus", unitPriceCents: 100_000 }),
    line(2, { description: "Infoheft (kostenlos)", unitPriceCents: 0, vatRate: 7 }),
  ],
});

const payment = (fields: Partial<DatevPayment> & Pick<DatevPayment, "invoiceNumber" | "paidOn" | "amountCents">) => ({
  customerNumber: businessBuyer.customerNumber,
  customerName: businessBuyer.name,
  reference: null,
  ...fields,
});

const payments: DatevPayment[] = [
  payment({
    invoiceNumber: "RE-2026-00001",
    paidOn: "2026-11-24",
    amountCents: 23_005,
    reference: "Lastschrift\nRE-2026-00001",
  }),
  payment({
    invoiceNumber: "RE-2026-00001",
    paidOn: "2026-11-26",
    amountCents: -23_005,
    reference: "Rücklastschrift RE-2026-00001",
  }),
  payment({
    invoiceNumber: "RE-2026-00003",
    customerNumber: privateBuyer.customerNumber,
    customerName: privateBuyer.name,
    paidOn: "2026-11-28",
    amountCents: 542_900,
  }),
  payment({
    invoiceNumber: "RE-2026-00006",
    customerNumber: "K-10004",
    customerName: gardener.buyer.name,
    paidOn: "2026-11-30",
    amountCents: 119_000,
    reference: 'RE-2026-00006; Danke für "Sonnenhof" – 1.190,00 €',
  }),
];

const november = {
  from: "2026-11-01",
  to: "2026-11-30",
  createdAt: new Date("2026-12-01T09:30:15.123Z"),
  settings,
  // Deliberately unsorted: the export sorts by date, then number.
  documents: [gardener, creditNote, reverseCharge, standard19, exempt, pvZeroRate, mixed19And7],
  payments,
};

/** Fields of a line, counting separators outside quotes (inner quotes are doubled, so toggling works). */
function fields(text: string): number {
  let count = 1;
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ";" && !quoted) count++;
  }
  return count;
}

t.test("a fixture period matches the hand-written file byte for byte", async (t) => {
  const file = datevExtf(november);
  t.equal(file.fileName, "EXTF_Buchungsstapel_2026-11-01_2026-11-30.csv");
  t.equal(file.bookings, 13, "7 documents with 9 non-zero VAT groups (the free 7 % line books nothing), 4 payments");
  t.ok(file.content.equals(expected), "content equals hub/test/fixtures/datev/EXTF_expected.csv");
  if (!file.content.equals(expected)) {
    const got = iconv.decode(file.content, "win1252").split("\r\n");
    const want = iconv.decode(expected, "win1252").split("\r\n");
    for (const [i, line] of want.entries()) t.equal(got[i], line, `line ${i + 1}`);
  }
});

t.test("the file follows DATEV's file rules, checked apart from the fixture", async (t) => {
  const { content } = datevExtf(november);
  const bytes = [...content];
  bytes.forEach((byte, i) => {
    if (byte === 0x0a && bytes[i - 1] !== 0x0d) t.fail(`LF without CR at byte ${i}`);
    if (byte === 0x0d && bytes[i + 1] !== 0x0a) t.fail(`CR without LF at byte ${i}`);
  });
  t.same(content.subarray(-2), Buffer.from("\r\n"), "the last line ends with CR LF too");

  const lines = iconv.decode(content, "win1252").split("\r\n");
  t.equal(lines.pop(), "", "nothing after the last CR LF");
  t.equal(lines.length, 2 + 13);
  t.equal(fields(lines[0] ?? ""), 31, "header: 31 fields");
  t.match(lines[0], /^"EXTF";700;21;"Buchungsstapel";13;20261201093015123;/);
  t.equal(lines[1], DATEV_COLUMNS.join(";"));
  t.equal(fields(lines[1] ?? ""), 125, "column headings: 125");
  for (const [i, booking] of lines.slice(2).entries()) t.equal(fields(booking), 125, `booking ${i + 1}: 125 fields`);

  t.ok(content.includes(Buffer.from([0x80])), "€ is 0x80");
  t.ok(content.includes(Buffer.from([0xe4])), "ä is 0xE4");
  t.ok(content.includes(Buffer.from([0xdf])), "ß is 0xDF");
  t.ok(content.includes(Buffer.from([0x96])), "– is 0x96");
  t.notOk(content.includes(Buffer.from("€", "utf8")), "no UTF-8 sequences");
  t.notOk(content.includes(0x3f), "no ? (none of the texts has one): nothing was replaced");
  t.match(lines.at(-1), /"RE-2026-00006; Danke für ""Sonnenhof"" – 1\.190,00 €"/, "quotes doubled, ; kept inside");
  t.match(lines[2 + 7], /"Lastschrift RE-2026-00001"/, "a line break in a text became a space");
});

t.test("bookings: amounts, sides and accounts per case", async (t) => {
  const bookings = datevBookings(november.documents, payments, settings);
  const row = (b: (typeof bookings)[number]) => [b.documentNumber, b.amountCents, b.side, b.account, b.contraAccount];
  t.same(bookings.map(row), [
    ["RE-2026-00001", 23_005, "S", 10002, 8400],
    ["RE-2026-00002", 45_196, "S", 10002, 8400],
    ["RE-2026-00002", 5_339, "S", 10002, 8300],
    ["RE-2026-00003", 566_700, "S", 10001, 8290],
    ["RE-2026-00004", 148_800, "S", 10003, 8337],
    ["RE-2026-00005", 53_550, "S", 10002, 8400],
    ["RE-2026-00005", 12_000, "S", 10002, 8100],
    ["RE-2026-00001", 23_005, "S", 1200, 10002],
    ["GS-2026-00001", 23_800, "H", 10001, 8290],
    ["RE-2026-00001", 23_005, "H", 1200, 10002],
    ["RE-2026-00006", 119_000, "S", 10004, 8400],
    ["RE-2026-00003", 542_900, "S", 1200, 10001],
    ["RE-2026-00006", 119_000, "S", 1200, 10004],
  ]);
  t.match(bookings[8], { correctedNumber: "RE-2026-00003", dueDate: null, serviceDate: "2026-11-18" });
  t.equal(bookings[4]?.euVatId, null, "a domestic § 13b booking carries no EU VAT id");
  const sameDay = payment({ invoiceNumber: "RE-2026-00001", paidOn: "2026-11-20", amountCents: 23_005 });
  t.same(
    datevBookings([standard19], [sameDay], settings).map((b) => b.account),
    [10002, 1200],
    "on the same day and number, the invoice comes before its payment",
  );

  const long = documentOf({
    number: "RE-2026-00009",
    buyer: { ...privateBuyer, name: `Sonnen\tschein\r\n${"x".repeat(80)}` },
    lines: [line(1, { description: "Wartung", unitPriceCents: 1_000 })],
  });
  const [cut] = datevBookings([long], [], settings);
  t.equal(cut?.text, `Sonnen schein  ${"x".repeat(45)}`, "control characters become spaces, then 60 characters");

  const vienna = documentOf({
    number: "RE-2026-00010",
    buyer: { ...businessBuyer, country: "AT", vatId: "ATU 1234 5678" },
    lines: [line(1, { description: "Montage", unitPriceCents: 10_000, vatCategory: "AE", vatRate: 0 })],
  });
  t.equal(datevBookings([vienna], [], settings)[0]?.euVatId, "ATU12345678", "an EU buyer's VAT id goes to field 40");
});

t.test("an emoji in a customer name is refused, naming document and field", async (t) => {
  const solar = documentOf({
    number: "RE-2026-00007",
    buyer: { ...businessBuyer, name: "Solar 🌞 GmbH" },
    lines: [line(1, { description: "Wartung", unitPriceCents: 1_000 })],
  });
  let result: unknown;
  t.throws(
    () => {
      result = datevExtf({ ...november, documents: [...november.documents, solar] });
    },
    {
      code: "HUB_ERR_DATEV_UNENCODABLE",
      message: 'RE-2026-00007: buyer name "Solar 🌞 GmbH" has 🌞, which Windows-1252 cannot encode',
    },
  );
  t.equal(result, undefined, "nothing returned");
  t.throws(
    () =>
      datevExtf({
        ...november,
        payments: [
          payment({ invoiceNumber: "RE-2026-00001", paidOn: "2026-11-24", amountCents: 1, reference: "Zahlung Łódź" }),
        ],
      }),
    {
      code: "HUB_ERR_DATEV_UNENCODABLE",
      message: /^payment on RE-2026-00001 of 2026-11-24: payment reference .* has Ł, ź/,
    },
  );
  t.throws(() => datevExtf({ ...november, settings: { ...settings, exportedBy: "Jana 🙂" } }), {
    code: "HUB_ERR_DATEV_UNENCODABLE",
    message: /datev\.exportedBy/,
  });
});

t.test("SKR04 books on SKR04's accounts", async (t) => {
  const skr04 = { ...settings, chart: "SKR04" as const };
  const bookings = datevBookings([standard19, mixed19And7, reverseCharge, exempt, pvZeroRate], payments, skr04);
  t.same(
    [...new Set(bookings.map((b) => b.contraAccount).filter((n) => n < 10000))].sort((a, b) => a - b),
    [4100, 4300, 4337, 4400, 8290],
    "revenue 19 %, 7 %, § 13b, exempt (and the configured Z account)",
  );
  t.same(
    [
      ...new Set(
        bookings.filter((b) => b.documentNumber === "RE-2026-00001" && b.account < 10000).map((b) => b.account),
      ),
    ],
    [1800],
  );
  t.match(iconv.decode(datevExtf({ ...november, settings: skr04 }).content, "win1252"), /;"04";;;"";""\r\n/);

  const fiveDigits = { ...settings, accountLength: 5, accounts: { Z: 82900 } };
  const customer = { ...businessBuyer, customerNumber: "K-100002" };
  const [revenue] = datevBookings([{ ...standard19, buyer: customer }], [], fiveDigits);
  t.match(
    revenue,
    { account: 100002, contraAccount: 84000 },
    "account length 5: 8400 becomes 84000, debitors 6 digits",
  );
  t.same(
    datevBookings(
      [],
      [payment({ invoiceNumber: "RE-2026-00001", customerNumber: "K-100002", paidOn: "2026-11-24", amountCents: 1 })],
      { ...skr04, accountLength: 5, accounts: { bank: 18100 } },
    )[0]?.account,
    18100,
    "a configured account wins",
  );
});

t.test("settings errors name every wrong setting", async (t) => {
  const wrong = {
    ...settings,
    advisorNumber: 1000,
    clientNumber: 100_000,
    accountLength: 9,
    fiscalYearStartMonth: 13,
    chart: "SKR07",
  } as unknown as DatevSettings;
  t.throws(() => datevExtf({ ...november, settings: wrong }), {
    code: "HUB_ERR_SETTINGS_MISSING",
    message:
      "DATEV settings: datev.advisorNumber must be a whole number from 1001 to 9999999 (is 1000); " +
      "datev.clientNumber must be a whole number from 1 to 99999 (is 100000); " +
      "datev.accountLength must be a whole number from 4 to 8 (is 9); " +
      "datev.fiscalYearStartMonth must be a whole number from 1 to 12 (is 13); " +
      'datev.chart must be "SKR03" or "SKR04" (is "SKR07")',
  });
  t.throws(() => datevBookings([], [], { ...settings, advisorNumber: 10_000_000 }), {
    message: /datev\.advisorNumber/,
  });
  t.throws(() => datevBookings([], [], { ...settings, clientNumber: 0 }), { message: /datev\.clientNumber/ });
  t.throws(() => datevBookings([], [], { ...settings, accountLength: 3 }), {
    message: /datev\.accountLength .* \(is 3\)/,
  });
  t.throws(() => datevBookings([], [], { ...settings, accounts: { S19: 84000 } }), {
    code: "HUB_ERR_SETTINGS_MISSING",
    message: /datev\.accounts\.S19 must be a Sachkonto of at most 4 digits/,
  });
  t.doesNotThrow(() => datevBookings([], [], { ...settings, advisorNumber: 1001, clientNumber: 1, accountLength: 8 }));
});

t.test("a customer number outside the debitor range is refused", async (t) => {
  for (const customerNumber of ["K-70000", "K-9999", "C-10002", "10002"]) {
    t.throws(() => datevBookings([{ ...standard19, buyer: { ...businessBuyer, customerNumber } }], [], settings), {
      code: "HUB_ERR_SETTINGS_MISSING",
      message: `RE-2026-00001: customer number "${customerNumber}" gives no debitor account: with datev.accountLength 4 debitors are K-10000 to K-69999`,
    });
  }
  t.throws(
    () =>
      datevBookings(
        [],
        [payment({ invoiceNumber: "RE-2026-00001", customerNumber: "K-70001", paidOn: "2026-11-24", amountCents: 1 })],
        settings,
      ),
    {
      message: /^payment on RE-2026-00001 of 2026-11-24: customer number "K-70001"/,
    },
  );
  t.doesNotThrow(() =>
    datevBookings([{ ...standard19, buyer: { ...businessBuyer, customerNumber: "K-69999" } }], [], settings),
  );
});

t.test("a period must lie in one fiscal year and one calendar year", async (t) => {
  const july = { ...settings, fiscalYearStartMonth: 7 };
  const empty = { ...november, documents: [], payments: [] };
  t.throws(() => datevExtf({ ...empty, from: "2026-12-01", to: "2027-01-31" }), {
    code: "HUB_ERR_VALIDATION",
    message: /crosses the fiscal year starting 2027-01-01/,
  });
  t.throws(() => datevExtf({ ...empty, settings: july, from: "2026-06-01", to: "2026-07-31" }), {
    message: /crosses the fiscal year starting 2026-07-01/,
  });
  t.throws(() => datevExtf({ ...empty, settings: july, from: "2026-12-01", to: "2027-01-31" }), {
    message: /crosses a calendar year/,
  });
  t.throws(() => datevExtf({ ...empty, from: "2026-11-30", to: "2026-11-01" }), { message: /is before/ });
  t.throws(() => datevExtf({ ...empty, from: "2026-02-30", to: "2026-03-31" }), { message: /not a date/ });
  const header = iconv.decode(
    datevExtf({ ...empty, settings: july, from: "2027-03-01", to: "2027-03-15" }).content,
    "win1252",
  );
  t.match(
    header,
    /;29098;55003;20260701;4;20270301;20270315;"Rechnungen 20270301-20270315";/,
    "WJ-Beginn of the fiscal year",
  );
  t.throws(() => datevExtf({ ...november, to: "2026-11-25" }), {
    code: "HUB_ERR_VALIDATION",
    message:
      /^payment on RE-2026-00001 of 2026-11-26: dated 2026-11-26, outside the export period 2026-11-01 to 2026-11-25/,
  });
});

t.test("a 0 % booking needs the advisor's Z account (DATEV has no standard one)", async (t) => {
  const withoutZ = { ...settings, accounts: {} };
  t.throws(() => datevExtf({ ...november, documents: [standard19, pvZeroRate], settings: withoutZ }), {
    code: "HUB_ERR_SETTINGS_MISSING",
    message:
      "RE-2026-00003: datev.accounts.Z is not set. DATEV's SKR03 has no standard account for 0 % turnover under § 12 Abs. 3 UStG; the tax advisor names the account",
  });
  t.doesNotThrow(() => datevBookings([standard19, reverseCharge], [], withoutZ), "only a Z booking needs it");
});

t.test("other refusals: numbers DATEV cannot key, zero payments, too many bookings", async (t) => {
  t.throws(() => datevBookings([{ ...standard19, number: "RE 2026_00001" }], [], settings), {
    code: "HUB_ERR_VALIDATION",
    message: /^RE 2026_00001: number \(Belegfeld 1\) "RE 2026_00001" must be 1 to 36 of/,
  });
  t.throws(
    () =>
      datevBookings([], [payment({ invoiceNumber: "RE-2026-00001", paidOn: "2026-11-24", amountCents: 0 })], settings),
    {
      message: /amount 0 is not a non-zero number of cents/,
    },
  );
  t.throws(
    () =>
      datevBookings(
        [
          {
            ...standard19,
            vatBreakdown: [{ category: "S", rate: 16, taxableCents: 100, taxCents: 16, exemptionReason: null }],
          },
        ],
        [],
        settings,
      ),
    {
      message: /VAT group S 16 % has no DATEV revenue account/,
    },
  );
  const many = Array.from({ length: 100_000 }, () =>
    payment({ invoiceNumber: "RE-2026-00001", paidOn: "2026-11-24", amountCents: 1 }),
  );
  t.throws(() => datevExtf({ ...november, documents: [], payments: many }), {
    code: "HUB_ERR_VALIDATION",
    message: /^100000 bookings from 2026-11-01 to 2026-11-30; a DATEV file takes at most 99999/,
  });
  t.equal(datevExtf({ ...november, documents: [], payments: many.slice(1) }).bookings, 99_999);
});

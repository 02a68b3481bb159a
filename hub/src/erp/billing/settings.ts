import { type Static, Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { isValidIBAN } from "ibantools";
import type pg from "pg";
import type { Queryable } from "../../db/queryable.js";
import { fieldError } from "../../errors.js";
import { txOf } from "../../platform/idempotency.js";
import { expectedVersion, sendVersion, staleVersion } from "../../platform/locking.js";
import { snakeCase } from "../../platform/resources/fields.js";
import type { DatevSettings } from "./datev.js";
import type { Seller } from "./document.js";

const nullableText = (maxLength: number, extra: object = {}) =>
  Type.Union([Type.String({ minLength: 1, maxLength, ...extra }), Type.Null()]);
const account = Type.Union([Type.Integer({ minimum: 1, maximum: 99_999_999 }), Type.Null()]);

/** The company's own data as the API shows and changes it (`erp.company_settings`, one row). */
const SettingsFields = {
  name: nullableText(200),
  street: nullableText(200),
  postalCode: nullableText(20),
  city: nullableText(100),
  country: Type.String({ pattern: "^[A-Z]{2}$" }),
  vatId: nullableText(14, { pattern: "^[A-Z]{2}[0-9A-Za-z+*.]{2,12}$" }),
  taxNumber: nullableText(30),
  registration: nullableText(200, { description: "Handelsregister, e.g. Amtsgericht Kassel HRB 12345" }),
  managingDirectors: nullableText(200),
  contactName: nullableText(100),
  phone: nullableText(50),
  email: nullableText(254, { pattern: "^[^@\\s]+@[^@\\s]+$" }),
  iban: nullableText(34, { pattern: "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$" }),
  bic: nullableText(11, { pattern: "^[A-Z0-9]{8}([A-Z0-9]{3})?$" }),
  bankName: nullableText(100),
  paymentTermsDays: Type.Integer({ minimum: 0, maximum: 365 }),
  datevAdvisorNumber: Type.Union([Type.Integer({ minimum: 1001, maximum: 9_999_999 }), Type.Null()]),
  datevClientNumber: Type.Union([Type.Integer({ minimum: 1, maximum: 99_999 }), Type.Null()]),
  datevChart: Type.Union([Type.Literal("SKR03"), Type.Literal("SKR04")]),
  datevAccountLength: Type.Integer({ minimum: 4, maximum: 8 }),
  datevFiscalYearStartMonth: Type.Integer({ minimum: 1, maximum: 12 }),
  datevAccountS19: account,
  datevAccountS7: account,
  datevAccountZ: account,
  datevAccountE: account,
  datevAccountAe: account,
  datevAccountBank: account,
};
const CompanySettings = Type.Object({ ...SettingsFields, version: Type.Integer(), updatedAt: Type.String() });
const SettingsPatch = Type.Partial(Type.Object(SettingsFields), { additionalProperties: false, minProperties: 1 });

/** The company settings as stored. */
export type CompanySettings = Static<typeof CompanySettings>;

const column = snakeCase;
const COLUMNS = Object.keys(SettingsFields).map((key) => ({ key, column: column(key) }));

/** The company settings (one row, created by the migration). */
export async function loadCompanySettings(db: Queryable): Promise<CompanySettings> {
  const { rows } = await db.query(
    `SELECT ${COLUMNS.map((c) => c.column).join(", ")}, version, updated_at FROM erp.company_settings WHERE id = 1`,
  );
  const row = rows[0];
  if (!row) throw new Error("erp.company_settings has no row: the database is not migrated");
  const settings = Object.fromEntries(COLUMNS.map((c) => [c.key, row[c.column]]));
  return { ...settings, version: row.version, updatedAt: (row.updated_at as Date).toISOString() } as CompanySettings;
}

/** The seller of every document, or `HUB_ERR_SETTINGS_MISSING` naming each setting a document needs and lacks. */
export function sellerOf(settings: CompanySettings): Seller {
  const required = ["name", "street", "postalCode", "city", "phone", "email", "iban", "contactName"] as const;
  const missing: string[] = required.filter((key) => !settings[key]);
  if (!settings.vatId && !settings.taxNumber) missing.push("vatId");
  if (missing.length) {
    throw fieldError(
      "HUB_ERR_SETTINGS_MISSING",
      missing.map((key) => ({ path: `/${key}`, message: "the company settings need it for invoices" })),
    );
  }
  return {
    name: settings.name as string,
    street: settings.street,
    postalCode: settings.postalCode,
    city: settings.city,
    country: settings.country,
    vatId: settings.vatId,
    taxNumber: settings.taxNumber,
    registration: settings.registration,
    managingDirectors: settings.managingDirectors,
    contactName: settings.contactName as string,
    phone: settings.phone as string,
    email: settings.email as string,
    iban: settings.iban as string,
    bic: settings.bic,
    bankName: settings.bankName,
  };
}

/** The DATEV settings, or `HUB_ERR_SETTINGS_MISSING` naming the advisor and client numbers when unset. */
export function datevSettingsOf(settings: CompanySettings, exportedBy?: string): DatevSettings {
  const missing = (["datevAdvisorNumber", "datevClientNumber"] as const).filter((key) => settings[key] === null);
  if (missing.length) {
    throw fieldError(
      "HUB_ERR_SETTINGS_MISSING",
      missing.map((key) => ({ path: `/${key}`, message: "the DATEV export needs it (your tax advisor has it)" })),
    );
  }
  const accounts = {
    S19: settings.datevAccountS19,
    S7: settings.datevAccountS7,
    Z: settings.datevAccountZ,
    E: settings.datevAccountE,
    AE: settings.datevAccountAe,
    bank: settings.datevAccountBank,
  };
  return {
    advisorNumber: settings.datevAdvisorNumber as number,
    clientNumber: settings.datevClientNumber as number,
    chart: settings.datevChart,
    accountLength: settings.datevAccountLength,
    fiscalYearStartMonth: settings.datevFiscalYearStartMonth,
    accounts: Object.fromEntries(Object.entries(accounts).filter(([, v]) => v !== null)) as DatevSettings["accounts"],
    ...(exportedBy ? { exportedBy: exportedBy.slice(0, 25) } : {}),
  };
}

/**
 * `GET /settings/company` (billing:read) and `PATCH /settings/company` (billing:write, If-Match,
 * Idempotency-Key, audited by the table's trigger): the seller data of every document and the
 * DATEV export's settings.
 */
export const companySettingsRoutes: FastifyPluginAsync<{ pool: pg.Pool }> = async (app, { pool }) => {
  app.get(
    "/settings/company",
    {
      config: { permission: "billing:read" },
      schema: {
        summary: "The company's own data (seller of every document) and its DATEV settings",
        tags: ["settings"],
        response: { 200: CompanySettings },
      },
    },
    async (_req, reply) => {
      const settings = await loadCompanySettings(pool);
      sendVersion(reply, settings.version);
      return settings;
    },
  );
  app.patch(
    "/settings/company",
    {
      config: { permission: "billing:write", idempotent: true, auditTags: ["settings"] },
      schema: {
        summary: "Change the company settings (JSON merge patch, If-Match)",
        tags: ["settings"],
        body: SettingsPatch,
        response: { 200: CompanySettings },
      },
    },
    async (req, reply) => {
      const expected = expectedVersion(req);
      const body = req.body as Static<typeof SettingsPatch>;
      if (body.iban && !isValidIBAN(body.iban)) {
        throw fieldError("HUB_ERR_VALIDATION", [{ path: "/iban", message: "is not a valid IBAN (check digits)" }]);
      }
      const patch = Object.entries(body);
      const sets = patch.map(([key], i) => `${column(key)} = $${i + 2}`);
      const tx = txOf(req);
      const { rowCount } = await tx.query(
        `UPDATE erp.company_settings SET ${[...sets, "version = version + 1", "updated_at = now()"].join(", ")}
         WHERE id = 1 AND ($1::integer IS NULL OR version = $1)`,
        [expected, ...patch.map(([, v]) => v)],
      );
      const settings = await loadCompanySettings(tx);
      if (rowCount !== 1) throw staleVersion("the company settings", expected ?? 0, settings.version);
      sendVersion(reply, settings.version);
      return settings;
    },
  );
};

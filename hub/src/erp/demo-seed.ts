import { randomBytes } from "node:crypto";
import type pg from "pg";
import { AuthService } from "../auth/service.js";
import type { Queryable } from "../db/queryable.js";
import { inAuditedTransaction } from "../platform/audit-context.js";
import type { EntityDefinition } from "../platform/resources/entity.js";
import { insertRecord } from "../platform/resources/repository.js";
import { finaliseDocument } from "./billing/documents.js";
import { invoiceLines, invoices, payments, quoteLines, quotes } from "./billing/entities.js";
import { contacts, customers } from "./crm/entities.js";
import { articles, reservations, stockMovements, warehouses } from "./inventory/entities.js";
import { projects } from "./projects/entities.js";
import { tickets } from "./service/entities.js";
import { devices, gateways, sites } from "./sites/entities.js";
import { timeBookings } from "./time/entities.js";

/** What the demo company is built around: the demo's edge and the serial number its inverter reports. */
export interface DemoSite {
  edgeId: string;
  inverterSerial: string;
  /** The site's other devices as their simulators report them (linked by serial number like the inverter). */
  devices?: Array<{ kind: "meter" | "battery"; manufacturer: string; model: string; serialNumber: string }>;
}

/**
 * Seeds a small PV installation company for the demo (`npm start`) on a database without
 * customers and sites, and does nothing on one that has them: three customers with contacts, the
 * demo edge's site whose inverter carries the serial number the simulator reports (so it links by
 * itself), a warehouse with stock, a scheduled project with reserved material, a technician's time
 * bookings, a maintenance ticket, the company's seller data, a finalised and half-paid invoice and
 * a sent quote. Written through the same declarations and triggers as the
 * API (audited as `system:demo-seed`). Returns whether it seeded.
 */
export async function seedDemoCompany(pool: pg.Pool, demo: DemoSite): Promise<boolean> {
  const { rows } = await pool.query<{ empty: boolean }>(
    "SELECT NOT EXISTS (SELECT FROM erp.customers) AND NOT EXISTS (SELECT FROM erp.sites) AS empty",
  );
  if (!rows[0]?.empty) return false;
  const technician = await demoTechnician(pool);
  await inAuditedTransaction(pool, { actorId: "system:demo-seed", tags: ["demo"] }, async (tx) => {
    const add = (definition: EntityDefinition, input: Record<string, unknown>) => insertRecord(tx, definition, input);
    const family = await add(customers, {
      name: "Familie Sonnenschein",
      kind: "private",
      street: "Sonnenweg 7",
      postalCode: "34117",
      city: "Kassel",
      email: "sonnenschein@example.org",
      consentMonitoring: true,
      consentMonitoringSource: "Anlagenvertrag vom 2026-04-02",
    });
    const bakery = await add(customers, {
      name: "Bäckerei Morgenrot GmbH",
      kind: "business",
      street: "Marktplatz 3",
      postalCode: "36037",
      city: "Fulda",
      vatId: "DE123456789",
      email: "buchhaltung@baeckerei-morgenrot.example",
    });
    await add(customers, { name: "Stadtwerke Eschwege", kind: "business", city: "Eschwege" });
    await add(contacts, { customerId: family.id, firstName: "Anna", lastName: "Sonnenschein", isPrimary: true });
    await add(contacts, {
      customerId: bakery.id,
      firstName: "Karl",
      lastName: "Morgenrot",
      position: "Geschäftsführer",
      phone: "+49 661 123456",
      isPrimary: true,
    });
    const site = await add(sites, {
      customerId: family.id,
      name: "PV Sonnenschein",
      street: "Sonnenweg 7",
      postalCode: "34117",
      city: "Kassel",
      kwp: 9.86,
      moduleCount: 23,
      stringCount: 2,
      modules: "23 × 425 W in 2 Strings, Süddach 35°",
      commissioningDate: "2026-05-04",
      gridOperator: "Städtische Werke Netz + Service GmbH",
      mastrNumber: "SEE912345678901",
    });
    await add(gateways, { siteId: site.id, edgeId: demo.edgeId, name: "Gateway im Hausanschlussraum" });
    await add(devices, {
      siteId: site.id,
      kind: "inverter",
      manufacturer: "SteinmetZ",
      model: "SIM-TRI-10K",
      serialNumber: demo.inverterSerial,
      warrantyEnd: "2036-05-04",
    });
    for (const device of demo.devices ?? []) await add(devices, { siteId: site.id, ...device });
    const hq = await add(warehouses, { code: "HQ", name: "Hauptlager Kassel", city: "Kassel" });
    await add(warehouses, { code: "VAN-1", name: "Montagewagen 1" });
    const moduleArticle = await add(articles, {
      number: "MOD-425",
      name: "PV-Modul 425 W Glas-Glas",
      category: "module",
      salesPriceCents: 11900,
    });
    const inverterArticle = await add(articles, {
      number: "INV-10K",
      name: "Wechselrichter 10 kW dreiphasig",
      category: "inverter",
      serialised: true,
      salesPriceCents: 189000,
    });
    const cable = await add(articles, { number: "CAB-6", name: "Solarkabel 6 mm²", category: "cable", unit: "m" });
    await add(stockMovements, { kind: "receipt", articleId: moduleArticle.id, quantity: 120, toWarehouseId: hq.id });
    await add(stockMovements, { kind: "receipt", articleId: cable.id, quantity: 500, toWarehouseId: hq.id });
    for (const serialNumber of ["INV-DEMO-0001", "INV-DEMO-0002"]) {
      await add(stockMovements, {
        kind: "receipt",
        articleId: inverterArticle.id,
        quantity: 1,
        toWarehouseId: hq.id,
        serialNumber,
      });
    }
    const project = await add(projects, {
      customerId: bakery.id,
      title: "PV-Anlage Bäckerei Morgenrot 29,75 kWp",
      kind: "installation",
      budgetCents: 3_850_000,
      plannedHours: 64,
      startDate: "2026-12-14",
      dueDate: "2026-12-18",
    });
    await setStatus(tx, project.id, "scheduled");
    await add(reservations, { projectId: project.id, articleId: moduleArticle.id, warehouseId: hq.id, quantity: 70 });
    await add(reservations, { projectId: project.id, articleId: cable.id, warehouseId: hq.id, quantity: 120 });
    await add(reservations, { projectId: project.id, articleId: inverterArticle.id, warehouseId: hq.id, quantity: 1 });
    for (const [workDate, hours, description] of [
      ["2026-12-01", 3.5, "Aufmaß und Dachbegehung"],
      ["2026-12-02", 2, "Elektroplanung, Netzanmeldung"],
    ] as const) {
      await add(timeBookings, { userId: technician, projectId: project.id, workDate, hours, description });
    }
    await add(tickets, {
      title: "Jahreswartung PV Sonnenschein",
      siteId: site.id,
      priority: "low",
      description: "Sichtprüfung, Isolationsmessung, Reinigung nach Bedarf",
    });
    await seedDemoBilling(tx, { family: family.id, bakery: bakery.id, site: site.id, project: project.id }, demo);
  });
  return true;
}

/**
 * The demo company's billing: its own data as seller, the family's PV installation invoiced at
 * 0 % (§12 Abs. 3 UStG) and half paid, and a sent quote for the bakery's project.
 */
async function seedDemoBilling(
  tx: Queryable,
  ids: { family: string; bakery: string; site: string; project: string },
  demo: DemoSite,
): Promise<void> {
  await tx.query(
    `UPDATE erp.company_settings SET name = 'Sonnenstrom Nordhessen GmbH (Demo)', street = 'Industriestraße 12',
       postal_code = '34123', city = 'Kassel', vat_id = 'DE811907980', registration = 'Amtsgericht Kassel HRB 17523',
       managing_directors = 'Jana Brenner', contact_name = 'Buchhaltung', phone = '+49 561 123456',
       email = 'buchhaltung@sonnenstrom.example', iban = 'DE02120300000000202051', bic = 'BYLADEM1001',
       bank_name = 'Deutsche Kreditbank Berlin', datev_advisor_number = 29098, datev_client_number = 55003,
       datev_account_z = 8290,
       version = version + 1, updated_at = now()
     WHERE id = 1`,
  );
  const invoice = await insertRecord(tx, invoices, {
    customerId: ids.family,
    siteId: ids.site,
    issueDate: "2026-05-06",
    deliveryDate: "2026-05-04",
  });
  const pv = { invoiceId: invoice.id, vatCategory: "Z", vatRate: 0, unit: "H87" };
  await insertRecord(tx, invoiceLines, {
    ...pv,
    position: 1,
    kind: "flat",
    description: "PV-Module 425 W Glas-Glas, 23 Stück",
    quantity: 23,
    unitPriceCents: 11_900,
  });
  await insertRecord(tx, invoiceLines, {
    ...pv,
    position: 2,
    kind: "flat",
    description: "Wechselrichter 10 kW dreiphasig",
    serialNumber: demo.inverterSerial,
    quantity: 1,
    unitPriceCents: 189_000,
  });
  await insertRecord(tx, invoiceLines, {
    ...pv,
    position: 3,
    kind: "hours",
    description: "Montage, Verkabelung und Inbetriebnahme",
    unit: "HUR",
    quantity: 16,
    unitPriceCents: 6_500,
  });
  await finaliseDocument(tx, invoice.id);
  await insertRecord(tx, payments, {
    invoiceId: invoice.id,
    amountCents: 250_000,
    paidOn: "2026-05-20",
    reference: "Abschlag PV-Anlage",
  });
  const quote = await insertRecord(tx, quotes, {
    customerId: ids.bakery,
    projectId: ids.project,
    title: "PV-Anlage Bäckerei Morgenrot 29,75 kWp",
    validUntil: "2027-01-31",
  });
  for (const [position, description, quantity, unitPriceCents, unit] of [
    [1, "PV-Modul 425 W Glas-Glas", 70, 11_900, "H87"],
    [2, "Wechselrichter 25 kW dreiphasig", 1, 389_000, "H87"],
    [3, "Montage und Inbetriebnahme", 64, 6_500, "HUR"],
  ] as const) {
    await insertRecord(tx, quoteLines, {
      quoteId: quote.id,
      position,
      kind: "flat",
      description,
      quantity,
      unitPriceCents,
      unit,
      vatCategory: "S",
      vatRate: 19,
    });
  }
  await tx.query("UPDATE erp.quotes SET status = 'sent', version = version + 1 WHERE id = $1", [quote.id]);
}

/** A technician account for the demo's bookings; its password is random and never shown (log in as your own admin). */
async function demoTechnician(pool: pg.Pool): Promise<string> {
  const email = "techniker@demo.invalid";
  const existing = await pool.query<{ id: string }>("SELECT id FROM auth.users WHERE email = $1", [email]);
  if (existing.rows[0]) return existing.rows[0].id;
  const auth = new AuthService(pool);
  const user = await auth.createUser({
    email,
    roles: ["technician"],
    password: randomBytes(24).toString("base64url"),
    displayName: "Tim Techniker (Demo)",
  });
  return user.id;
}

async function setStatus(tx: Queryable, projectId: string, status: string): Promise<void> {
  await tx.query("UPDATE erp.projects SET status = $2, version = version + 1, updated_at = now() WHERE id = $1", [
    projectId,
    status,
  ]);
}

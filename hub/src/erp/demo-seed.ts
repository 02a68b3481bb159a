import { randomBytes } from "node:crypto";
import type pg from "pg";
import { AuthService } from "../auth/service.js";
import type { Queryable } from "../db/queryable.js";
import { inAuditedTransaction } from "../platform/audit-context.js";
import type { EntityDefinition } from "../platform/resources/entity.js";
import { insertRecord } from "../platform/resources/repository.js";
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
}

/**
 * Seeds a small PV installation company for the demo (`npm start`) on a database without
 * customers and sites, and does nothing on one that has them: three customers with contacts, the
 * demo edge's site whose inverter carries the serial number the simulator reports (so it links by
 * itself), a warehouse with stock, a scheduled project with reserved material, a technician's time
 * bookings and a maintenance ticket. Written through the same declarations and triggers as the
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
  });
  return true;
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

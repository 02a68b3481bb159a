import type { FastifyPluginAsync } from "fastify";
import type pg from "pg";
import type { EntityDefinition } from "../platform/resources/entity.js";
import { metaRoutes } from "../platform/resources/meta-routes.js";
import { entityRoutes } from "../platform/resources/routes.js";
import { invoiceLines, invoices, payments, quoteLines, quotes } from "./billing/entities.js";
import { billingRoutes } from "./billing/routes.js";
import { companySettingsRoutes } from "./billing/settings.js";
import { contacts, customers } from "./crm/entities.js";
import { articles, reservations, stockMovements, warehouses } from "./inventory/entities.js";
import { inventoryRoutes } from "./inventory/routes.js";
import { projects } from "./projects/entities.js";
import { tickets } from "./service/entities.js";
import { devices, gateways, sites } from "./sites/entities.js";
import { timeBookings } from "./time/entities.js";
import { periodRoutes } from "./time/routes.js";

/** Every ERP entity the kit serves, in the order the web app lists them. */
export const ERP_ENTITIES: EntityDefinition[] = [
  customers,
  contacts,
  sites,
  gateways,
  devices,
  projects,
  articles,
  warehouses,
  reservations,
  stockMovements,
  tickets,
  timeBookings,
  quotes,
  quoteLines,
  invoices,
  invoiceLines,
  payments,
];

/** The ERP domains under /api/v1: each entity's derived routes and `/meta/entities`. */
export const erpRoutes: FastifyPluginAsync<{ pool: pg.Pool }> = async (app, { pool }) => {
  for (const definition of ERP_ENTITIES) await app.register(entityRoutes, { definition, pool });
  await app.register(inventoryRoutes, { pool });
  await app.register(periodRoutes, { pool });
  await app.register(billingRoutes, { pool });
  await app.register(companySettingsRoutes, { pool });
  await app.register(metaRoutes, { definitions: ERP_ENTITIES });
};

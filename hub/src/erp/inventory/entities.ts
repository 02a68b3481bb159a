import { defineEntity } from "../../platform/resources/entity.js";
import { f } from "../../platform/resources/fields.js";
import { holdWriteOffs } from "./write-offs.js";

/** Articles: modules, inverters, batteries, mounting, cable…; serialised ones move by serial number. */
export const articles = defineEntity({
  name: "articles",
  table: "erp.articles",
  label: { de: "Artikel", en: "Article" },
  plural: { de: "Artikel", en: "Articles" },
  titleField: "name",
  permissions: { read: "inventory:read", write: "inventory:write" },
  deletable: true,
  defaultSort: "number",
  fields: {
    number: f.text({ de: "Artikelnummer", en: "Article number" }, 40, {
      required: true,
      list: true,
      sort: true,
      search: true,
    }),
    name: f.text({ de: "Bezeichnung", en: "Name" }, 200, { required: true, list: true, sort: true, search: true }),
    category: f.enum(
      { de: "Kategorie", en: "Category" },
      [
        { value: "module", label: { de: "PV-Modul", en: "PV module" } },
        { value: "inverter", label: { de: "Wechselrichter", en: "Inverter" } },
        { value: "battery", label: { de: "Batteriespeicher", en: "Battery" } },
        { value: "mounting", label: { de: "Montagesystem", en: "Mounting" } },
        { value: "cable", label: { de: "Kabel", en: "Cable" } },
        { value: "wallbox", label: { de: "Wallbox", en: "Wallbox" } },
        { value: "service", label: { de: "Dienstleistung", en: "Service" } },
        { value: "other", label: { de: "Sonstiges", en: "Other" } },
      ],
      { required: true, list: true, filter: "in" },
    ),
    unit: f.enum({ de: "Einheit", en: "Unit" }, [
      { value: "piece", label: { de: "Stück", en: "piece" } },
      { value: "m", label: { de: "m", en: "m" } },
      { value: "kg", label: { de: "kg", en: "kg" } },
      { value: "set", label: { de: "Satz", en: "set" } },
    ]),
    serialised: f.boolean({ de: "Seriennummernpflichtig", en: "Serialised" }, { list: true, filter: "in" }),
    manufacturer: f.text({ de: "Hersteller", en: "Manufacturer" }, 100, { nullable: true, list: true }),
    model: f.text({ de: "Modell", en: "Model" }, 100, { nullable: true }),
    purchasePriceCents: f.cents({ de: "Einkaufspreis", en: "Purchase price" }, { nullable: true }),
    salesPriceCents: f.cents({ de: "Verkaufspreis", en: "Sales price" }, { nullable: true, list: true }),
    notes: f.longtext({ de: "Notizen", en: "Notes" }, 4000, { nullable: true }),
  },
  constraints: {
    articles_serialised_pieces: { field: "unit", message: "a serialised article is counted in pieces" },
  },
});

/** Warehouses (the company's stores and vans). */
export const warehouses = defineEntity({
  name: "warehouses",
  table: "erp.warehouses",
  label: { de: "Lager", en: "Warehouse" },
  plural: { de: "Lager", en: "Warehouses" },
  titleField: "name",
  permissions: { read: "inventory:read", write: "inventory:write" },
  deletable: true,
  defaultSort: "code",
  fields: {
    code: f.pattern({ de: "Kürzel", en: "Code" }, "^[A-Z0-9-]{1,20}$", "upper-case letters, digits, -", {
      required: true,
      list: true,
      sort: true,
    }),
    name: f.text({ de: "Name", en: "Name" }, 200, { required: true, list: true }),
    street: f.text({ de: "Straße", en: "Street" }, 200, { nullable: true }),
    postalCode: f.text({ de: "PLZ", en: "Postal code" }, 20, { nullable: true }),
    city: f.text({ de: "Ort", en: "City" }, 100, { nullable: true, list: true }),
    notes: f.longtext({ de: "Notizen", en: "Notes" }, 4000, { nullable: true }),
  },
});

const quantity = (label: { de: string; en: string }, extra = {}) =>
  f.decimal(label, { minimum: 0.001, maximum: 1e9 }, { list: true, ...extra });

const insufficient = (field: string) => ({
  field,
  code: "HUB_ERR_STOCK_INSUFFICIENT" as const,
  message: "not enough unreserved stock of the article in the warehouse",
});

/** Stock held for a project: counted as reserved in its warehouse until issued or released. */
export const reservations = defineEntity({
  name: "reservations",
  table: "erp.reservations",
  label: { de: "Reservierung", en: "Reservation" },
  plural: { de: "Reservierungen", en: "Reservations" },
  titleField: "articleId",
  permissions: { read: "inventory:read", write: "inventory:write" },
  deletable: true,
  defaultSort: "-createdAt",
  fields: {
    projectId: f.ref({ de: "Projekt", en: "Project" }, "projects", { required: true, list: true, filter: "in" }),
    articleId: f.ref({ de: "Artikel", en: "Article" }, "articles", { required: true, list: true, filter: "in" }),
    warehouseId: f.ref({ de: "Lager", en: "Warehouse" }, "warehouses", { required: true, list: true, filter: "in" }),
    quantity: f.decimal({ de: "Menge", en: "Quantity" }, { minimum: 0, maximum: 1e9 }, { required: true, list: true }),
    notes: f.longtext({ de: "Notizen", en: "Notes" }, 4000, { nullable: true }),
  },
  constraints: {
    stock_reserved_available: insufficient("quantity"),
    reservations_one_per_project_article: {
      field: "articleId",
      message: "the project has a reservation of this article in this warehouse already: change its quantity",
    },
  },
});

/**
 * The stock ledger: append-only movements (receipt, issue to a project, transfer, return,
 * write-off, install at a site). The database applies each to the balances and refuses what
 * would make stock negative or move a serial number from where it is not; a movement is
 * corrected by its reversal (`reversesId`), never edited. A write-off waits for a second
 * person's approval (write-offs.ts).
 */
export const stockMovements = defineEntity({
  name: "stock-movements",
  table: "erp.stock_movements",
  label: { de: "Lagerbewegung", en: "Stock movement" },
  plural: { de: "Lagerbewegungen", en: "Stock movements" },
  titleField: "number",
  permissions: { read: "inventory:read", write: "inventory:write" },
  deletable: false,
  immutable: true,
  defaultSort: "-createdAt",
  hooks: { holdCreate: holdWriteOffs },
  fields: {
    number: f.integer({ de: "Nr.", en: "No." }, {}, { readOnly: true, list: true }),
    kind: f.enum(
      { de: "Art", en: "Kind" },
      [
        { value: "receipt", label: { de: "Wareneingang", en: "Receipt" } },
        { value: "issue", label: { de: "Entnahme für Projekt", en: "Issue to project" } },
        { value: "transfer", label: { de: "Umlagerung", en: "Transfer" } },
        { value: "return", label: { de: "Rückgabe", en: "Return" } },
        { value: "write_off", label: { de: "Ausbuchung", en: "Write-off" } },
        { value: "install", label: { de: "Einbau in Anlage", en: "Install at site" } },
      ],
      { list: true, filter: "in", help: { de: "bei Storno leer lassen", en: "leave empty for a reversal" } },
    ),
    articleId: f.ref({ de: "Artikel", en: "Article" }, "articles", { list: true, filter: "in" }),
    quantity: quantity({ de: "Menge", en: "Quantity" }),
    fromWarehouseId: f.ref({ de: "Von Lager", en: "From warehouse" }, "warehouses", { nullable: true, filter: "in" }),
    toWarehouseId: f.ref({ de: "Nach Lager", en: "To warehouse" }, "warehouses", { nullable: true, filter: "in" }),
    projectId: f.ref({ de: "Projekt", en: "Project" }, "projects", { nullable: true, list: true, filter: "in" }),
    siteId: f.ref({ de: "Anlage", en: "Site" }, "sites", { nullable: true, filter: "in" }),
    serialNumber: f.text({ de: "Seriennummer", en: "Serial number" }, 100, {
      nullable: true,
      list: true,
      filter: "in",
    }),
    reversesId: f.ref({ de: "Storno von", en: "Reverses" }, "stock-movements", { nullable: true }),
    notes: f.longtext({ de: "Notizen", en: "Notes" }, 4000, { nullable: true }),
  },
  constraints: {
    stock_not_negative: insufficient("quantity"),
    stock_reserved_available: insufficient("quantity"),
    project_stock_not_negative: {
      field: "quantity",
      code: "HUB_ERR_STOCK_INSUFFICIENT",
      message: "the project holds less of the article than this",
    },
    serial_numbers_one_place: {
      field: "serialNumber",
      code: "HUB_ERR_SERIAL_CONFLICT",
      message: "the serial number is not where this movement takes it from",
    },
    stock_movements_serial_required: {
      field: "serialNumber",
      message: "a serialised article moves by serial number, one at a time",
    },
    stock_movements_serial_unexpected: { field: "serialNumber", message: "the article has no serial numbers" },
    stock_movements_shape: { field: "kind", message: "the locations do not fit the kind of movement" },
    stock_movements_reversal: { field: "reversesId", message: "names no movement, or a reversal" },
    stock_movements_reverses_id_key: { field: "reversesId", message: "this movement was reversed already" },
  },
});

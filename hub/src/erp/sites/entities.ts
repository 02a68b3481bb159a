import { defineEntity } from "../../platform/resources/entity.js";
import { f } from "../../platform/resources/fields.js";
import { loadSiteDetail, siteDetailSchema } from "./detail.js";

/** Edge ids as the edge link accepts them. */
const EDGE_ID = "^[A-Za-z0-9._-]{1,64}$";

/** PV installations: where, how big, since when, on which grid, under which MaStR number. */
export const sites = defineEntity({
  name: "sites",
  table: "erp.sites",
  label: { de: "Anlage", en: "Site" },
  plural: { de: "Anlagen", en: "Sites" },
  titleField: "name",
  permissions: { read: "sites:read", write: "sites:write" },
  deletable: true,
  defaultSort: "name",
  fields: {
    customerId: f.ref({ de: "Kunde", en: "Customer" }, "customers", { required: true, list: true, filter: "in" }),
    name: f.text({ de: "Name", en: "Name" }, 200, { required: true, list: true, sort: true, search: true }),
    street: f.text({ de: "Straße", en: "Street" }, 200, { nullable: true }),
    postalCode: f.text({ de: "PLZ", en: "Postal code" }, 20, { nullable: true }),
    city: f.text({ de: "Ort", en: "City" }, 100, { nullable: true, list: true, search: true }),
    country: f.pattern({ de: "Land", en: "Country" }, "^[A-Z]{2}$", "ISO 3166-1 alpha-2, default DE"),
    kwp: f.decimal(
      { de: "Leistung (kWp)", en: "Peak power (kWp)" },
      { minimum: 0, maximum: 1_000_000 },
      {
        nullable: true,
        list: true,
        filter: "range",
      },
    ),
    moduleCount: f.integer({ de: "Module", en: "Modules" }, { minimum: 0 }, { nullable: true }),
    stringCount: f.integer({ de: "Strings", en: "Strings" }, { minimum: 0 }, { nullable: true }),
    modules: f.text({ de: "Modulbelegung", en: "Module layout" }, 1000, { nullable: true }),
    commissioningDate: f.date(
      { de: "Inbetriebnahme", en: "Commissioning date" },
      {
        nullable: true,
        list: true,
        filter: "range",
      },
    ),
    gridOperator: f.text({ de: "Netzbetreiber", en: "Grid operator" }, 200, { nullable: true }),
    mastrNumber: f.pattern(
      { de: "MaStR-Nummer", en: "MaStR number" },
      "^SEE[0-9]{12}$",
      "Marktstammdatenregister unit number (SEE + 12 digits)",
      { nullable: true },
    ),
    notes: f.longtext({ de: "Notizen", en: "Notes" }, 4000, { nullable: true }),
  },
  detail: { schema: siteDetailSchema, load: loadSiteDetail },
});

/** The edge gateways serving a site. */
export const gateways = defineEntity({
  name: "gateways",
  table: "erp.gateways",
  label: { de: "Gateway", en: "Gateway" },
  plural: { de: "Gateways", en: "Gateways" },
  titleField: "edgeId",
  permissions: { read: "sites:read", write: "sites:write" },
  deletable: true,
  defaultSort: "edgeId",
  fields: {
    siteId: f.ref({ de: "Anlage", en: "Site" }, "sites", { required: true, list: true, filter: "in" }),
    edgeId: f.pattern({ de: "Edge-ID", en: "Edge id" }, EDGE_ID, "the edge's id (its certificate's CN)", {
      required: true,
      list: true,
      sort: true,
      filter: "in",
    }),
    name: f.text({ de: "Bezeichnung", en: "Name" }, 200, { nullable: true, list: true }),
    notes: f.longtext({ de: "Notizen", en: "Notes" }, 4000, { nullable: true }),
  },
});

/** Devices installed at a site; `edgeId` + `deviceId` link one to its telemetry. */
export const devices = defineEntity({
  name: "devices",
  table: "erp.devices",
  label: { de: "Gerät", en: "Device" },
  plural: { de: "Geräte", en: "Devices" },
  titleField: "serialNumber",
  permissions: { read: "sites:read", write: "sites:write" },
  deletable: true,
  defaultSort: "createdAt",
  fields: {
    siteId: f.ref({ de: "Anlage", en: "Site" }, "sites", { required: true, list: true, filter: "in" }),
    kind: f.enum(
      { de: "Art", en: "Kind" },
      [
        { value: "inverter", label: { de: "Wechselrichter", en: "Inverter" } },
        { value: "meter", label: { de: "Zähler", en: "Meter" } },
        { value: "battery", label: { de: "Batteriespeicher", en: "Battery" } },
        { value: "wallbox", label: { de: "Wallbox", en: "Wallbox" } },
        { value: "heat_pump", label: { de: "Wärmepumpe", en: "Heat pump" } },
        { value: "other", label: { de: "Sonstiges", en: "Other" } },
      ],
      { required: true, list: true, filter: "in" },
    ),
    manufacturer: f.text({ de: "Hersteller", en: "Manufacturer" }, 100, { nullable: true, list: true }),
    model: f.text({ de: "Modell", en: "Model" }, 100, { nullable: true, list: true, search: true }),
    serialNumber: f.text({ de: "Seriennummer", en: "Serial number" }, 100, {
      nullable: true,
      list: true,
      search: true,
      filter: "in",
    }),
    firmware: f.text({ de: "Firmware", en: "Firmware" }, 100, { nullable: true }),
    warrantyEnd: f.date({ de: "Garantie bis", en: "Warranty end" }, { nullable: true, filter: "range" }),
    edgeId: f.pattern({ de: "Edge-ID", en: "Edge id" }, EDGE_ID, "edge reporting this device's telemetry", {
      nullable: true,
      filter: "in",
    }),
    deviceId: f.text({ de: "Telemetrie-Geräte-ID", en: "Telemetry device id" }, 100, { nullable: true }),
    notes: f.longtext({ de: "Notizen", en: "Notes" }, 4000, { nullable: true }),
  },
  constraints: {
    devices_link_complete: { field: "deviceId", message: "edge id and telemetry device id go together" },
    devices_one_per_telemetry_device: {
      field: "deviceId",
      message: "another device is linked to this telemetry device",
    },
  },
});

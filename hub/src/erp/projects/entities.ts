import { defineEntity } from "../../platform/resources/entity.js";
import { f } from "../../platform/resources/fields.js";
import { loadProjectDetail, projectDetailSchema } from "./detail.js";

const STATES = [
  ["lead", "Anfrage", "Lead"],
  ["quoted", "Angebot", "Quoted"],
  ["ordered", "Beauftragt", "Ordered"],
  ["scheduled", "Eingeplant", "Scheduled"],
  ["installed", "Installiert", "Installed"],
  ["commissioned", "In Betrieb", "Commissioned"],
  ["invoiced", "Abgerechnet", "Invoiced"],
  ["closed", "Abgeschlossen", "Closed"],
  ["cancelled", "Storniert", "Cancelled"],
  ["rework", "Nacharbeit", "Rework"],
] as const;

/**
 * Projects (installation, extension, maintenance) move through
 * lead → quoted → ordered → scheduled → installed → commissioned → invoiced → closed; a project
 * can be cancelled until it is installed, and an installed or commissioned one can need rework,
 * after which it is installed again. Invoicing is accounting's step.
 */
export const projects = defineEntity({
  name: "projects",
  table: "erp.projects",
  label: { de: "Projekt", en: "Project" },
  plural: { de: "Projekte", en: "Projects" },
  titleField: "title",
  permissions: { read: "projects:read", write: "projects:write" },
  deletable: false,
  defaultSort: "-createdAt",
  fields: {
    number: f.text({ de: "Projektnummer", en: "Project number" }, 20, {
      readOnly: true,
      list: true,
      sort: true,
      search: true,
    }),
    title: f.text({ de: "Titel", en: "Title" }, 200, { required: true, list: true, sort: true, search: true }),
    customerId: f.ref({ de: "Kunde", en: "Customer" }, "customers", { required: true, list: true, filter: "in" }),
    siteId: f.ref({ de: "Anlage", en: "Site" }, "sites", { nullable: true, filter: "in" }),
    kind: f.enum(
      { de: "Art", en: "Kind" },
      [
        { value: "installation", label: { de: "Neuanlage", en: "Installation" } },
        { value: "extension", label: { de: "Erweiterung", en: "Extension" } },
        { value: "maintenance", label: { de: "Wartung", en: "Maintenance" } },
      ],
      { required: true, list: true, filter: "in" },
    ),
    status: f.enum(
      { de: "Status", en: "Status" },
      STATES.map(([value, de, en]) => ({ value, label: { de, en } })),
      { readOnly: true, list: true, filter: "in", sort: true },
    ),
    budgetCents: f.cents({ de: "Budget", en: "Budget" }, { nullable: true }),
    plannedHours: f.decimal(
      { de: "Geplante Stunden", en: "Planned hours" },
      { minimum: 0, maximum: 999_999 },
      {
        nullable: true,
      },
    ),
    startDate: f.date({ de: "Beginn", en: "Start" }, { nullable: true, list: true, filter: "range" }),
    dueDate: f.date({ de: "Fällig", en: "Due" }, { nullable: true, filter: "range" }),
    notes: f.longtext({ de: "Notizen", en: "Notes" }, 4000, { nullable: true }),
  },
  detail: { schema: projectDetailSchema, load: loadProjectDetail },
  workflow: {
    field: "status",
    initial: "lead",
    transitions: [
      { from: ["lead"], to: "quoted", permission: "projects:write" },
      { from: ["quoted"], to: "ordered", permission: "projects:write" },
      { from: ["ordered"], to: "scheduled", permission: "projects:write" },
      { from: ["scheduled", "rework"], to: "installed", permission: "projects:write" },
      { from: ["installed"], to: "commissioned", permission: "projects:write" },
      { from: ["installed", "commissioned"], to: "rework", permission: "projects:write" },
      { from: ["commissioned"], to: "invoiced", permission: "billing:write" },
      { from: ["invoiced"], to: "closed", permission: "projects:write" },
      { from: ["lead", "quoted", "ordered", "scheduled"], to: "cancelled", permission: "projects:write" },
    ],
  },
});

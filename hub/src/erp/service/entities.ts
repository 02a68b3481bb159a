import { defineEntity } from "../../platform/resources/entity.js";
import { f } from "../../platform/resources/fields.js";

const STATES = [
  ["new", "Neu", "New"],
  ["assigned", "Zugewiesen", "Assigned"],
  ["in_progress", "In Arbeit", "In progress"],
  ["waiting", "Wartet", "Waiting"],
  ["resolved", "Gelöst", "Resolved"],
  ["closed", "Geschlossen", "Closed"],
  ["cancelled", "Storniert", "Cancelled"],
] as const;

/**
 * Service tickets for a site or a device, opened by the office or by the hub itself (a device
 * fault, an edge or device gone silent: `source` and `cause`, at most one open ticket per cause).
 * The SLA due time follows the priority unless given. Only people close tickets.
 */
export const tickets = defineEntity({
  name: "tickets",
  table: "erp.tickets",
  label: { de: "Ticket", en: "Ticket" },
  plural: { de: "Tickets", en: "Tickets" },
  titleField: "title",
  permissions: { read: "tickets:read", write: "tickets:write" },
  deletable: false,
  defaultSort: "-createdAt",
  fields: {
    number: f.text({ de: "Ticketnummer", en: "Ticket number" }, 20, { readOnly: true, list: true, search: true }),
    title: f.text({ de: "Titel", en: "Title" }, 200, { required: true, list: true, sort: true, search: true }),
    siteId: f.ref({ de: "Anlage", en: "Site" }, "sites", { nullable: true, list: true, filter: "in" }),
    deviceId: f.ref({ de: "Gerät", en: "Device" }, "devices", { nullable: true, filter: "in" }),
    description: f.longtext({ de: "Beschreibung", en: "Description" }, 8000, { nullable: true }),
    priority: f.enum(
      { de: "Priorität", en: "Priority" },
      [
        { value: "low", label: { de: "Niedrig", en: "Low" } },
        { value: "normal", label: { de: "Normal", en: "Normal" } },
        { value: "high", label: { de: "Hoch", en: "High" } },
        { value: "critical", label: { de: "Kritisch", en: "Critical" } },
      ],
      { list: true, filter: "in", sort: true },
    ),
    slaDueAt: f.timestamp({ de: "SLA fällig", en: "SLA due" }, { nullable: true, list: true, filter: "range" }),
    assigneeId: f.ref({ de: "Zuständig", en: "Assignee" }, "users", { nullable: true, list: true, filter: "in" }),
    status: f.enum(
      { de: "Status", en: "Status" },
      STATES.map(([value, de, en]) => ({ value, label: { de, en } })),
      { readOnly: true, list: true, filter: "in", sort: true },
    ),
    source: f.enum(
      { de: "Quelle", en: "Source" },
      [
        { value: "manual", label: { de: "Manuell", en: "Manual" } },
        { value: "device_fault", label: { de: "Gerätestörung", en: "Device fault" } },
        { value: "silence", label: { de: "Keine Daten", en: "Silence" } },
        { value: "order", label: { de: "Auftrag", en: "Order" } },
      ],
      { readOnly: true, list: true, filter: "in" },
    ),
    cause: f.text({ de: "Ursache", en: "Cause" }, 300, { readOnly: true, nullable: true }),
    occurrences: f.integer({ de: "Vorkommen", en: "Occurrences" }, { minimum: 1 }, { readOnly: true }),
    lastOccurredAt: f.timestamp({ de: "Zuletzt aufgetreten", en: "Last occurred" }, { readOnly: true, nullable: true }),
    recoveredAt: f.timestamp(
      { de: "Behoben gemeldet", en: "Recovered" },
      { readOnly: true, nullable: true, list: true },
    ),
  },
  workflow: {
    field: "status",
    initial: "new",
    transitions: [
      { from: ["new"], to: "assigned", permission: "tickets:write" },
      { from: ["new", "assigned", "waiting", "resolved"], to: "in_progress", permission: "tickets:write" },
      { from: ["in_progress"], to: "waiting", permission: "tickets:write" },
      { from: ["new", "assigned", "in_progress", "waiting"], to: "resolved", permission: "tickets:write" },
      { from: ["resolved"], to: "closed", permission: "tickets:write" },
      { from: ["new", "assigned"], to: "cancelled", permission: "tickets:write" },
    ],
  },
});

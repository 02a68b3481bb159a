import { defineEntity } from "../../platform/resources/entity.js";
import { f } from "../../platform/resources/fields.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Hours worked by a user on a project or a ticket. A booking in a closed month cannot be
 * created, changed or deleted by anyone (the database refuses it; the attempt is audited); a
 * correction is a counter-booking (negative hours naming the booking it corrects) in an open month.
 */
export const timeBookings = defineEntity({
  name: "time-bookings",
  table: "erp.time_bookings",
  label: { de: "Zeitbuchung", en: "Time booking" },
  plural: { de: "Zeitbuchungen", en: "Time bookings" },
  titleField: "workDate",
  permissions: { read: "time:read", write: "time:write" },
  deletable: true,
  defaultSort: "-workDate",
  fields: {
    userId: f.ref({ de: "Mitarbeiter", en: "User" }, "users", {
      list: true,
      filter: "in",
      help: { de: "ohne Angabe: wer bucht", en: "default: the one booking" },
    }),
    projectId: f.ref({ de: "Projekt", en: "Project" }, "projects", { nullable: true, list: true, filter: "in" }),
    ticketId: f.ref({ de: "Ticket", en: "Ticket" }, "tickets", { nullable: true, list: true, filter: "in" }),
    workDate: f.date({ de: "Datum", en: "Date" }, { required: true, list: true, sort: true, filter: "range" }),
    hours: f.decimal({ de: "Stunden", en: "Hours" }, { minimum: -24, maximum: 24 }, { required: true, list: true }),
    description: f.longtext({ de: "Tätigkeit", en: "Work done" }, 2000, { nullable: true, list: true }),
    correctsId: f.ref({ de: "Korrektur von", en: "Corrects" }, "time-bookings", { nullable: true }),
  },
  constraints: {
    period_closed: {
      field: "workDate",
      code: "HUB_ERR_PERIOD_CLOSED",
      message: "this month is closed: book a correction in an open month",
    },
    time_bookings_one_target: { field: "projectId", message: "a booking is on a project or on a ticket (one of them)" },
    time_bookings_negative_only_as_correction: {
      field: "hours",
      message: "negative hours only as a correction (correctsId)",
    },
    time_bookings_hours_check: { field: "hours", message: "between -24 and 24, not 0" },
  },
  auditRefusals: ["HUB_ERR_PERIOD_CLOSED"],
  hooks: {
    defaults: (principal) => (principal && UUID.test(principal.id) ? { userId: principal.id } : {}),
  },
});

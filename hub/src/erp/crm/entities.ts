import { defineEntity } from "../../platform/resources/entity.js";
import { f } from "../../platform/resources/fields.js";

const address = {
  street: f.text({ de: "Straße", en: "Street" }, 200, { nullable: true }),
  postalCode: f.text({ de: "PLZ", en: "Postal code" }, 20, { nullable: true }),
  city: f.text({ de: "Ort", en: "City" }, 100, { nullable: true, list: true, search: true }),
  country: f.pattern({ de: "Land", en: "Country" }, "^[A-Z]{2}$", "ISO 3166-1 alpha-2, default DE"),
};

/** A consent flag with the time the database stamped and the source the office names. */
const consent = (de: string, en: string) => ({
  flag: f.boolean({ de, en }),
  at: f.timestamp({ de: `${de}: Zeitpunkt`, en: `${en}: time` }, { nullable: true, readOnly: true }),
  source: f.text({ de: `${de}: Quelle`, en: `${en}: source` }, 200, {
    nullable: true,
    help: { de: "Pflicht, wenn die Einwilligung erteilt ist", en: "required when consent is given" },
  }),
});
const newsletter = consent("Einwilligung Newsletter", "Newsletter consent");
const monitoring = consent("Einwilligung Anlagenüberwachung", "Monitoring consent");

/** Customers: private households and businesses, with billing address, VAT id and GDPR consents. */
export const customers = defineEntity({
  name: "customers",
  table: "erp.customers",
  label: { de: "Kunde", en: "Customer" },
  plural: { de: "Kunden", en: "Customers" },
  titleField: "name",
  permissions: { read: "customers:read", write: "customers:write" },
  deletable: true,
  defaultSort: "createdAt",
  fields: {
    number: f.text({ de: "Kundennummer", en: "Customer number" }, 20, { readOnly: true, list: true, search: true }),
    name: f.text({ de: "Name", en: "Name" }, 200, { required: true, list: true, sort: true, search: true }),
    kind: f.enum(
      { de: "Art", en: "Kind" },
      [
        { value: "private", label: { de: "Privat", en: "Private" } },
        { value: "business", label: { de: "Gewerbe", en: "Business" } },
      ],
      { list: true, filter: "in" },
    ),
    email: f.email({ de: "E-Mail", en: "E-mail" }, { nullable: true, list: true, search: true }),
    phone: f.text({ de: "Telefon", en: "Phone" }, 50, { nullable: true }),
    ...address,
    vatId: f.text({ de: "USt-IdNr.", en: "VAT id" }, 30, { nullable: true }),
    leitwegId: f.pattern(
      { de: "Leitweg-ID (öffentliche Auftraggeber)", en: "Leitweg-ID (public buyers)" },
      "^[0-9]{2,12}(-[0-9A-Za-z]{1,30})?-[0-9]{2}$",
      "the buyer reference of XRechnung invoices to public bodies, e.g. 04011000-1234512345-06",
      { nullable: true },
    ),
    notes: f.longtext({ de: "Notizen", en: "Notes" }, 4000, { nullable: true }),
    consentNewsletter: newsletter.flag,
    consentNewsletterAt: newsletter.at,
    consentNewsletterSource: newsletter.source,
    consentMonitoring: monitoring.flag,
    consentMonitoringAt: monitoring.at,
    consentMonitoringSource: monitoring.source,
  },
  constraints: {
    customers_consent_newsletter_source: {
      field: "consentNewsletterSource",
      message: "name where the consent was given",
    },
    customers_consent_monitoring_source: {
      field: "consentMonitoringSource",
      message: "name where the consent was given",
    },
  },
});

/** People at a customer; at most one primary contact each. */
export const contacts = defineEntity({
  name: "contacts",
  table: "erp.contacts",
  label: { de: "Ansprechpartner", en: "Contact" },
  plural: { de: "Ansprechpartner", en: "Contacts" },
  titleField: "lastName",
  permissions: { read: "customers:read", write: "customers:write" },
  deletable: true,
  defaultSort: "lastName",
  fields: {
    customerId: f.ref({ de: "Kunde", en: "Customer" }, "customers", { required: true, list: true, filter: "in" }),
    firstName: f.text({ de: "Vorname", en: "First name" }, 100, { nullable: true, list: true }),
    lastName: f.text({ de: "Nachname", en: "Last name" }, 100, {
      required: true,
      list: true,
      sort: true,
      search: true,
    }),
    position: f.text({ de: "Funktion", en: "Position" }, 100, { nullable: true }),
    email: f.email({ de: "E-Mail", en: "E-mail" }, { nullable: true, list: true, search: true }),
    phone: f.text({ de: "Telefon", en: "Phone" }, 50, { nullable: true, list: true }),
    mobile: f.text({ de: "Mobil", en: "Mobile" }, 50, { nullable: true }),
    isPrimary: f.boolean({ de: "Hauptansprechpartner", en: "Primary contact" }, { list: true }),
    notes: f.longtext({ de: "Notizen", en: "Notes" }, 4000, { nullable: true }),
  },
  constraints: {
    contacts_one_primary: { field: "isPrimary", message: "the customer has a primary contact already" },
  },
});

import { type Static, Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import type pg from "pg";
import { ApprovalHeld } from "../../approvals/schemas.js";
import {
  type ApprovalRequest,
  heldAnswer,
  registerApprovalExecutor,
  requestApproval,
  requiresApproval,
} from "../../approvals/service.js";
import type { Queryable } from "../../db/queryable.js";
import { fieldError, hubError } from "../../errors.js";
import { txOf } from "../../platform/idempotency.js";
import { expectedVersion, sendVersion } from "../../platform/locking.js";
import type { Principal } from "../../platform/principal.js";
import { schemasOf } from "../../platform/resources/entity.js";
import { findRecord, insertRecord, lockRecord } from "../../platform/resources/repository.js";
import { type CreditRequest, creditInvoice, invoiceHours } from "./credit-notes.js";
import { datevExtf } from "./datev.js";
import { finaliseDocument, loadDocument } from "./documents.js";
import { invoiceLines, invoices, payments } from "./entities.js";
import { datevPeriod, openItems } from "./ledger.js";
import { renderInvoicePdf } from "./pdf.js";
import { datevSettingsOf, loadCompanySettings } from "./settings.js";
import { toXRechnung, XRechnungDataError } from "./xrechnung.js";

const Params = Type.Object({ id: Type.String({ format: "uuid" }) });
const Invoice = Type.Object(schemasOf(invoices).item.properties);
const Day = Type.String({ format: "date" });

const CancelBody = Type.Object(
  {
    lines: Type.Optional(
      Type.Array(
        Type.Object(
          {
            lineId: Type.String({ format: "uuid" }),
            quantity: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1e9 })),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, maxItems: 9999, description: "lines to credit (default: everything not credited yet)" },
      ),
    ),
    issueDate: Type.Optional(Day),
    notes: Type.Optional(
      Type.String({ minLength: 1, maxLength: 4000, description: "why, printed on the credit note" }),
    ),
  },
  { additionalProperties: false },
);

const HoursBody = Type.Object(
  {
    position: Type.Integer({ minimum: 1, maximum: 9999 }),
    description: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
    hourlyRateCents: Type.Integer({ minimum: 0, maximum: 1e9 }),
    vatCategory: Type.Union([Type.Literal("S"), Type.Literal("Z"), Type.Literal("E"), Type.Literal("AE")]),
    vatRate: Type.Number({ minimum: 0, maximum: 100 }),
    exemptionReason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
    to: Type.Optional(Type.String({ format: "date", description: "bookings up to this day (default: all)" })),
  },
  { additionalProperties: false },
);

const PaymentBody = Type.Omit(schemasOf(payments).create, ["invoiceId"], { additionalProperties: false });

const OpenItemsQuery = Type.Object(
  {
    customerId: Type.Optional(Type.String({ format: "uuid" })),
    overdue: Type.Optional(Type.Boolean({ description: "only items past their due date (as of asOf)" })),
    asOf: Type.Optional(Type.String({ format: "date", description: "default: today" })),
    limit: Type.Integer({ minimum: 1, maximum: 5000, default: 1000 }),
  },
  { additionalProperties: false },
);
const OpenItem = Type.Object({
  invoiceId: Type.String({ format: "uuid" }),
  number: Type.String(),
  customerId: Type.String({ format: "uuid" }),
  customerNumber: Type.String(),
  customerName: Type.String(),
  issueDate: Type.String(),
  dueDate: Type.String(),
  grossCents: Type.Integer(),
  creditedCents: Type.Integer(),
  paidCents: Type.Integer(),
  openCents: Type.Integer(),
  daysOverdue: Type.Integer({ description: "0 when not yet due" }),
});

const DatevQuery = Type.Object({ from: Day, to: Day }, { additionalProperties: false });

/** Approval operations of billing (policy rows in `ops.approval_policies`). */
const FINALISE = "invoice.finalise";
const CANCEL = "invoice.cancel";

/**
 * A draft's totals as finalisation computes them (each line's net; VAT per category and rate on
 * the group's sum, rounded to the cent; see erp.finalise_invoice) and a digest of its lines: an
 * approved finalisation finalises exactly what was approved (lines do not change the draft's version).
 */
async function draftTotals(db: Queryable, invoiceId: string) {
  const { rows } = await db.query(
    `SELECT coalesce(sum(g.net), 0)::bigint AS net_cents, coalesce(sum(g.tax), 0)::bigint AS vat_cents,
       (SELECT encode(sha256(convert_to(coalesce(jsonb_agg(to_jsonb(l) ORDER BY l.position, l.id)::text, ''), 'UTF8')), 'hex')
        FROM erp.invoice_lines l WHERE l.invoice_id = $1) AS lines_digest
     FROM (SELECT sum(line_net_cents) AS net, round(sum(line_net_cents) * vat_rate / 100) AS tax
           FROM erp.invoice_lines WHERE invoice_id = $1 GROUP BY vat_category, vat_rate) g`,
    [invoiceId],
  );
  const r = rows[0] as { net_cents: string; vat_cents: string; lines_digest: string };
  const netCents = Number(r.net_cents);
  const vatCents = Number(r.vat_cents);
  return { netCents, vatCents, grossCents: netCents + vatCents, linesDigest: r.lines_digest };
}

/** Finalises a draft whose finalisation was approved, if it is still the draft that was approved. */
async function finaliseApproved(tx: Queryable, { subject, payload }: Pick<ApprovalRequest, "subject" | "payload">) {
  const draft = await lockRecord(tx, invoices, subject.id, null);
  const totals = await draftTotals(tx, subject.id);
  if (draft.version !== payload.version || totals.linesDigest !== payload.linesDigest) {
    throw hubError(
      "HUB_ERR_APPROVAL_STALE",
      `invoice ${subject.id} changed since its finalisation was requested (now ${totals.grossCents} cents gross): reject the request and finalise again`,
    );
  }
  const document = await finaliseDocument(tx, subject.id);
  return { invoiceId: subject.id, number: document.number, grossCents: document.grossCents };
}

/** Cancels an invoice whose cancellation was approved; the result names the credit note. */
async function cancelApproved(tx: Queryable, { subject, payload }: Pick<ApprovalRequest, "subject" | "payload">) {
  const creditNoteId = await creditInvoice(tx, subject.id, payload as CreditRequest);
  const note = await findRecord(tx, invoices, creditNoteId);
  return { creditNoteId, number: note?.number ?? null, grossCents: note?.grossCents ?? null };
}

/**
 * Billing beyond the derived routes: finalising a draft (number, totals, the document kept as
 * finalised), cancelling by credit note (whole or by line), payments, open items, the documents
 * (PDF, XRechnung) and the DATEV export. Finalising above the policy's amount and cancelling
 * wait for a second person's approval (202 with the request); approving carries them out.
 */
export const billingRoutes: FastifyPluginAsync<{ pool: pg.Pool }> = async (app, { pool }) => {
  registerApprovalExecutor(FINALISE, finaliseApproved, { rehearse: true });
  registerApprovalExecutor(CANCEL, cancelApproved, { rehearse: true });

  app.post(
    "/invoices/:id/finalise",
    {
      config: { permission: "billing:write", idempotent: true, auditTags: ["invoices", "finalise"] },
      schema: {
        summary:
          "Finalise a draft invoice: number, totals, frozen for good (202: above the approval amount, held for a second person's approval)",
        tags: ["invoices"],
        params: Params,
        response: { 200: Invoice, 202: ApprovalHeld },
      },
    },
    async (req, reply) => {
      const { id } = req.params as Static<typeof Params>;
      const tx = txOf(req);
      const draft = await lockRecord(tx, invoices, id, expectedVersion(req));
      const totals = draft.status === "draft" ? await draftTotals(tx, id) : undefined;
      if (totals && (await requiresApproval(tx, FINALISE, { amountCents: totals.grossCents }))) {
        const approval = await requestApproval(tx, {
          operation: FINALISE,
          subject: { entity: "invoices", id },
          payload: { version: draft.version, linesDigest: totals.linesDigest },
          facts: {
            amountCents: totals.grossCents,
            netCents: totals.netCents,
            vatCents: totals.vatCents,
            currency: "EUR",
          },
          principal: req.principal as Principal,
        });
        const held = heldAnswer(approval);
        return reply.code(202).header("location", held.location).send(held.body);
      }
      await finaliseDocument(tx, id);
      const record = await findRecord(tx, invoices, id);
      sendVersion(reply, record?.version ?? 0);
      return record;
    },
  );

  app.post(
    "/invoices/:id/cancel",
    {
      config: { permission: "billing:write", idempotent: true, auditTags: ["invoices", "cancel"] },
      schema: {
        summary:
          "Cancel a finalised invoice by a credit note (381): in full, or the lines and quantities named (202: held for a second person's approval)",
        tags: ["invoices"],
        params: Params,
        body: CancelBody,
        response: { 201: Invoice, 202: ApprovalHeld },
      },
    },
    async (req, reply) => {
      const { id } = req.params as Static<typeof Params>;
      const tx = txOf(req);
      const body = req.body as Static<typeof CancelBody>;
      if (await requiresApproval(tx, CANCEL)) {
        const invoice = await findRecord(tx, invoices, id);
        if (!invoice) throw hubError("HUB_ERR_NOT_FOUND", `invoice ${id} does not exist`);
        const approval = await requestApproval(tx, {
          operation: CANCEL,
          subject: { entity: "invoices", id },
          payload: body,
          facts: { number: invoice.number, amountCents: invoice.grossCents, currency: "EUR" },
          principal: req.principal as Principal,
        });
        const held = heldAnswer(approval);
        return reply.code(202).header("location", held.location).send(held.body);
      }
      const creditNoteId = await creditInvoice(tx, id, body);
      const record = await findRecord(tx, invoices, creditNoteId);
      sendVersion(reply, record?.version ?? 0);
      reply.header("location", `${req.url.replace(/\/invoices\/.*$/, "/invoices")}/${creditNoteId}`);
      return reply.code(201).send(record);
    },
  );

  app.post(
    "/invoices/:id/hours",
    {
      config: { permission: "billing:write", idempotent: true, auditTags: ["invoice-lines", "hours"] },
      schema: {
        summary: "Add one hours line to a draft from its project's time bookings not invoiced yet",
        tags: ["invoice-lines"],
        params: Params,
        body: HoursBody,
        response: { 201: Type.Object(schemasOf(invoiceLines).item.properties) },
      },
    },
    async (req, reply) => {
      const { id } = req.params as Static<typeof Params>;
      const tx = txOf(req);
      const line = await invoiceHours(tx, id, req.body as Static<typeof HoursBody>);
      sendVersion(reply, line.version);
      return reply.code(201).send(line);
    },
  );

  app.post(
    "/invoices/:id/payments",
    {
      config: { permission: "billing:write", idempotent: true, auditTags: ["payments"] },
      schema: {
        summary: "Book a payment of the invoice (or the reversal of one); never more than is open",
        tags: ["payments"],
        params: Params,
        body: PaymentBody,
        response: { 201: Type.Object(schemasOf(payments).item.properties) },
      },
    },
    async (req, reply) => {
      const { id } = req.params as Static<typeof Params>;
      const record = await insertRecord(txOf(req), payments, { ...(req.body as object), invoiceId: id });
      sendVersion(reply, record.version);
      reply.header("location", `${req.url.replace(/\/invoices\/.*$/, "/payments")}/${record.id}`);
      return reply.code(201).send(record);
    },
  );

  app.get(
    "/open-items",
    {
      config: { permission: "billing:read" },
      schema: {
        summary: "Open items: finalised invoices with an amount open, by due date (per customer, or overdue only)",
        tags: ["payments"],
        querystring: OpenItemsQuery,
        response: { 200: Type.Object({ items: Type.Array(OpenItem), totalOpenCents: Type.Integer() }) },
      },
    },
    async (req) => openItems(pool, req.query as Static<typeof OpenItemsQuery>),
  );

  app.get(
    "/invoices/:id/pdf",
    {
      config: { permission: "billing:read" },
      schema: { summary: "The finalised invoice or credit note as PDF", tags: ["invoices"], params: Params },
    },
    async (req, reply) => {
      const doc = await loadDocument(pool, (req.params as Static<typeof Params>).id);
      const pdf = await renderInvoicePdf(doc);
      return reply
        .type("application/pdf")
        .header("content-disposition", `inline; filename="${doc.number}.pdf"`)
        .send(pdf);
    },
  );

  app.get(
    "/invoices/:id/xrechnung",
    {
      config: { permission: "billing:read" },
      schema: {
        summary: "The finalised invoice or credit note as XRechnung 3.0 (UBL 2.1 Invoice or CreditNote)",
        tags: ["invoices"],
        params: Params,
      },
    },
    async (req, reply) => {
      const doc = await loadDocument(pool, (req.params as Static<typeof Params>).id);
      let xml: string;
      try {
        xml = toXRechnung(doc);
      } catch (err) {
        if (!(err instanceof XRechnungDataError)) throw err;
        const pointer = (field: string) => `/${field.replace(/\[(\d+)\]/g, ".$1").replaceAll(".", "/")}`;
        throw fieldError(
          "HUB_ERR_XRECHNUNG_DATA",
          err.problems.map((p) => ({ path: pointer(p.field), message: p.problem })),
        );
      }
      return reply
        .type("application/xml; charset=utf-8")
        .header("content-disposition", `attachment; filename="${doc.number}.xml"`)
        .send(xml);
    },
  );

  app.get(
    "/exports/datev",
    {
      config: { permission: "billing:read" },
      schema: {
        summary: "DATEV EXTF Buchungsstapel (700/21) of the invoices, credit notes and payments of a period",
        tags: ["exports"],
        querystring: DatevQuery,
      },
    },
    async (req, reply) => {
      const { from, to } = req.query as Static<typeof DatevQuery>;
      if (from > to) throw fieldError("HUB_ERR_VALIDATION", [{ path: "/to", message: "lies before from" }]);
      const settings = datevSettingsOf(await loadCompanySettings(pool), req.principal?.name);
      const period = await datevPeriod(pool, from, to);
      const file = datevExtf({ from, to, createdAt: new Date(), settings, ...period });
      return reply
        .type("text/csv; charset=windows-1252")
        .header("content-disposition", `attachment; filename="${file.fileName}"`)
        .send(file.content);
    },
  );
};

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import type pg from "pg";
import { txOf } from "../platform/idempotency.js";
import {
  getErasure,
  getRun,
  listErasures,
  listHolds,
  listRuns,
  placeHold,
  releaseHold,
  requestErasure,
} from "./service.js";

const Time = Type.String({ format: "date-time" });
const Uuid = Type.String({ format: "uuid" });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const RetainedTable = Type.Union(
  ["erp.invoices", "erp.payments", "erp.quotes", "erp.time_bookings", "erp.tickets"].map((t) => Type.Literal(t)),
  { description: "a table whose records are removed after their retention period" },
);

const Run = Type.Object({
  id: Type.Integer(),
  startedAt: Time,
  finishedAt: Time,
  asOf: Time,
  asOfDay: Type.String({ format: "date" }),
  runBy: Type.String(),
  report: Type.Unknown({ description: "per table: archived, deleted, kept (period, held, referenced) and why" }),
});

const Hold = Type.Object({
  id: Uuid,
  table: Nullable(Type.String()),
  recordId: Nullable(Uuid),
  customerId: Nullable(Uuid),
  reason: Type.String(),
  placedBy: Type.String(),
  placedAt: Time,
  releasedAt: Nullable(Time),
  releasedBy: Nullable(Type.String()),
  releaseReason: Nullable(Type.String()),
});

const Reason = Type.String({ minLength: 1, maxLength: 1000 });
const HoldBody = Type.Union([
  Type.Object({ table: RetainedTable, recordId: Uuid, reason: Reason }, { additionalProperties: false }),
  Type.Object({ customerId: Uuid, reason: Reason }, { additionalProperties: false }),
]);
type HoldBody = Static<typeof HoldBody>;

const Erasure = Type.Object({
  customerId: Uuid,
  customerNumber: Type.String(),
  status: Type.Union([Type.Literal("erased"), Type.Literal("restricted")]),
  asOfDay: Type.String({ format: "date" }),
  restrictedUntil: Nullable(Type.String({ format: "date" })),
  held: Type.Boolean(),
  pseudonymised: Type.Unknown(),
  deleted: Type.Unknown(),
  kept: Type.Unknown(),
  auditTrail: Type.String(),
  changed: Type.Boolean({ description: "false when the request found nothing new to do" }),
});

const ErasureRequest = Type.Object({
  customerId: Uuid,
  requestedAt: Time,
  requestedBy: Type.String(),
  status: Type.Union([Type.Literal("erased"), Type.Literal("restricted")]),
  restrictedUntil: Nullable(Type.String({ format: "date" })),
  held: Type.Boolean(),
  evaluatedAt: Time,
  completedAt: Nullable(Time),
  report: Type.Unknown(),
});

const Limit = Type.Integer({ minimum: 1, maximum: 500, default: 100 });
const tags = ["retention"];
const actorOf = (req: FastifyRequest) => req.principal?.id ?? "anonymous";

/** Options of the retention plugin: the hub's least-privilege pool. */
export interface RetentionRoutesOptions {
  pool: pg.Pool;
}

/**
 * Retention over HTTP: the runs' log (`retention:read`), legal holds — list, place, release;
 * never changed or removed — (`retention:read`, `retention:write`) and GDPR erasure requests
 * (`retention:read`, `retention:erase`). Runs themselves are the hub's scheduled job and the CLI's
 * (`npm run hub -- retention run`): the application role cannot run retention with a clock of its choice.
 */
export const retentionRoutes: FastifyPluginAsyncTypebox<RetentionRoutesOptions> = async (app, { pool }) => {
  app.get(
    "/retention/runs",
    {
      config: { permission: "retention:read" },
      schema: {
        summary: "Retention runs, newest first, with what each did",
        tags,
        querystring: Type.Object({ limit: Limit }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(Run) }) },
      },
    },
    async (req) => ({ items: await listRuns(pool, { limit: req.query.limit }) }),
  );
  app.get(
    "/retention/runs/:id",
    {
      config: { permission: "retention:read" },
      schema: {
        summary: "One retention run",
        tags,
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        response: { 200: Run },
      },
    },
    async (req) => getRun(pool, req.params.id),
  );
  app.get(
    "/retention/holds",
    {
      config: { permission: "retention:read" },
      schema: {
        summary: "Legal holds, newest first (active ones unless all=true)",
        tags,
        querystring: Type.Object(
          { all: Type.Boolean({ default: false }), customerId: Type.Optional(Uuid), limit: Limit },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(Hold) }) },
      },
    },
    async (req) => ({ items: await listHolds(pool, req.query) }),
  );
  app.post(
    "/retention/holds",
    {
      config: { permission: "retention:write", idempotent: true, auditTags: ["retention", "legal-hold"] },
      schema: {
        summary: "Place a legal hold on a record or on everything of a customer",
        tags,
        body: HoldBody,
        response: { 201: Hold },
      },
    },
    async (req, reply) => {
      const body = req.body as HoldBody;
      const subject =
        "customerId" in body ? { customerId: body.customerId } : { table: body.table, recordId: body.recordId };
      const hold = await placeHold(txOf(req), { ...subject, reason: body.reason, placedBy: actorOf(req) });
      reply.code(201).header("location", `${req.url}/${hold.id}`);
      return hold;
    },
  );
  app.post(
    "/retention/holds/:id/release",
    {
      config: { permission: "retention:write", idempotent: true, auditTags: ["retention", "legal-hold"] },
      schema: {
        summary: "Release a legal hold (once); the next run may remove what it kept",
        tags,
        params: Type.Object({ id: Uuid }),
        body: Type.Optional(Type.Object({ reason: Type.Optional(Reason) }, { additionalProperties: false })),
        response: { 200: Hold },
      },
    },
    async (req) =>
      releaseHold(txOf(req), { holdId: req.params.id, releasedBy: actorOf(req), reason: req.body?.reason }),
  );
  app.get(
    "/retention/erasures",
    {
      config: { permission: "retention:read" },
      schema: {
        summary: "GDPR erasure requests, newest first",
        tags,
        querystring: Type.Object(
          { status: Type.Optional(Type.Union([Type.Literal("erased"), Type.Literal("restricted")])), limit: Limit },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(ErasureRequest) }) },
      },
    },
    async (req) => ({ items: await listErasures(pool, req.query) }),
  );
  app.get(
    "/retention/erasures/:customerId",
    {
      config: { permission: "retention:read" },
      schema: {
        summary: "The erasure request of a customer",
        tags,
        params: Type.Object({ customerId: Uuid }),
        response: { 200: ErasureRequest },
      },
    },
    async (req) => getErasure(pool, req.params.customerId),
  );
  app.post(
    "/retention/erasures",
    {
      config: { permission: "retention:erase", idempotent: true, auditTags: ["retention", "gdpr-erasure"] },
      schema: {
        summary: "Request a customer's erasure (GDPR Art. 17): pseudonymises what no retention period or hold keeps",
        tags,
        body: Type.Object({ customerId: Uuid }, { additionalProperties: false }),
        response: { 200: Erasure },
      },
    },
    async (req) => requestErasure(txOf(req), { customerId: req.body.customerId, requestedBy: actorOf(req) }),
  );
};

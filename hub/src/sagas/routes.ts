import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type pg from "pg";
import { txOf } from "../platform/idempotency.js";
import { abortSaga, listSagas, retrySaga, sagaDetail } from "./queries.js";

const STATES = ["running", "compensating", "waiting", "completed", "compensated", "failed"] as const;
const Json = Type.Unknown();
const Saga = Type.Object({
  id: Type.String({ format: "uuid" }),
  type: Type.String(),
  version: Type.Integer(),
  key: Type.String(),
  state: Type.String({ description: STATES.join(", ") }),
  position: Type.Integer({ description: "running: the next step (0-based); compensating: the next to undo" }),
  input: Json,
  outputs: Type.Record(Type.String(), Json),
  error: Json,
  ownerId: Type.Union([Type.String({ format: "uuid" }), Type.Null()]),
  startedBy: Type.String(),
  createdAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time" }),
  endedAt: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
});
const StepRun = Type.Object({
  position: Type.Integer(),
  step: Type.String(),
  phase: Type.String({ description: "action, compensation" }),
  attempt: Type.Integer(),
  outcome: Type.String({ description: "succeeded, failed, retrying" }),
  error: Json,
  processId: Type.Union([Type.String({ format: "uuid" }), Type.Null()]),
  startedAt: Type.String({ format: "date-time" }),
  finishedAt: Type.String({ format: "date-time" }),
  ms: Type.Integer(),
});
const Params = Type.Object({ id: Type.String({ format: "uuid" }) });
const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.Union(STATES.map((s) => Type.Literal(s)))),
    type: Type.Optional(Type.String({ pattern: "^[a-z][a-z0-9-]{0,63}$" })),
    before: Type.Optional(Type.String({ format: "date-time", description: "createdAt of the last saga seen" })),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  },
  { additionalProperties: false },
);
const tags = ["sagas"];

/**
 * The sagas over HTTP: list by state and type, one with its step history and timings
 * (`sagas:read`); retry a failed one, abort a running one (`sagas:write`, Idempotency-Key; the
 * state change is in the audit trail with the caller).
 */
export const sagaRoutes: FastifyPluginAsyncTypebox<{ pool: pg.Pool }> = async (app, { pool }) => {
  app.get(
    "/sagas",
    {
      config: { permission: "sagas:read" },
      schema: {
        summary: "Sagas by state and type, newest first",
        tags,
        querystring: ListQuery,
        response: { 200: Type.Object({ items: Type.Array(Saga) }) },
      },
    },
    async (req) => ({ items: await listSagas(pool, req.query) }),
  );
  app.get(
    "/sagas/:id",
    {
      config: { permission: "sagas:read" },
      schema: {
        summary: "A saga with every attempt of its steps and compensations",
        tags,
        params: Params,
        response: { 200: Type.Object({ ...Saga.properties, steps: Type.Array(StepRun) }) },
      },
    },
    async (req) => sagaDetail(pool, req.params.id),
  );
  app.post(
    "/sagas/:id/retry",
    {
      config: { permission: "sagas:write", idempotent: true, auditTags: [...tags, "retry"] },
      schema: {
        summary: "Retry a failed saga: its compensations go on with fresh attempts",
        tags,
        params: Params,
        response: { 200: Saga },
      },
    },
    async (req) => {
      const tx = txOf(req);
      await retrySaga(tx, req.params.id);
      return sagaDetail(tx, req.params.id);
    },
  );
  app.post(
    "/sagas/:id/abort",
    {
      config: { permission: "sagas:write", idempotent: true, auditTags: [...tags, "abort"] },
      schema: {
        summary: "Abort a running saga: it compensates the steps it completed",
        tags,
        params: Params,
        response: { 200: Saga },
      },
    },
    async (req) => {
      const tx = txOf(req);
      await abortSaga(tx, req.params.id, req.principal?.name ?? "unknown");
      return sagaDetail(tx, req.params.id);
    },
  );
};

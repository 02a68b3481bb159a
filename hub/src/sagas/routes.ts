import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type pg from "pg";
import { rolesAllow } from "../auth/permissions.js";
import { fieldError, hubError } from "../errors.js";
import { txOf } from "../platform/idempotency.js";
import type { Principal } from "../platform/principal.js";
import type { SagaDefinition } from "./definition.js";
import { abortSaga, listSagas, retrySaga, sagaDetail } from "./queries.js";
import { startSaga } from "./repository.js";

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
const StartBody = Type.Object(
  {
    type: Type.String({ pattern: "^[a-z][a-z0-9-]{0,63}$" }),
    input: Json,
    key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description: "the saga's own key (default: the process's, e.g. the quote, else the Idempotency-Key)",
      }),
    ),
  },
  { additionalProperties: false },
);
const tags = ["sagas"];

/** The newest version of each process: what a start over the API runs. */
function newestByType(definitions: readonly SagaDefinition<never>[]) {
  const newest = new Map<string, SagaDefinition<never>>();
  for (const d of definitions) if ((newest.get(d.type)?.version ?? 0) < d.version) newest.set(d.type, d);
  return newest;
}

/**
 * The sagas over HTTP: list by state and type, one with its step history and timings
 * (`sagas:read`); retry a failed one, abort a running one (`sagas:write`, Idempotency-Key; the
 * state change is in the audit trail with the caller).
 */
export const sagaRoutes: FastifyPluginAsyncTypebox<{
  pool: pg.Pool;
  /** The processes that may be started (`POST /sagas`); none without. */
  definitions?: readonly SagaDefinition<never>[];
}> = async (app, { pool, definitions = [] }) => {
  const startable = newestByType(definitions);
  app.post(
    "/sagas",
    {
      config: { permission: "sagas:write", idempotent: true, auditTags: [...tags, "start"] },
      schema: {
        summary:
          "Start a business process (once per key: the same key again answers the saga it started, 200; other input for it is refused)",
        tags,
        body: StartBody,
        response: { 200: Saga, 201: Saga },
      },
    },
    async (req, reply) => {
      const { type, input, key } = req.body;
      const definition = startable.get(type);
      if (!definition) {
        throw fieldError("HUB_ERR_VALIDATION", [
          { path: "/type", message: `no such process; one of ${[...startable.keys()].join(", ") || "none"}` },
        ]);
      }
      const principal = req.principal as Principal;
      if (definition.startPermission && !rolesAllow(principal.roles, definition.startPermission)) {
        throw hubError("HUB_ERR_FORBIDDEN", `starting ${type} needs ${definition.startPermission}`);
      }
      if (definition.inputSchema && !Value.Check(definition.inputSchema, input)) {
        throw fieldError(
          "HUB_ERR_VALIDATION",
          [...Value.Errors(definition.inputSchema, input)].map((e) => ({
            path: `/input${e.path}`,
            message: e.message,
          })),
        );
      }
      const sagaKey = key ?? definition.keyOf?.(input as never) ?? req.headers["idempotency-key"];
      if (typeof sagaKey !== "string") {
        throw fieldError("HUB_ERR_VALIDATION", [
          { path: "/key", message: "a start needs a key (or an Idempotency-Key)" },
        ]);
      }
      const tx = txOf(req);
      const started = await startSaga(tx, {
        type,
        version: definition.version,
        key: sagaKey,
        input,
        startedBy: principal,
        deadlineMs: definition.deadlineMs,
      });
      reply.header("location", `${req.url.replace(/\/$/, "")}/${started.id}`);
      return reply.code(started.created ? 201 : 200).send(await sagaDetail(tx, started.id));
    },
  );
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
        description:
          "200: aborted, the saga compensates. 202: a step of the saga is in progress; the abort is requested, and the saga is aborted before its next step.",
        tags,
        params: Params,
        response: { 200: Saga, 202: Saga },
      },
    },
    async (req, reply) => {
      const tx = txOf(req);
      const outcome = await abortSaga(tx, req.params.id, req.principal?.name ?? "unknown");
      if (outcome === "requested") reply.code(202);
      return sagaDetail(tx, req.params.id);
    },
  );
};

import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsync, FastifyRequest } from "fastify";
import type pg from "pg";
import { appendRecord } from "../../audit/repository.js";
import { rolesAllow } from "../../auth/permissions.js";
import { hubError } from "../../errors.js";
import { inAuditedTransaction } from "../audit-context.js";
import { txOf } from "../idempotency.js";
import { expectedVersion, sendVersion } from "../locking.js";
import { type EntityDefinition, schemasOf } from "./entity.js";
import type { Field } from "./fields.js";
import * as repo from "./repository.js";
import { timelineRoutes } from "./timeline-routes.js";

/** Options of an entity's routes. */
export interface EntityRoutesOptions {
  definition: EntityDefinition;
  /** Reads go to the pool; writes to the request's transaction (unit of work). */
  pool: pg.Pool;
}

const writeHeaders = Type.Object({
  "if-match": Type.Optional(Type.String({ description: 'ETag of the version read, e.g. "3"' })),
  "idempotency-key": Type.Optional(Type.String({ description: "makes a retry safe: the first response is replayed" })),
  "audit-reason": Type.Optional(Type.String({ description: "why the change is made (audit trail)" })),
});

type Params = { id: string };

/**
 * The routes the kit derives from an entity declaration, under `/<name>`:
 * `GET /` (filter, sort, quick search, cursor pages), `GET /:id` (ETag), `POST /` (or 202 where a
 * hook holds the create back, e.g. for approval), `PATCH /:id`
 * (JSON merge patch, If-Match), `DELETE /:id` (If-Match; when deletable) and, with a workflow,
 * `POST /:id/transitions {to}` (If-Match; 409 naming the allowed states). Writes run in the
 * request's transaction with Idempotency-Key and the audit context; the table's trigger writes
 * the audit trail.
 */
export const entityRoutes: FastifyPluginAsync<EntityRoutesOptions> = async (app, { definition, pool }) => {
  const schemas = schemasOf(definition);
  const { read, write } = definition.permissions;
  const tags = [definition.name];
  const base = `/${definition.name}`;
  const noun = definition.label.en.toLowerCase();
  app.addSchema(schemas.item);
  if (definition.auditRefusals?.length) {
    const audited = new Set<string>(definition.auditRefusals);
    app.addHook("onError", async (req, _reply, err) => {
      if (req.method === "GET" || !audited.has((err as { code?: string }).code ?? "")) return;
      const [schema, table] = definition.table.split(".") as [string, string];
      const ctx = {
        actorId: req.principal?.id ?? "anonymous",
        actorName: req.principal?.name,
        requestId: req.id,
        reason: [req.headers["audit-reason"]].flat()[0],
        tags: [...tags, "refused"],
      };
      await inAuditedTransaction(pool, ctx, (client) =>
        appendRecord(client, {
          schema,
          table,
          entityId: (req.params as Partial<Params>).id ?? null,
          op: "REFUSED",
          after: {
            code: (err as { code?: string }).code,
            message: err.message,
            method: req.method,
            url: req.url,
            body: req.body,
          },
        }),
      ).catch((auditErr) => req.log.error({ err: auditErr }, "the refused attempt could not be audited"));
    });
  }
  const item = Type.Ref(schemas.item.$id as string);
  const holdCreate = definition.hooks?.holdCreate;
  await app.register(timelineRoutes, { definition, pool });

  app.get(
    base,
    {
      config: { permission: read },
      schema: {
        summary: `${definition.plural.en}: filtered, sorted, in pages`,
        tags,
        querystring: schemas.listQuery,
        response: { 200: schemas.page },
      },
    },
    async (req) => repo.listRecords(pool, definition, req.query as repo.ListQuery),
  );
  app.get(
    `${base}/:id`,
    {
      config: { permission: read },
      schema: {
        summary: `One ${noun} (ETag: its version)`,
        tags,
        params: schemas.params,
        response: {
          200: definition.detail ? Type.Object({ ...schemas.item.properties, ...definition.detail.schema }) : item,
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params as Params;
      const record = await repo.findRecord(pool, definition, id);
      if (!record) throw hubError("HUB_ERR_NOT_FOUND", `${noun} ${id} does not exist`);
      sendVersion(reply, record.version);
      return definition.detail ? { ...record, ...(await definition.detail.load(pool, record)) } : record;
    },
  );
  app.post(
    base,
    {
      config: { permission: write, idempotent: true, auditTags: tags },
      schema: {
        summary: `Create a ${noun}`,
        tags,
        headers: writeHeaders,
        body: schemas.create,
        response: { 201: item, ...(holdCreate ? { 202: holdCreate.schema } : {}) },
      },
    },
    async (req, reply) => {
      const input = { ...definition.hooks?.defaults?.(req.principal), ...(req.body as Record<string, unknown>) };
      const held = await holdCreate?.hold(txOf(req), input, req.principal);
      if (held) return reply.code(202).header("location", held.location).send(held.body);
      const record = await repo.insertRecord(txOf(req), definition, input);
      sendVersion(reply, record.version);
      reply.header("location", `${req.url.replace(/\/$/, "")}/${record.id}`);
      return reply.code(201).send(record);
    },
  );
  if (!definition.immutable) {
    app.patch(
      `${base}/:id`,
      {
        config: { permission: write, idempotent: true, auditTags: tags },
        schema: {
          summary: `Change a ${noun} (If-Match required; JSON merge patch)`,
          tags,
          headers: writeHeaders,
          params: schemas.params,
          body: schemas.patch,
          response: { 200: item },
        },
      },
      async (req, reply) => {
        const { id } = req.params as Params;
        const body = req.body as Record<string, unknown>;
        const record = await repo.updateRecord(txOf(req), definition, id, expectedVersion(req), body);
        sendVersion(reply, record.version);
        return record;
      },
    );
  }
  if (definition.deletable) {
    app.delete(
      `${base}/:id`,
      {
        config: { permission: write, idempotent: true, auditTags: tags },
        schema: {
          summary: `Delete a ${noun} (If-Match required)`,
          tags,
          headers: writeHeaders,
          params: schemas.params,
          response: { 204: Type.Null() },
        },
      },
      async (req, reply) => {
        await repo.deleteRecord(txOf(req), definition, (req.params as Params).id, expectedVersion(req));
        return reply.code(204).send(null);
      },
    );
  }
  const workflow = definition.workflow;
  if (workflow) {
    const state = definition.fields[workflow.field] as Field;
    app.post(
      `${base}/:id/transitions`,
      {
        // each transition needs its own permission (checked below); seeing the record, this one
        config: { permission: read, idempotent: true, auditTags: [...tags, "transition"] },
        schema: {
          summary: `Move a ${noun} to another status (If-Match required; only the workflow's transitions)`,
          tags,
          headers: writeHeaders,
          params: schemas.params,
          body: Type.Object({ to: state.schema }, { additionalProperties: false }),
          response: { 200: item },
        },
      },
      async (req, reply) => {
        const { id } = req.params as Params;
        const { to } = req.body as { to: string };
        const expected = expectedVersion(req);
        const tx = txOf(req);
        const current = await repo.lockRecord(tx, definition, id, expected);
        const from = current[workflow.field] as string;
        const allowed = workflow.transitions.filter((t) => t.from.includes(from));
        const transition = allowed.find((t) => t.to === to);
        if (!transition) {
          const names = allowed.map((t) => t.to);
          throw hubError(
            "HUB_ERR_TRANSITION_NOT_ALLOWED",
            `${noun} ${current.number ?? current[definition.titleField] ?? id} is ${from}: it can go to ${names.length ? names.join(", ") : "no other status"}, not ${to}`,
          );
        }
        if (!rolesAllow(principalRoles(req), transition.permission)) {
          throw hubError("HUB_ERR_FORBIDDEN", `moving a ${noun} to ${to} needs ${transition.permission}`);
        }
        let record = await repo.updateRecord(tx, definition, id, expected, {}, { [workflow.field]: to });
        const after = definition.hooks?.afterTransition;
        if (after) {
          await after(tx, { id, from, to, record, principal: req.principal });
          // the side effect may have written the record too (e.g. an accepted quote names its invoice)
          record = (await repo.findRecord(tx, definition, id)) ?? record;
        }
        sendVersion(reply, record.version);
        return record;
      },
    );
  }
};

const principalRoles = (req: FastifyRequest) => req.principal?.roles ?? [];

/**
 * A record's timeline, for every declared entity: what its audit trail says happened to it (who
 * changed which field from what to what, when and why) and the comments written on it, newest
 * first. `GET /<name>/:id/timeline` needs the entity's read permission; `POST /<name>/:id/comments`
 * its write permission (comments are append-only, each one audited).
 */
import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import type pg from "pg";
import { hubError } from "../../errors.js";
import { txOf } from "../idempotency.js";
import type { Principal } from "../principal.js";
import { columnOf, type EntityDefinition, schemasOf } from "./entity.js";
import * as repo from "./repository.js";

const Change = Type.Object({ field: Type.String(), before: Type.Unknown(), after: Type.Unknown() });
const Entry = Type.Object({
  kind: Type.Union([Type.Literal("change"), Type.Literal("comment")]),
  at: Type.String(),
  /** INSERT, UPDATE, DELETE or an action (change); null for a comment. */
  op: Type.Union([Type.String(), Type.Null()]),
  actorName: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  changes: Type.Array(Change),
  body: Type.Union([Type.String(), Type.Null()]),
});
const CommentBody = Type.Object(
  { body: Type.String({ minLength: 1, maxLength: 4000 }) },
  { additionalProperties: false },
);
/** Entries at most (the newest). */
const LIMIT = 200;

export const timelineRoutes: FastifyPluginAsync<{ definition: EntityDefinition; pool: pg.Pool }> = async (
  app,
  { definition, pool },
) => {
  const schemas = schemasOf(definition);
  const base = `/${definition.name}`;
  const tags = [definition.name];
  const noun = definition.label.en.toLowerCase();
  const [schema, table] = definition.table.split(".") as [string, string];
  // the declared fields by column: the timeline names fields as the API does, and only those
  const fieldOf = new Map(Object.entries(definition.fields).map(([key, field]) => [columnOf(field), key]));
  const exists = async (id: string) => {
    if (!(await repo.findRecord(pool, definition, id)))
      throw hubError("HUB_ERR_NOT_FOUND", `${noun} ${id} does not exist`);
  };

  app.get(
    `${base}/:id/timeline`,
    {
      config: { permission: definition.permissions.read },
      schema: {
        summary: `A ${noun}'s changes (from the audit trail) and comments, newest first`,
        tags,
        params: schemas.params,
        response: { 200: Type.Object({ items: Type.Array(Entry) }) },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      await exists(id);
      const [changes, comments] = await Promise.all([
        pool.query(
          `SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, op,
             coalesce(actor_name, actor_id) AS actor_name, reason, before, after
           FROM audit.records WHERE schema_name = $1 AND table_name = $2 AND entity_id = $3 AND op <> 'READ'
           ORDER BY id DESC LIMIT ${LIMIT}`,
          [schema, table, id],
        ),
        pool.query(
          `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, author_name, body
           FROM erp.comments WHERE entity = $1 AND record_id = $2 ORDER BY created_at DESC LIMIT ${LIMIT}`,
          [definition.name, id],
        ),
      ]);
      const items = [
        ...changes.rows.map((r) => {
          const before = (r.before ?? {}) as Record<string, unknown>;
          const after = (r.after ?? {}) as Record<string, unknown>;
          const fields = [...fieldOf].filter(
            ([column]) => JSON.stringify(before[column] ?? null) !== JSON.stringify(after[column] ?? null),
          );
          return {
            kind: "change" as const,
            at: r.at,
            op: r.op,
            actorName: r.actor_name,
            reason: r.reason,
            changes: fields.map(([column, field]) => ({
              field,
              before: before[column] ?? null,
              after: after[column] ?? null,
            })),
            body: null,
          };
        }),
        ...comments.rows.map((r) => ({
          kind: "comment" as const,
          at: r.at,
          op: null,
          actorName: r.author_name,
          reason: null,
          changes: [],
          body: r.body,
        })),
      ].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
      return { items: items.slice(0, LIMIT) };
    },
  );

  app.post(
    `${base}/:id/comments`,
    {
      config: { permission: definition.permissions.write, idempotent: true, auditTags: [...tags, "comment"] },
      schema: {
        summary: `Comment on a ${noun} (append-only)`,
        tags,
        params: schemas.params,
        body: CommentBody,
        response: { 201: Entry },
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      await exists(id);
      const principal = req.principal as Principal;
      const { rows } = await txOf(req).query(
        `INSERT INTO erp.comments (entity, record_id, author_id, author_name, body) VALUES ($1, $2, $3, $4, $5)
         RETURNING to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`,
        [definition.name, id, principal.id, principal.name, (req.body as { body: string }).body],
      );
      reply.code(201);
      return {
        kind: "comment",
        at: rows[0]?.at,
        op: null,
        actorName: principal.name,
        reason: null,
        changes: [],
        body: (req.body as { body: string }).body,
      };
    },
  );
};

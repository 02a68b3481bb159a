import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type pg from "pg";
import { txOf } from "../platform/idempotency.js";
import { expectedVersion, sendVersion } from "../platform/locking.js";
import {
  DeadLetter,
  DeadLetterPage,
  DeadLetterParams,
  DeadLetterQuery,
  DeadLetterSummary,
  RedriveResult,
} from "./schemas.js";
import type { DeadLetterQueue } from "./service.js";

/** Options of the dead letter plugin. */
export interface DeadLetterRoutesOptions {
  pool: pg.Pool;
  queue: DeadLetterQueue;
}

const tags = ["dead-letters"];

/** The dead letter queue over HTTP: list, inspect (`dlq:read`), redrive and discard (`dlq:write`, If-Match). */
export const deadLetterRoutes: FastifyPluginAsyncTypebox<DeadLetterRoutesOptions> = async (app, { pool, queue }) => {
  app.get(
    "/dead-letters",
    {
      config: { permission: "dlq:read" },
      schema: {
        summary: "Dead letters, newest first",
        tags,
        querystring: DeadLetterQuery,
        response: { 200: DeadLetterPage },
      },
    },
    async (req) => queue.list(pool, req.query),
  );
  app.get(
    "/dead-letters/:id",
    {
      config: { permission: "dlq:read" },
      schema: {
        summary: "One dead letter with its payload",
        tags,
        params: DeadLetterParams,
        response: { 200: DeadLetter },
      },
    },
    async (req, reply) => {
      const { payloadBytes: _, ...letter } = await queue.get(pool, req.params.id);
      sendVersion(reply, letter.version);
      return letter;
    },
  );
  app.post(
    "/dead-letters/:id/redrive",
    {
      config: { permission: "dlq:write", idempotent: true, auditTags: tags },
      schema: {
        summary: "Re-submit a pending dead letter through its source's handler (If-Match required)",
        tags,
        params: DeadLetterParams,
        response: { 200: RedriveResult },
      },
    },
    async (req, reply) => {
      const result = await queue.redrive(
        txOf(req),
        req.params.id,
        expectedVersion(req),
        req.principal?.id ?? "anonymous",
      );
      sendVersion(reply, result.deadLetter.version);
      return result;
    },
  );
  app.post(
    "/dead-letters/:id/discard",
    {
      config: { permission: "dlq:write", idempotent: true, auditTags: tags },
      schema: {
        summary: "Give a pending dead letter up (If-Match required; reason in Audit-Reason)",
        tags,
        params: DeadLetterParams,
        response: { 200: DeadLetterSummary },
      },
    },
    async (req, reply) => {
      const letter = await queue.discard(
        txOf(req),
        req.params.id,
        expectedVersion(req),
        req.principal?.id ?? "anonymous",
      );
      sendVersion(reply, letter.version);
      return letter;
    },
  );
};

import { Readable } from "node:stream";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyRequest } from "fastify";
import type pg from "pg";
import type { AuditContext } from "../platform/audit-context.js";
import { AuditExportQuery, AuditPage, AuditQuery, AuditVerifyQuery, AuditVerifyResult } from "./schemas.js";
import { exportAudit, readAudit, recordAccess, verifyAuditChain } from "./service.js";

/** Options of the audit plugin. */
export interface AuditRoutesOptions {
  pool: pg.Pool;
}

const tags = ["audit"];

const readerOf = (req: FastifyRequest): AuditContext => ({
  actorId: req.principal?.id ?? "anonymous",
  actorName: req.principal?.name,
  requestId: req.id,
  tags,
});

/**
 * Reading the audit trail (permission `audit:read`): a page of records, an export of a time
 * range (JSON lines or CSV) and a check of the hash chain. Every read is logged with the
 * principal and itself appended to the trail (op READ, EXPORT or VERIFY).
 */
export const auditRoutes: FastifyPluginAsyncTypebox<AuditRoutesOptions> = async (app, { pool }) => {
  app.get(
    "/audit",
    {
      config: { permission: "audit:read" },
      schema: { summary: "Audit records in chain order", tags, querystring: AuditQuery, response: { 200: AuditPage } },
    },
    async (req) => {
      req.log.info({ principal: req.principal?.id, filter: req.query }, "audit trail read");
      return readAudit(pool, readerOf(req), req.query);
    },
  );
  app.get(
    "/audit/export",
    {
      config: { permission: "audit:read" },
      schema: { summary: "Export a time range as JSON lines or CSV", tags, querystring: AuditExportQuery },
    },
    async (req, reply) => {
      const { format, ...range } = req.query;
      req.log.info({ principal: req.principal?.id, range, format }, "audit trail exported");
      await recordAccess(pool, readerOf(req), "EXPORT", req.query);
      reply
        .header("content-type", format === "csv" ? "text/csv; charset=utf-8" : "application/jsonl; charset=utf-8")
        .header("content-disposition", `attachment; filename="audit.${format}"`);
      return reply.send(Readable.from(exportAudit(pool, range, format)));
    },
  );
  app.get(
    "/audit/verify",
    {
      config: { permission: "audit:read" },
      schema: {
        summary: "Check the hash chain; names the first broken link",
        tags,
        querystring: AuditVerifyQuery,
        response: { 200: AuditVerifyResult },
      },
    },
    async (req) => {
      const result = await verifyAuditChain(pool, req.query);
      await recordAccess(pool, readerOf(req), "VERIFY", { ...req.query, ok: result.ok });
      if (!result.ok) req.log.error({ broken: result.broken }, "audit chain broken");
      return result;
    },
  );
};

import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { txOf } from "../../platform/idempotency.js";
import { expectedVersion, sendVersion } from "../../platform/locking.js";
import { schemasOf } from "../../platform/resources/entity.js";
import { findRecord, lockRecord, refusalOf } from "../../platform/resources/repository.js";
import { invoices } from "./entities.js";

/**
 * `POST /invoices/{id}/finalise` (If-Match): the draft gets its totals and the next number of its
 * series in the request's transaction (erp.finalise_invoice), and is frozen from then on.
 */
export const billingRoutes: FastifyPluginAsync = async (app) => {
  app.post(
    "/invoices/:id/finalise",
    {
      config: { permission: "billing:write", idempotent: true, auditTags: ["invoices", "finalise"] },
      schema: {
        summary: "Finalise a draft invoice: number, totals, frozen for good",
        tags: ["invoices"],
        params: Type.Object({ id: Type.String({ format: "uuid" }) }),
        response: { 200: Type.Object(schemasOf(invoices).item.properties) },
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const tx = txOf(req);
      await lockRecord(tx, invoices, id, expectedVersion(req));
      try {
        await tx.query("SELECT erp.finalise_invoice($1)", [id]);
      } catch (err) {
        throw refusalOf(invoices, err);
      }
      const record = await findRecord(tx, invoices, id);
      sendVersion(reply, record?.version ?? 0);
      return record;
    },
  );
};

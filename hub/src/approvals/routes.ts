import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type pg from "pg";
import { txOf } from "../platform/idempotency.js";
import type { Principal } from "../platform/principal.js";
import { Approval, ApprovalPage, ApprovalParams, ApprovalQuery, ApproveBody, RejectBody } from "./schemas.js";
import { decide, getApproval, listApprovals, personOf } from "./service.js";

/** Options of the approvals plugin. */
export interface ApprovalRoutesOptions {
  pool: pg.Pool;
}

const tags = ["approvals"];
const writeHeaders = Type.Object({
  "idempotency-key": Type.Optional(Type.String({ description: "makes a retry safe: the first response is replayed" })),
  "audit-reason": Type.Optional(Type.String({ description: "why the decision is made (audit trail)" })),
});

/**
 * Four-eyes approvals over HTTP: the requests (`approvals:read`), and their decision
 * (`approvals:decide`; the policy's approver roles, never the requester — see service.ts).
 * Approving carries the operation out in the same transaction; both decisions are audited.
 */
export const approvalRoutes: FastifyPluginAsyncTypebox<ApprovalRoutesOptions> = async (app, { pool }) => {
  app.get(
    "/approvals",
    {
      config: { permission: "approvals:read" },
      schema: {
        summary: "Approval requests, newest first (status as of now: a pending one past its expiry is expired)",
        tags,
        querystring: ApprovalQuery,
        response: { 200: ApprovalPage },
      },
    },
    async (req) => {
      const { decidable, ...query } = req.query;
      const principal = req.principal as Principal;
      return listApprovals(pool, {
        ...query,
        decidableBy: decidable ? { personId: (await personOf(pool, principal)).id, roles: principal.roles } : undefined,
      });
    },
  );
  app.get(
    "/approvals/:id",
    {
      config: { permission: "approvals:read" },
      schema: { summary: "One approval request", tags, params: ApprovalParams, response: { 200: Approval } },
    },
    async (req) => getApproval(pool, req.params.id),
  );
  app.post(
    "/approvals/:id/approve",
    {
      config: { permission: "approvals:decide", idempotent: true, auditTags: [...tags, "approve"] },
      schema: {
        summary: "Approve a pending request (not your own): its operation is carried out at once",
        tags,
        headers: writeHeaders,
        params: ApprovalParams,
        body: ApproveBody,
        response: { 200: Approval },
      },
    },
    async (req) => decide(txOf(req), req.params.id, req.principal as Principal, "approve", req.body?.comment),
  );
  app.post(
    "/approvals/:id/reject",
    {
      config: { permission: "approvals:decide", idempotent: true, auditTags: [...tags, "reject"] },
      schema: {
        summary: "Reject a pending request (not your own), saying why: nothing is done",
        tags,
        headers: writeHeaders,
        params: ApprovalParams,
        body: RejectBody,
        response: { 200: Approval },
      },
    },
    async (req) => decide(txOf(req), req.params.id, req.principal as Principal, "reject", req.body.comment),
  );
};

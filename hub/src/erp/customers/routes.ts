import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type pg from "pg";
import { txOf } from "../../platform/idempotency.js";
import { expectedVersion, sendVersion } from "../../platform/locking.js";
import { Customer, CustomerCreate, CustomerListQuery, CustomerPage, CustomerParams, CustomerPatch } from "./schemas.js";
import * as service from "./service.js";

/** Options of the customers plugin. */
export interface CustomersOptions {
  pool: pg.Pool;
}

const tags = ["customers"];
const headers = {
  ifMatch: Type.Object({
    "if-match": Type.Optional(Type.String({ description: 'ETag of the version read, e.g. "3"' })),
  }),
  idempotent: Type.Object({
    "idempotency-key": Type.Optional(
      Type.String({ description: "makes a retry safe: the first response is replayed" }),
    ),
    "audit-reason": Type.Optional(Type.String({ description: "why the change is made (audit trail)" })),
  }),
};
const writeHeaders = Type.Intersect([headers.ifMatch, headers.idempotent]);

/** CRUD of `erp.customers`: versioned (ETag / If-Match), idempotent writes, audited by trigger. */
export const customerRoutes: FastifyPluginAsyncTypebox<CustomersOptions> = async (app, { pool }) => {
  app.get(
    "/customers",
    {
      config: { permission: "customers:read" },
      schema: {
        summary: "Customers, oldest first",
        tags,
        querystring: CustomerListQuery,
        response: { 200: CustomerPage },
      },
    },
    async (req) => service.listCustomers(pool, req.query),
  );
  app.get(
    "/customers/:id",
    {
      config: { permission: "customers:read" },
      schema: {
        summary: "One customer (ETag: its version)",
        tags,
        params: CustomerParams,
        response: { 200: Customer },
      },
    },
    async (req, reply) => {
      const customer = await service.getCustomer(pool, req.params.id);
      sendVersion(reply, customer.version);
      return customer;
    },
  );
  app.post(
    "/customers",
    {
      config: { permission: "customers:write", idempotent: true, auditTags: tags },
      schema: {
        summary: "Create a customer",
        tags,
        headers: headers.idempotent,
        body: CustomerCreate,
        response: { 201: Customer },
      },
    },
    async (req, reply) => {
      const customer = await service.createCustomer(txOf(req), req.body);
      sendVersion(reply, customer.version);
      reply.header("location", `${req.url.replace(/\/$/, "")}/${customer.id}`);
      return reply.code(201).send(customer);
    },
  );
  app.patch(
    "/customers/:id",
    {
      config: { permission: "customers:write", idempotent: true, auditTags: tags },
      schema: {
        summary: "Change a customer (If-Match required; JSON merge patch)",
        tags,
        headers: writeHeaders,
        params: CustomerParams,
        body: CustomerPatch,
        response: { 200: Customer },
      },
    },
    async (req, reply) => {
      const customer = await service.updateCustomer(txOf(req), req.params.id, expectedVersion(req), req.body);
      sendVersion(reply, customer.version);
      return customer;
    },
  );
  app.delete(
    "/customers/:id",
    {
      config: { permission: "customers:write", idempotent: true, auditTags: tags },
      schema: {
        summary: "Delete a customer (If-Match required)",
        tags,
        headers: writeHeaders,
        params: CustomerParams,
        response: { 204: Type.Null() },
      },
    },
    async (req, reply) => {
      await service.deleteCustomer(txOf(req), req.params.id, expectedVersion(req));
      return reply.code(204).send(null);
    },
  );
};

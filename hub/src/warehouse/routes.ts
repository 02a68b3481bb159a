import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type pg from "pg";
import { catalogRoutes } from "./catalog-routes.js";
import { lineageRoutes } from "./lineage-routes.js";
import { qualityRoutes } from "./quality-routes.js";
import { warehouseStatus } from "./runner.js";

const tags = ["warehouse"];
const Json = Type.Unknown();

/**
 * The warehouse over HTTP (`warehouse:read`): each job's watermark and last run, and the runs
 * newest first. The catalog, the quality results and the lineage are registered here too.
 */
export const warehouseRoutes: FastifyPluginAsyncTypebox<{ pool: pg.Pool }> = async (app, { pool }) => {
  await app.register(catalogRoutes, { pool });
  app.get(
    "/warehouse/jobs",
    {
      config: { permission: "warehouse:read" },
      schema: {
        summary: "Each warehouse job's watermark, failures and last run",
        tags,
        response: { 200: Type.Object({ items: Type.Array(Type.Record(Type.String(), Json)) }) },
      },
    },
    async () => ({ items: await warehouseStatus(pool) }),
  );
  app.get(
    "/warehouse/runs",
    {
      config: { permission: "warehouse:read" },
      schema: {
        summary: "Warehouse runs, newest first",
        tags,
        querystring: Type.Object(
          {
            job: Type.Optional(Type.String({ maxLength: 64 })),
            status: Type.Optional(Type.Union([Type.Literal("succeeded"), Type.Literal("failed")])),
            limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(Type.Record(Type.String(), Json)) }) },
      },
    },
    async (req) => {
      const { rows } = await pool.query(
        `SELECT id, job, kind, from_xid::text, to_xid::text, from_ts, to_ts, status, started_at, ended_at,
           readings, series, rows_written, error
         FROM ops.warehouse_runs WHERE ($1::text IS NULL OR job = $1) AND ($2::text IS NULL OR status = $2)
         ORDER BY started_at DESC LIMIT $3`,
        [req.query.job ?? null, req.query.status ?? null, req.query.limit],
      );
      return { items: rows };
    },
  );
  await app.register(qualityRoutes, { pool });
  await app.register(lineageRoutes, { pool });
};

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type pg from "pg";
import { hubError } from "../errors.js";
import { type Cursor, findEdgeSync, findEdges, findReadings } from "./repository.js";
import { EdgeItem, EdgeSync, ReadingsPage, ReadingsQuery } from "./schemas.js";
import { siteTelemetryRoutes } from "./site.js";

/** Options of the telemetry plugin. */
export interface TelemetryOptions {
  pool: pg.Pool;
}

function decodeCursor(cursor: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (typeof c.ts === "string" && typeof c.edgeId === "string" && Number.isInteger(c.seq)) return c;
  } catch {}
  throw hubError("HUB_ERR_BAD_CURSOR", "cursor is not one this API returned");
}

/** Telemetry read API: readings as the edges delivered them, and the edges' sync state. */
export const telemetryRoutes: FastifyPluginAsyncTypebox<TelemetryOptions> = async (app, { pool }) => {
  await app.register(siteTelemetryRoutes, { pool });
  app.get(
    "/readings",
    {
      config: { permission: "telemetry:read" },
      schema: {
        summary: "Readings, filtered by edge, device, point and time range, ordered by time",
        querystring: ReadingsQuery,
        response: { 200: ReadingsPage },
      },
    },
    async (req) => {
      const { cursor, ...filter } = req.query;
      const items = await findReadings(pool, { ...filter, after: cursor ? decodeCursor(cursor) : undefined });
      const last = items[items.length - 1];
      const nextCursor =
        last && items.length === filter.limit
          ? Buffer.from(JSON.stringify({ ts: last.ts, edgeId: last.edgeId, seq: last.seq })).toString("base64url")
          : null;
      return { items, nextCursor };
    },
  );
  app.get(
    "/edges",
    {
      config: { permission: "telemetry:read" },
      schema: {
        summary: "Edges known to the hub and their committed sequence",
        response: { 200: Type.Array(EdgeItem) },
      },
    },
    async () => findEdges(pool),
  );
  app.get(
    "/edges/:edgeId/sync",
    {
      config: { permission: "telemetry:read" },
      schema: {
        summary: "One edge's delivery record: stored seq ranges, reported gaps, pending ranges",
        params: Type.Object({ edgeId: Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$" }) }),
        response: { 200: EdgeSync },
      },
    },
    async (req) => {
      const sync = await findEdgeSync(pool, req.params.edgeId);
      if (!sync) throw hubError("HUB_ERR_NOT_FOUND", `edge ${req.params.edgeId} is not known`);
      return sync;
    },
  );
};

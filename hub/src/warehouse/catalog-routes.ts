import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type pg from "pg";
import { catalogDatasets, openMetadataExport } from "./catalog.js";

const tags = ["catalog"];
const Items = Type.Object({ items: Type.Array(Type.Record(Type.String(), Type.Unknown())) });

/**
 * The data catalog over HTTP (`warehouse:read`): every dataset of the warehouse layers and the
 * ERP with its columns, classification, owner, tags, freshness and last quality result
 * (`?q=` searches), and the same as OpenMetadata `Table` entities.
 */
export const catalogRoutes: FastifyPluginAsyncTypebox<{ pool: pg.Pool }> = async (app, { pool }) => {
  app.get(
    "/catalog/datasets",
    {
      config: { permission: "warehouse:read" },
      schema: {
        summary: "Catalogued datasets with columns, classification, owner, freshness and quality",
        tags,
        querystring: Type.Object(
          { q: Type.Optional(Type.String({ maxLength: 100 })) },
          { additionalProperties: false },
        ),
        response: { 200: Items },
      },
    },
    async (req) => ({ items: await catalogDatasets(pool, { q: req.query.q }) }),
  );
  app.get(
    "/catalog/openmetadata",
    {
      config: { permission: "warehouse:read" },
      schema: { summary: "The catalog as OpenMetadata Table entities", tags, response: { 200: Items } },
    },
    async () => ({ items: await openMetadataExport(pool) }),
  );
};

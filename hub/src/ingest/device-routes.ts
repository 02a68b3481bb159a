import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type pg from "pg";
import { hubError } from "../errors.js";
import { findEdgeDevices, findUnresolvedDevices } from "./device-inventory.js";
import { EdgeDevice, EdgeParams, UnresolvedDevice, UnresolvedQuery } from "./device-schemas.js";

/** Options of the device inventory plugin. */
export interface DeviceInventoryOptions {
  pool: pg.Pool;
}

/**
 * The device inventories the edges report, for the office: an edge's devices with their state and
 * ERP link, and the reported devices no ERP device accounts for yet.
 */
export const deviceInventoryRoutes: FastifyPluginAsyncTypebox<DeviceInventoryOptions> = async (app, { pool }) => {
  app.get(
    "/edges/:edgeId/devices",
    {
      config: { permission: "sites:read" },
      schema: {
        summary: "An edge's device inventory as last reported, each device with its state and ERP link",
        params: EdgeParams,
        response: { 200: Type.Array(EdgeDevice) },
      },
    },
    async (req) => {
      const devices = await findEdgeDevices(pool, req.params.edgeId);
      if (!devices) throw hubError("HUB_ERR_NOT_FOUND", `edge ${req.params.edgeId} is not known`);
      return devices;
    },
  );
  app.get(
    "/device-inventory/unresolved",
    {
      config: { permission: "sites:read" },
      schema: {
        summary:
          "Reported devices no ERP device accounts for (no ERP device has their serial number or is linked to them)",
        querystring: UnresolvedQuery,
        response: { 200: Type.Array(UnresolvedDevice) },
      },
    },
    async (req) => findUnresolvedDevices(pool, req.query),
  );
};

import { type Static, Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import type pg from "pg";
import { registerApprovalExecutor } from "../../approvals/service.js";
import { hubError } from "../../errors.js";
import { stockMovements } from "./entities.js";
import { WRITE_OFF, writeOffExecutor } from "./write-offs.js";

const Uuid = Type.String({ format: "uuid" });

const StockQuery = Type.Object(
  {
    articleId: Type.Optional(Uuid),
    warehouseId: Type.Optional(Uuid),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
  },
  { additionalProperties: false },
);

const StockRow = Type.Object({
  articleId: Uuid,
  articleNumber: Type.String(),
  articleName: Type.String(),
  warehouseId: Uuid,
  warehouseCode: Type.String(),
  quantity: Type.Number(),
  reserved: Type.Number(),
  available: Type.Number(),
});

const SerialHistory = Type.Object({
  serialNumber: Type.String(),
  articleId: Uuid,
  location: Type.Object({
    kind: Type.Union([Type.Literal("warehouse"), Type.Literal("project"), Type.Literal("site"), Type.Literal("gone")]),
    id: Type.Union([Uuid, Type.Null()]),
  }),
  movements: Type.Array(
    Type.Object({
      id: Uuid,
      number: Type.Integer(),
      kind: Type.String(),
      fromWarehouseId: Type.Union([Uuid, Type.Null()]),
      toWarehouseId: Type.Union([Uuid, Type.Null()]),
      projectId: Type.Union([Uuid, Type.Null()]),
      siteId: Type.Union([Uuid, Type.Null()]),
      reversesId: Type.Union([Uuid, Type.Null()]),
      createdAt: Type.String({ format: "date-time" }),
    }),
  ),
});

/**
 * Read views of the inventory the ledger maintains: stock per article and warehouse (quantity,
 * reserved, available) and where a serial number is, with every movement it made. Registers
 * what carries out an approved write-off.
 */
export const inventoryRoutes: FastifyPluginAsync<{ pool: pg.Pool }> = async (app, { pool }) => {
  registerApprovalExecutor(WRITE_OFF, writeOffExecutor(stockMovements), { rehearse: true });
  app.get(
    "/stock",
    {
      config: { permission: "inventory:read" },
      schema: {
        summary: "Stock per article and warehouse: quantity, reserved, available",
        tags: ["inventory"],
        querystring: StockQuery,
        response: { 200: Type.Object({ items: Type.Array(StockRow) }) },
      },
    },
    async (req) => {
      const q = req.query as Static<typeof StockQuery>;
      const { rows } = await pool.query(
        `SELECT s.article_id, a.number, a.name, s.warehouse_id, w.code, s.quantity, s.reserved
         FROM erp.stock s JOIN erp.articles a ON a.id = s.article_id JOIN erp.warehouses w ON w.id = s.warehouse_id
         WHERE ($1::uuid IS NULL OR s.article_id = $1) AND ($2::uuid IS NULL OR s.warehouse_id = $2)
         ORDER BY a.number, w.code LIMIT $3`,
        [q.articleId ?? null, q.warehouseId ?? null, q.limit],
      );
      return {
        items: rows.map((r) => ({
          articleId: r.article_id,
          articleNumber: r.number,
          articleName: r.name,
          warehouseId: r.warehouse_id,
          warehouseCode: r.code,
          quantity: Number(r.quantity),
          reserved: Number(r.reserved),
          available: Number(r.quantity) - Number(r.reserved),
        })),
      };
    },
  );
  app.get(
    "/serial-numbers/:serial",
    {
      config: { permission: "inventory:read" },
      schema: {
        summary: "Where a serial number is now, and every movement it made",
        tags: ["inventory"],
        params: Type.Object({ serial: Type.String({ minLength: 1, maxLength: 100 }) }),
        response: { 200: SerialHistory },
      },
    },
    async (req) => {
      const { serial } = req.params as { serial: string };
      const { rows } = await pool.query(
        "SELECT serial_number, article_id, location_kind, location_id FROM erp.serial_numbers WHERE serial_number = $1",
        [serial],
      );
      const current = rows[0];
      if (!current) throw hubError("HUB_ERR_NOT_FOUND", `serial number ${serial} was never received`);
      const movements = await pool.query(
        `SELECT id, number, kind, from_warehouse_id, to_warehouse_id, project_id, site_id, reverses_id, created_at
         FROM erp.stock_movements WHERE serial_number = $1 ORDER BY number`,
        [serial],
      );
      return {
        serialNumber: current.serial_number,
        articleId: current.article_id,
        location: { kind: current.location_kind, id: current.location_id },
        movements: movements.rows.map((m) => ({
          id: m.id,
          number: Number(m.number),
          kind: m.kind,
          fromWarehouseId: m.from_warehouse_id,
          toWarehouseId: m.to_warehouse_id,
          projectId: m.project_id,
          siteId: m.site_id,
          reversesId: m.reverses_id,
          createdAt: (m.created_at as Date).toISOString(),
        })),
      };
    },
  );
};

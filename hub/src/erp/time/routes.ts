import { type Static, Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import type pg from "pg";
import { hubError } from "../../errors.js";
import { txOf } from "../../platform/idempotency.js";

const Period = Type.Object({
  month: Type.String({ pattern: "^\\d{4}-\\d{2}$", description: "YYYY-MM" }),
  closedAt: Type.String({ format: "date-time" }),
  closedBy: Type.String(),
  bookings: Type.Integer({ description: "bookings in the month when it was closed" }),
  hours: Type.Number({ description: "their hours" }),
});
const CloseBody = Type.Object(
  { month: Type.String({ pattern: "^\\d{4}-(0[1-9]|1[0-2])$", description: "YYYY-MM" }) },
  { additionalProperties: false },
);

interface PeriodRow {
  month: string;
  closed_at: Date;
  closed_by: string;
  bookings: number;
  hours: string;
}

const toPeriod = (r: PeriodRow) => ({
  month: r.month.slice(0, 7),
  closedAt: r.closed_at.toISOString(),
  closedBy: r.closed_by,
  bookings: r.bookings,
  hours: Number(r.hours),
});

/**
 * Closed months (`erp.periods`): closing waits for bookings in flight and records what the
 * month's bookings sum to; a closed month is never reopened, and its bookings never change.
 */
export const periodRoutes: FastifyPluginAsync<{ pool: pg.Pool }> = async (app, { pool }) => {
  app.get(
    "/periods",
    {
      config: { permission: "time:read" },
      schema: {
        summary: "Closed months, newest first",
        tags: ["time-bookings"],
        response: { 200: Type.Object({ items: Type.Array(Period) }) },
      },
    },
    async () => {
      const { rows } = await pool.query<PeriodRow>(
        "SELECT month::text, closed_at, closed_by, bookings, hours FROM erp.periods ORDER BY month DESC LIMIT 240",
      );
      return { items: rows.map(toPeriod) };
    },
  );
  app.post(
    "/periods",
    {
      config: { permission: "time:close", idempotent: true, auditTags: ["time-bookings", "close-period"] },
      schema: {
        summary: "Close a month: its bookings become immutable for everyone",
        tags: ["time-bookings"],
        body: CloseBody,
        response: { 201: Period },
      },
    },
    async (req, reply) => {
      const { month } = req.body as Static<typeof CloseBody>;
      try {
        const { rows } = await txOf(req).query<PeriodRow>(
          "SELECT month::text, closed_at, closed_by, bookings, hours FROM erp.close_period($1::date, $2)",
          [`${month}-01`, req.principal?.id ?? "anonymous"],
        );
        return reply.code(201).send(toPeriod(rows[0] as PeriodRow));
      } catch (err) {
        if ((err as { code?: string }).code === "23505")
          throw hubError("HUB_ERR_PERIOD_CLOSED", `${month} is closed already`);
        throw err;
      }
    },
  );
};

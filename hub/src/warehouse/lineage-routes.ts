import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { type TSchema, Type } from "@sinclair/typebox";
import type pg from "pg";

const Json = Type.Unknown();
const Time = Type.String({ format: "date-time" });
const OrNull = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const LineageEvent = Type.Object({
  id: Type.String({ description: "the delivery order" }),
  eventType: Type.String({ description: "START, COMPLETE, FAIL" }),
  createdAt: Time,
  deliveredAt: OrNull(Time),
  rejectedAt: OrNull(Time),
  attempts: Type.Integer({ description: "POSTs to the lineage endpoint so far" }),
  lastError: Json,
  event: Json,
});
const LineageRun = Type.Object({
  runId: Type.String({ format: "uuid" }),
  job: Type.String(),
  kind: OrNull(Type.String({ description: "incremental, backfill" })),
  status: OrNull(Type.String({ description: "succeeded, failed" })),
  startedAt: OrNull(Time),
  endedAt: OrNull(Time),
  events: Type.Array(LineageEvent),
});

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * The warehouse runs' OpenLineage events (`warehouse:read`), newest run first: each run with its
 * outcome and its events (the OpenLineage RunEvent and whether it was delivered to the lineage
 * endpoint).
 */
export const lineageRoutes: FastifyPluginAsyncTypebox<{ pool: pg.Pool }> = async (app, { pool }) => {
  app.get(
    "/lineage/runs",
    {
      config: { permission: "warehouse:read" },
      schema: {
        summary: "Warehouse runs with their OpenLineage events, newest first",
        tags: ["warehouse"],
        querystring: Type.Object(
          {
            job: Type.Optional(Type.String({ maxLength: 64 })),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 20 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(LineageRun) }) },
      },
    },
    async (req) => {
      // a run's START is its first event: the newest STARTs are the newest runs
      const { rows } = await pool.query(
        `WITH runs AS (
           SELECT run_id, id FROM ops.lineage_events
           WHERE event_type = 'START' AND ($1::text IS NULL OR job = $1) ORDER BY id DESC LIMIT $2)
         SELECT e.run_id, e.job, w.kind, w.status, w.started_at, w.ended_at, e.id::text, e.event_type, e.created_at,
           e.delivered_at, e.rejected_at, e.attempts, e.last_error, e.event
         FROM runs r JOIN ops.lineage_events e ON e.run_id = r.run_id
         LEFT JOIN ops.warehouse_runs w ON w.id = r.run_id
         ORDER BY r.id DESC, e.id`,
        [req.query.job ?? null, req.query.limit],
      );
      const runs = new Map<string, typeof LineageRun.static>();
      for (const r of rows) {
        let run = runs.get(r.run_id);
        if (!run) {
          run = {
            runId: r.run_id,
            job: r.job,
            kind: r.kind,
            status: r.status,
            startedAt: iso(r.started_at),
            endedAt: iso(r.ended_at),
            events: [],
          };
          runs.set(r.run_id, run);
        }
        run.events.push({
          id: r.id,
          eventType: r.event_type,
          createdAt: iso(r.created_at) as string,
          deliveredAt: iso(r.delivered_at),
          rejectedAt: iso(r.rejected_at),
          attempts: r.attempts,
          lastError: r.last_error,
          event: r.event,
        });
      }
      return { items: [...runs.values()] };
    },
  );
};

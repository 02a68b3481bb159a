import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type pg from "pg";
import { hubError } from "../errors.js";

const tags = ["warehouse"];
const Json = Type.Unknown();
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A stored result as the API returns it. */
const result = (r: Record<string, unknown>) => ({
  id: String(r.id),
  rule: r.rule,
  dataset: r.dataset,
  runId: r.run_id,
  job: r.job,
  window: { kind: r.window_kind, from: r.window_from, to: r.window_to },
  status: r.status,
  severity: r.severity,
  elements: Number(r.elements),
  failures: Number(r.failures),
  failureShare: r.failure_share,
  sampleKeys: r.sample_keys,
  checkedAt: (r.checked_at as Date).toISOString(),
});

/**
 * The data-quality results over HTTP (`warehouse:read`): the stored evaluations newest first
 * (filtered by dataset, rule, status, since), and a daily report per dataset — rules checked,
 * passed and failed on a Europe/Berlin calendar day, with the worst failure share.
 */
export const qualityRoutes: FastifyPluginAsyncTypebox<{ pool: pg.Pool }> = async (app, { pool }) => {
  app.get(
    "/quality/results",
    {
      config: { permission: "warehouse:read" },
      schema: {
        summary: "Data-quality results, newest first",
        tags,
        querystring: Type.Object(
          {
            dataset: Type.Optional(Type.String({ maxLength: 130 })),
            rule: Type.Optional(Type.String({ maxLength: 128 })),
            status: Type.Optional(Type.Union([Type.Literal("pass"), Type.Literal("fail")])),
            since: Type.Optional(Type.String({ format: "date-time", description: "checked at or after, ISO 8601" })),
            limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(Type.Record(Type.String(), Json)) }) },
      },
    },
    async (req) => {
      const { rows } = await pool.query(
        `SELECT * FROM ops.quality_results
         WHERE ($1::text IS NULL OR dataset = $1) AND ($2::text IS NULL OR rule = $2) AND ($3::text IS NULL OR status = $3)
           AND ($4::timestamptz IS NULL OR checked_at >= $4)
         ORDER BY checked_at DESC, id DESC LIMIT $5`,
        [
          req.query.dataset ?? null,
          req.query.rule ?? null,
          req.query.status ?? null,
          req.query.since ?? null,
          req.query.limit,
        ],
      );
      return { items: rows.map(result) };
    },
  );
  app.get(
    "/quality/report",
    {
      config: { permission: "warehouse:read" },
      schema: {
        summary: "Per dataset and day: rules checked, passed, failed and the worst failure share",
        tags,
        querystring: Type.Object(
          {
            date: Type.Optional(Type.String({ pattern: DAY.source, description: "Europe/Berlin day; default today" })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            date: Type.String(),
            timeZone: Type.String(),
            datasets: Type.Array(Type.Record(Type.String(), Json)),
          }),
        },
      },
    },
    async (req) => {
      const date = req.query.date;
      if (date !== undefined) {
        const parsed = new Date(`${date}T00:00:00Z`);
        if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== date)
          throw hubError("HUB_ERR_VALIDATION", `date must be a calendar day YYYY-MM-DD (is ${date})`);
      }
      const { rows } = await pool.query(
        `WITH d AS (SELECT coalesce($1::date, (now() AT TIME ZONE 'Europe/Berlin')::date) AS day),
         day AS (
           SELECT r.* FROM ops.quality_results r, d
           WHERE r.checked_at >= (d.day::timestamp AT TIME ZONE 'Europe/Berlin')
             AND r.checked_at < ((d.day + 1)::timestamp AT TIME ZONE 'Europe/Berlin')
         ),
         per_rule AS (
           SELECT dataset, rule, count(*) AS checks, count(*) FILTER (WHERE status = 'fail') AS failed_checks,
             bool_or(status = 'fail' AND severity = 'error') AS error, max(failure_share) AS worst,
             sum(elements) AS elements, sum(failures) AS failures
           FROM day GROUP BY dataset, rule
         )
         SELECT (SELECT day::text FROM d) AS day, dataset, count(*)::int AS rules_checked,
           count(*) FILTER (WHERE failed_checks = 0)::int AS rules_passed,
           count(*) FILTER (WHERE failed_checks > 0)::int AS rules_failed,
           sum(checks)::int AS checks, sum(failed_checks)::int AS failed_checks, max(worst) AS worst_failure_share,
           sum(elements)::float8 AS elements, sum(failures)::float8 AS failures,
           coalesce(jsonb_agg(jsonb_build_object('rule', rule, 'severity', CASE WHEN error THEN 'error' ELSE 'warn' END,
               'checks', checks, 'failedChecks', failed_checks, 'worstFailureShare', worst)
             ORDER BY worst DESC NULLS LAST, rule) FILTER (WHERE failed_checks > 0), '[]'::jsonb) AS failed_rules
         FROM per_rule GROUP BY dataset ORDER BY dataset`,
        [date ?? null],
      );
      const day =
        date ??
        (rows[0]?.day as string | undefined) ??
        new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Berlin" }).format(new Date());
      return {
        date: day,
        timeZone: "Europe/Berlin",
        datasets: rows.map((r) => ({
          dataset: r.dataset,
          rulesChecked: r.rules_checked,
          rulesPassed: r.rules_passed,
          rulesFailed: r.rules_failed,
          checks: r.checks,
          failedChecks: r.failed_checks,
          worstFailureShare: r.worst_failure_share,
          elements: r.elements,
          failures: r.failures,
          failedRules: r.failed_rules,
        })),
      };
    },
  );
};

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { EdgeHttpDeps } from "./deps.js";
import { liveSnapshot } from "./live-snapshot.js";
import type { SessionStore } from "./sessions.js";

/** How often the live stream sends a snapshot. */
export const LIVE_INTERVAL_MS = 1000;
/** Open live streams at most (each costs one snapshot per second). */
const MAX_STREAMS = 32;

/**
 * What viewers read: the status document, the live stream (Server-Sent Events, one snapshot
 * per second, ending when the session does), local rollups for charts, and the clock.
 */
export const liveRoutes: FastifyPluginAsyncTypebox<{ deps: EdgeHttpDeps; sessions: SessionStore }> = async (
  app,
  { deps, sessions },
) => {
  const snapshot = () => {
    const states = new Map(deps.status().devices.map((d) => [d.id, d.state.status]));
    return liveSnapshot(deps.site(), deps.live, (id) => states.get(id) ?? "unknown");
  };
  let streams = 0;

  app.get("/api/v1/status", { config: { access: "viewer" }, schema: { tags: ["live"] } }, async () => deps.status());

  app.get("/api/v1/live/snapshot", { config: { access: "viewer" }, schema: { tags: ["live"] } }, async () =>
    snapshot(),
  );

  app.get("/api/v1/live", { config: { access: "viewer" }, schema: { tags: ["live"] } }, (req, reply) => {
    if (streams >= MAX_STREAMS) {
      return reply
        .code(503)
        .type("application/problem+json")
        .send({
          type: "about:blank#EDGE_ERR_INTERNAL",
          title: "too many live streams",
          status: 503,
          code: "EDGE_ERR_INTERNAL",
          detail: `at most ${MAX_STREAMS} live views at once`,
        });
    }
    streams++;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
      connection: "keep-alive",
    });
    const token = req.sessionToken;
    const send = () => {
      // The stream ends with the session (logout, expiry, password change by someone else).
      if (!sessions.alive(token)) return close();
      res.write(`event: snapshot\ndata: ${JSON.stringify(snapshot())}\n\n`);
    };
    const timer = setInterval(send, LIVE_INTERVAL_MS);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      streams--;
      clearInterval(timer);
      res.end();
    };
    res.write("retry: 2000\n\n");
    send();
    req.raw.on("close", close);
  });

  app.get(
    "/api/v1/rollups",
    {
      config: { access: "viewer" },
      schema: {
        tags: ["live"],
        querystring: Type.Object({
          device: Type.String(),
          point: Type.String(),
          period: Type.Union([Type.Literal("1m"), Type.Literal("15m")], { default: "1m" }),
          from: Type.Optional(Type.Integer({ minimum: 0 })),
          to: Type.Optional(Type.Integer({ minimum: 0 })),
        }),
      },
    },
    async (req) => {
      const { device, point, period } = req.query;
      const to = req.query.to ?? Date.now();
      const from = req.query.from ?? to - (period === "1m" ? 86_400_000 : 30 * 86_400_000);
      return { period, rows: deps.rollups({ deviceId: device, point, period, from, to }) };
    },
  );

  app.get("/api/v1/time", { config: { access: "viewer" }, schema: { tags: ["settings"] } }, async () => ({
    now: Date.now(),
    clockSynced: deps.clockSynced(),
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  }));
};

import { randomUUID } from "node:crypto";
import { context, propagation, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import type { NodeSDKConfiguration } from "@opentelemetry/sdk-node";
import type { FastifyPluginAsync, FastifyRequest, RawRequestDefaultExpression } from "fastify";
import fp from "fastify-plugin";
import type pg from "pg";

/**
 * Tracing and request ids. Spans are made with @opentelemetry/api (a no-op until an SDK is
 * started): one per HTTP request, per gRPC call or stored batch, and per SQL statement run inside
 * one of them. `startTracing` starts the SDK with an OTLP/HTTP exporter when
 * OTEL_EXPORTER_OTLP_ENDPOINT (or `endpoint`) is set; off by default.
 */

/** The hub's tracer. */
export const tracer = (): Tracer => trace.getTracer("steinmetz-hub");

const REQUEST_ID = /^[A-Za-z0-9._:\-/+=]{1,128}$/;

/**
 * The request id of an HTTP request: its `Request-Id` or `X-Request-Id` header when well-formed,
 * else a new UUID. Used as fastify's `genReqId`: it is `request.id`, the `requestId` of every log
 * line of the request, the `request-id` response header and the audit records' request id.
 */
export function requestIdOf(req: RawRequestDefaultExpression): string {
  for (const name of ["request-id", "x-request-id"]) {
    const value = req.headers[name];
    if (typeof value === "string" && REQUEST_ID.test(value)) return value;
  }
  return randomUUID();
}

/** A started tracing SDK. */
export interface Tracing {
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry (global tracer provider, AsyncLocalStorage context, W3C propagation):
 * with an OTLP/HTTP exporter to `endpoint` (default: OTEL_EXPORTER_OTLP_ENDPOINT), and/or the
 * given span processors (tests: an in-memory exporter). Returns undefined when neither is given.
 */
export async function startTracing(
  options: { serviceName?: string; endpoint?: string; spanProcessors?: NodeSDKConfiguration["spanProcessors"] } = {},
): Promise<Tracing | undefined> {
  const endpoint = options.endpoint ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint && !options.spanProcessors?.length) return undefined;
  // Loaded only when tracing is on: the SDK takes seconds to load on a small machine.
  const { NodeSDK } = await import("@opentelemetry/sdk-node");
  const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
  const sdk = new NodeSDK({
    serviceName: options.serviceName ?? "steinmetz-hub",
    autoDetectResources: false,
    instrumentations: [],
    ...(options.spanProcessors?.length
      ? { spanProcessors: options.spanProcessors }
      : {
          traceExporter: new OTLPTraceExporter({
            url: `${(endpoint as string).replace(/\/$/, "")}/v1/traces`,
          }),
        }),
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}

const kSpan = Symbol("steinmetz.span");
type WithSpan = FastifyRequest & { [kSpan]?: Span };

/**
 * Per request: a SERVER span (W3C traceparent honoured) that is the active context of the
 * handler (so SQL spans nest under it), and the `request-id` response header.
 */
const tracing: FastifyPluginAsync = async (app) => {
  app.addHook("onRequest", (req: WithSpan, reply, done) => {
    reply.header("request-id", req.id);
    const parent = propagation.extract(context.active(), req.headers);
    req[kSpan] = tracer().startSpan(
      `${req.method} ${req.routeOptions.url ?? "unmatched"}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "http.request.method": req.method,
          "url.path": req.url.split("?")[0],
          "http.route": req.routeOptions.url ?? "",
          "request.id": req.id,
        },
      },
      parent,
    );
    done();
  });
  // After the body is parsed (stream events lose the context), the rest of the request runs in
  // the span's context.
  app.addHook("preHandler", (req: WithSpan, _reply, done) => {
    const span = req[kSpan];
    if (!span) return done();
    context.with(trace.setSpan(context.active(), span), done);
  });
  app.addHook("onResponse", async (req: WithSpan, reply) => {
    const span = req[kSpan];
    if (!span) return;
    span.setAttribute("http.response.status_code", reply.statusCode);
    if (req.principal) span.setAttribute("enduser.id", req.principal.id);
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
};

/** Request ids and HTTP spans (infrastructure: applies to every route). */
export const tracingPlugin = fp(tracing, { name: "tracing" });

/**
 * Runs `fn` in a span named `name` (an INTERNAL span, or SERVER for gRPC handlers), recording a
 * thrown error on it.
 */
export async function inSpan<T>(
  name: string,
  attributes: Record<string, string | number | boolean>,
  fn: (span: Span) => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  return tracer().startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}

type QueryFn = (...args: unknown[]) => unknown;

/**
 * A statement's text for a span: string literals (values inlined into a batch: names, e-mail
 * addresses) replaced by `?`, at most 1000 characters.
 */
const sanitizedSql = (text: string): string => text.replace(/E?'(?:[^']|'')*'/g, "?").slice(0, 1000);

/**
 * A CLIENT span per SQL statement on the pool's connections, when it runs inside a traced
 * operation (no orphan spans for background work without a parent). Wraps each new client's
 * `query`, which `pool.query` also goes through.
 */
export function traceQueries(pool: pg.Pool): void {
  pool.on("connect", (client) => {
    const original = client.query.bind(client) as QueryFn;
    const traced: QueryFn = (...args) => {
      const first = args[0] as { text?: unknown } | string | undefined;
      const text = typeof first === "string" ? first : typeof first?.text === "string" ? first.text : undefined;
      if (text === undefined || !trace.getActiveSpan()) return original(...args);
      const span = tracer().startSpan("pg.query", {
        kind: SpanKind.CLIENT,
        attributes: { "db.system": "postgresql", "db.query.text": sanitizedSql(text) },
      });
      const end = (err?: unknown) => {
        if (err) span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        span.end();
      };
      const callback = args.findIndex((a) => typeof a === "function");
      if (callback >= 0) {
        const cb = args[callback] as (err: unknown, res: unknown) => void;
        args[callback] = (err: unknown, res: unknown) => {
          end(err);
          cb(err, res);
        };
        return original(...args);
      }
      const result = original(...args) as Promise<unknown> | undefined;
      if (result && typeof result.then === "function") {
        return result.then(
          (r) => {
            end();
            return r;
          },
          (err) => {
            end(err);
            throw err;
          },
        );
      }
      end();
      return result;
    };
    (client as unknown as { query: QueryFn }).query = traced;
  });
}

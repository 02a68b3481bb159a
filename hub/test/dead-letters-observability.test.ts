/**
 * The dead letter queue (refused ingest data lands there; list, inspect, redrive, discard with
 * permissions, version checks and audit records) and observability (metrics, spans with the
 * request id, breaker state in /health) on a running hub with real PostgreSQL and gRPC.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { EdgeSyncServiceClient, encodeReadingBatch, Quality, type Reading, type ReadingBatch } from "@steinmetz/proto";
import t from "tap";
import { AuthService } from "../src/auth/service.js";
import { startHub } from "../src/hub.js";
import type { Role } from "../src/platform/principal.js";
import { startTracing } from "../src/platform/tracing.js";
import { log } from "./fixtures/platform.js";
import { startTestPostgres } from "./fixtures/postgres.js";

const spans = new InMemorySpanExporter();
const tracing = await startTracing({ spanProcessors: [new SimpleSpanProcessor(spans)] });
t.teardown(() => tracing?.shutdown());
const dataDir = mkdtempSync(join(tmpdir(), "hub-dlq-"));
chmodSync(dataDir, 0o755);
const db = await startTestPostgres(join(dataDir, "db"), log);
t.teardown(() => db.stop());
const hub = await startHub({ databaseUrl: db.url, dataDir, httpPort: 0, grpcPort: 0, insecureDev: true, log });
t.teardown(() => hub.close());
const client = new EdgeSyncServiceClient(`127.0.0.1:${hub.grpcPort}`, credentials.createInsecure());
t.teardown(() => client.close());

const auth = new AuthService(hub.pool);
const headersOf = new Map<Role, Record<string, string>>();
for (const role of ["admin", "auditor", "office"] as const) {
  const user = await auth.createUser({
    email: `${role}@dlq.test`,
    roles: [role],
    password: randomBytes(12).toString("hex"),
  });
  headersOf.set(role, { authorization: `Bearer ${(await auth.createApiToken(user.id, { name: "test" })).token}` });
}
const as = (role: Role) => headersOf.get(role) as Record<string, string>;
const api = async (method: string, path: string, role: Role, headers: Record<string, string> = {}) => {
  const res = await fetch(`${hub.httpUrl}/api/v1${path}`, { method, headers: { ...as(role), ...headers } });
  return {
    status: res.status,
    headers: res.headers,
    body: (await res.json().catch(() => null)) as Record<string, unknown>,
  };
};

const readings = (from: number, n: number): Reading[] =>
  Array.from({ length: n }, (_, i) => ({
    seq: from + i,
    deviceId: "inv",
    point: "active_power",
    ts: Date.now() - 60_000 + i,
    value: i,
    quality: Quality.QUALITY_GOOD,
    clockSynced: true,
  }));

function upload(edgeId: string, batch: ReadingBatch): Promise<void> {
  return new Promise((resolve, reject) => {
    const metadata = new Metadata();
    metadata.set("edge-id", edgeId);
    const call = client.upload(metadata);
    call.on("data", () => call.end());
    call.on("error", reject);
    call.on("end", () => resolve());
    call.write({ batch });
  });
}

t.test("a refused batch becomes a dead letter; inspect, redrive (fails again), discard", async (t) => {
  const bad = { ...encodeReadingBatch(7, readings(1, 3)), value: [1] };
  const err = (await upload("edge-dlq", bad).catch((e) => e)) as ServiceError;
  t.equal(err.code, status.INVALID_ARGUMENT);
  await upload("edge-dlq", bad).catch(() => undefined); // the edge resends it: one letter, two attempts
  const list = await api("GET", "/dead-letters?status=pending&source=sync.upload", "admin");
  t.equal(list.status, 200);
  const items = list.body.items as { id: number; attempts: number; errorCode: string; version: number }[];
  t.equal(items.length, 1, "the resend counts as another attempt of the same dead letter");
  const letter = items[0] as (typeof items)[number];
  t.equal(letter.attempts, 2);
  t.equal(letter.errorCode, "HUB_ERR_BATCH_INVALID");
  const one = await api("GET", `/dead-letters/${letter.id}`, "auditor");
  t.equal(one.status, 200, "auditors read the queue");
  t.equal(one.headers.get("etag"), `"${letter.version}"`);
  t.same(one.body.payload, { edgeId: "edge-dlq", lane: "live", batchId: 7 });
  t.ok((one.body.payloadBase64 as string).length > 10, "the batch itself, binary");
  t.equal((await api("GET", "/dead-letters", "office")).status, 403, "office does not see the queue");
  t.equal((await api("POST", `/dead-letters/${letter.id}/redrive`, "auditor")).status, 403, "auditors do not redrive");
  t.equal((await api("POST", `/dead-letters/${letter.id}/redrive`, "admin")).status, 428, "If-Match required");

  const redrive = await api("POST", `/dead-letters/${letter.id}/redrive`, "admin", {
    "if-match": `"${letter.version}"`,
  });
  t.equal(redrive.status, 200);
  t.equal(redrive.body.ok, false, "still invalid: the handler fails again");
  const after = redrive.body.deadLetter as { attempts: number; status: string; version: number };
  t.same([after.attempts, after.status], [3, "pending"]);
  const stale = await api("POST", `/dead-letters/${letter.id}/discard`, "admin", { "if-match": `"${letter.version}"` });
  t.equal(stale.status, 412);
  const discard = await api("POST", `/dead-letters/${letter.id}/discard`, "admin", {
    "if-match": `"${after.version}"`,
    "audit-reason": "corrupt on the edge",
  });
  t.equal(discard.status, 200);
  t.equal(discard.body.status, "discarded");
  const again = await api("POST", `/dead-letters/${letter.id}/discard`, "admin", {
    "if-match": `"${discard.body.version}"`,
  });
  t.equal(again.body.code, "HUB_ERR_DLQ_NOT_PENDING");
  const audit = await hub.pool.query(
    "SELECT op, reason, actor_name FROM audit.records WHERE schema_name = 'ops' AND table_name = 'dead_letters' AND entity_id = $1 ORDER BY id",
    [String(letter.id)],
  );
  t.same(audit.rows, [
    { op: "REDRIVE_FAILED", reason: null, actor_name: "test" },
    { op: "DISCARD", reason: "corrupt on the edge", actor_name: "test" },
  ]);
});

t.test("redrive through a registered handler succeeds once; idempotent with a key", async (t) => {
  const handled: unknown[] = [];
  hub.deadLetters.registerHandler("test.source", async ({ payload }) => {
    handled.push(payload);
  });
  const id = await hub.deadLetters.deadLetter("test.source", { order: 42 }, new Error("downstream was down"));
  const res = await api("POST", `/dead-letters/${id}/redrive`, "admin", {
    "if-match": '"1"',
    "idempotency-key": "rd-1",
  });
  t.equal(res.status, 200);
  t.equal(res.body.ok, true);
  t.equal((res.body.deadLetter as { status: string }).status, "redriven");
  const replay = await api("POST", `/dead-letters/${id}/redrive`, "admin", {
    "if-match": '"1"',
    "idempotency-key": "rd-1",
  });
  t.equal(replay.headers.get("idempotency-replayed"), "true");
  t.same(handled, [{ order: 42 }], "the handler ran once");
  const none = await hub.deadLetters.deadLetter("nobody.handles", { x: 1 }, new Error("x"));
  const refused = await api("POST", `/dead-letters/${none}/redrive`, "admin", { "if-match": '"1"' });
  t.equal(refused.body.code, "HUB_ERR_DLQ_NO_HANDLER");
});

t.test("metrics: DLQ size, pool, idempotency, gRPC, breakers", async (t) => {
  const text = await (await fetch(`${hub.httpUrl}/metrics`)).text();
  t.match(text, /hub_dead_letters\{status="pending"\} 1/);
  t.match(text, /hub_dead_letters\{status="discarded"\} 1/);
  t.match(text, /hub_pg_pool_connections\{state="total"\} \d+/);
  t.match(text, /hub_pg_pool_connections\{state="waiting"\} 0/);
  t.match(text, /hub_idempotency_requests_total\{outcome="replay"\} 1/);
  t.match(text, /hub_circuit_breaker_state\{name="postgresql-maintenance"\} 0/);
  await new Promise((resolve) =>
    client.hello(
      { edgeId: "edge-m", agentVersion: "t", edgeTimeMs: Date.now(), clockSynced: true, nextSeq: 1, configVersion: 0 },
      resolve,
    ),
  );
  const after = await (await fetch(`${hub.httpUrl}/metrics`)).text();
  t.match(after, /hub_grpc_calls_total\{method="Hello",code="OK"\} 1/);
  t.match(after, /hub_grpc_call_duration_seconds_count\{method="Hello"\} 1/);
});

t.test("/health lists each breaker", async (t) => {
  const res = await fetch(`${hub.httpUrl}/health`);
  const body = (await res.json()) as {
    status: string;
    checks: Record<string, { observedValue: unknown; status: string }[]>;
  };
  t.equal(body.status, "pass");
  t.same(body.checks["postgresql-maintenance:circuitBreaker"]?.[0]?.observedValue, "closed");
  const isolated = hub.resilience.policy("postgresql-maintenance").breaker.isolate();
  const degraded = (await (await fetch(`${hub.httpUrl}/health`)).json()) as typeof body;
  t.equal(degraded.status, "warn");
  t.equal(degraded.checks["postgresql-maintenance:circuitBreaker"]?.[0]?.status, "fail");
  isolated.dispose();
});

t.test("spans: HTTP with the request id, SQL nested under it, gRPC calls", async (t) => {
  spans.reset();
  const requestId = `trace-${randomUUID()}`;
  const res = await fetch(`${hub.httpUrl}/api/v1/customers`, {
    method: "POST",
    headers: { ...as("admin"), "content-type": "application/json", "request-id": requestId },
    body: JSON.stringify({ name: "Traced GmbH" }),
  });
  t.equal(res.status, 201);
  t.equal(res.headers.get("request-id"), requestId, "the response carries the request id");
  const finished = spans.getFinishedSpans();
  const server = finished.find((s) => s.name === "POST /api/v1/customers");
  t.ok(server, "a span for the request");
  t.equal(server?.attributes["request.id"], requestId);
  t.equal(server?.attributes["http.response.status_code"], 201);
  const sql = finished.filter(
    (s) => s.name === "pg.query" && s.spanContext().traceId === server?.spanContext().traceId,
  );
  // the unit of work: BEGIN + audit context + INSERT in one message, then COMMIT
  t.same(
    sql.map((s) => String(s.attributes["db.query.text"]).split(";")[0]),
    ["BEGIN", "COMMIT"],
    "SQL spans in the request's trace",
  );
  const insert = sql.find((s) => String(s.attributes["db.query.text"]).includes("INSERT INTO erp.customers"));
  t.ok(insert, "the INSERT has a span");
  t.notMatch(String(insert?.attributes["db.query.text"]), "Traced GmbH", "with its values left out");
  const audit = await hub.pool.query("SELECT request_id FROM audit.records WHERE after->>'name' = 'Traced GmbH'");
  t.equal(audit.rows[0]?.request_id, requestId, "and the audit record");
  await new Promise((resolve) =>
    client.hello(
      { edgeId: "edge-t", agentVersion: "t", edgeTimeMs: Date.now(), clockSynced: true, nextSeq: 1, configVersion: 0 },
      resolve,
    ),
  );
  t.ok(
    spans.getFinishedSpans().some((s) => s.name === "grpc Hello"),
    "a span for the gRPC call",
  );
});

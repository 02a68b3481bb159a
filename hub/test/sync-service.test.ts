/** The hub's gRPC ingest and HTTP API against a real embedded PostgreSQL. */
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import {
  EdgeSyncServiceClient,
  encodeReadingBatch,
  Quality,
  type Reading,
  type ReadingBatch,
  type UploadResponse,
} from "@steinmetz/proto";
import pino from "pino";
import t from "tap";
import { startHub } from "../src/hub.js";
import { adminHeaders } from "./fixtures/auth-headers.js";
import { startTestPostgres } from "./fixtures/postgres.js";

const log = pino({ level: process.env.LOG_LEVEL ?? "silent" });
const dataDir = mkdtempSync(join(tmpdir(), "hub-test-"));
chmodSync(dataDir, 0o755);
const db = await startTestPostgres(join(dataDir, "db"), log);
t.teardown(() => db.stop());
const hub = await startHub({ databaseUrl: db.url, dataDir, httpPort: 0, grpcPort: 0, insecureDev: true, log });
t.teardown(() => hub.close());
const auth = await adminHeaders(hub.pool);
const client = new EdgeSyncServiceClient(`127.0.0.1:${hub.grpcPort}`, credentials.createInsecure());
t.teardown(() => client.close());

const readings = (from: number, n: number): Reading[] =>
  Array.from({ length: n }, (_, i) => ({
    seq: from + i,
    deviceId: "inv",
    point: i % 2 ? "active_power" : "reactive_power",
    ts: 1_790_000_000_000 + (from + i) * 1000,
    value: i % 2 ? i * 10 : null,
    quality: i % 2 ? Quality.QUALITY_GOOD : Quality.QUALITY_NOT_IMPLEMENTED,
    clockSynced: true,
  }));

function hello(edgeId: string): Promise<number> {
  return new Promise((resolve, reject) =>
    client.hello(
      { edgeId, agentVersion: "test", edgeTimeMs: Date.now(), clockSynced: true, nextSeq: 1, configVersion: 0 },
      (err, res) => (err ? reject(err) : resolve(res.committedSeq)),
    ),
  );
}

/** Sends batches on one Upload stream; resolves with the acks, or rejects with the stream's error. */
function upload(edgeId: string, batches: ReadingBatch[]): Promise<UploadResponse[]> {
  return new Promise((resolve, reject) => {
    const metadata = new Metadata();
    if (edgeId) metadata.set("edge-id", edgeId);
    const call = client.upload(metadata);
    const acks: UploadResponse[] = [];
    call.on("data", (ack: UploadResponse) => {
      acks.push(ack);
      if (acks.length === batches.length) call.end();
    });
    call.on("error", reject);
    call.on("end", () => resolve(acks));
    for (const batch of batches) call.write({ batch });
  });
}

t.test("hello, upload, ack after commit, and resends absorbed as duplicates", async (t) => {
  t.equal(await hello("edge-a"), 0, "a new edge starts at 0");
  const first = encodeReadingBatch(1, readings(1, 50));
  const second = encodeReadingBatch(2, readings(51, 50));
  const acks = await upload("edge-a", [first, second]);
  t.match(acks, [
    { batchId: 1, firstSeq: 1, lastSeq: 50, inserted: 50, duplicates: 0 },
    { batchId: 2, firstSeq: 51, lastSeq: 100, inserted: 50, duplicates: 0 },
  ]);
  t.equal(await hello("edge-a"), 100, "the committed high-water mark");
  // The same batch again, as after a lost ack, overlapping with new readings.
  const resend = await upload("edge-a", [encodeReadingBatch(3, readings(91, 20))]);
  t.match(resend, [{ firstSeq: 91, lastSeq: 110, inserted: 10, duplicates: 10 }]);
  const { rows } = await hub.pool.query(
    `SELECT count(*)::int AS n, count(DISTINCT seq)::int AS distinct, max(seq)::int AS max
     FROM raw.readings JOIN raw.series USING (series_id) WHERE edge_id = 'edge-a'`,
  );
  t.same(rows[0], { n: 110, distinct: 110, max: 110 });
  type Page = { items: Record<string, unknown>[]; nextCursor: string | null };
  const api = (await (
    await fetch(`${hub.httpUrl}/api/v1/readings?edge=edge-a&limit=2`, { headers: auth })
  ).json()) as Page;
  t.match(api.items[0], { edgeId: "edge-a", seq: 1, point: "reactive_power", value: null, quality: "not-implemented" });
  t.match(api.items[1], { seq: 2, value: 10, quality: "good", clockSynced: true, ts: "2026-09-21T" });
  const next = (await (
    await fetch(`${hub.httpUrl}/api/v1/readings?edge=edge-a&limit=200&cursor=${api.nextCursor}`, { headers: auth })
  ).json()) as Page;
  t.equal(next.items.length, 108, "the cursor continues after the first page");
  t.equal(next.nextCursor, null);
});

t.test("edges cannot write without an id, and malformed batches are refused and counted", async (t) => {
  await t.rejects(hello("not an id!"), { code: status.INVALID_ARGUMENT });
  await t.rejects(upload("", [encodeReadingBatch(1, readings(1, 1))]), { code: status.INVALID_ARGUMENT });
  const bad = { ...encodeReadingBatch(1, readings(1, 3)), value: [1] };
  const err = (await upload("edge-b", [bad]).catch((e) => e)) as ServiceError;
  t.equal(err.code, status.INVALID_ARGUMENT);
  t.match(err.details, "HUB_ERR_BATCH_INVALID: column value has 1 entries, seq has 3");
  const metrics = await (await fetch(`${hub.httpUrl}/metrics`)).text();
  t.match(metrics, 'hub_ingest_batches_total{result="rejected",lane="live"} 1');
  t.equal(await hello("edge-b"), 0, "nothing of the refused batch was stored");
});

t.test("HTTP errors are problem+json with stable codes", async (t) => {
  const res = await fetch(`${hub.httpUrl}/api/v1/readings?limit=0`, { headers: auth });
  t.equal(res.status, 400);
  t.match(res.headers.get("content-type"), /^application\/problem\+json/);
  t.match(await res.json(), { code: "HUB_ERR_VALIDATION", status: 400 });
  const cursor = await fetch(`${hub.httpUrl}/api/v1/readings?cursor=garbage`, { headers: auth });
  t.match(await cursor.json(), { code: "HUB_ERR_BAD_CURSOR" });
  const missing = await fetch(`${hub.httpUrl}/api/v1/nope`);
  t.equal(missing.status, 404);
  t.match(await missing.json(), { code: "HUB_ERR_NOT_FOUND" });
});

t.test("health, readiness and the OpenAPI document", async (t) => {
  t.equal((await fetch(`${hub.httpUrl}/livez`)).status, 200);
  t.equal((await fetch(`${hub.httpUrl}/readyz`)).status, 200);
  const health = await fetch(`${hub.httpUrl}/health`);
  t.match(health.headers.get("content-type"), /^application\/health\+json/);
  t.match(await health.json(), { status: "pass", checks: { "postgresql:responseTime": [{ status: "pass" }] } });
  const openapi = (await (await fetch(`${hub.httpUrl}/api/v1/openapi.json`)).json()) as { paths: object };
  t.ok("/api/v1/readings" in openapi.paths, "readings route documented");
  t.equal((await fetch(`${hub.httpUrl}/api/docs`)).status, 200);
});

t.test("without PostgreSQL the hub is live but not ready", async (t) => {
  const down = await startHub({
    databaseUrl: "postgres://nobody:x@127.0.0.1:1/none",
    migrate: false,
    dataDir,
    httpPort: 0,
    grpcPort: 0,
    insecureDev: true,
    log,
  });
  t.teardown(() => down.close());
  t.equal((await fetch(`${down.httpUrl}/livez`)).status, 200);
  t.equal((await fetch(`${down.httpUrl}/readyz`)).status, 503);
  const health = await fetch(`${down.httpUrl}/health`);
  t.equal(health.status, 503);
  t.match(await health.json(), { status: "fail" });
  const readings = await fetch(`${down.httpUrl}/api/v1/readings`, { headers: auth });
  t.equal(readings.status, 503);
  t.match(await readings.json(), { code: "HUB_ERR_DB_UNAVAILABLE" });
});

t.test("without --insecure-dev the hub needs its CA for mutual TLS", async (t) => {
  await t.rejects(startHub({ databaseUrl: db.url, dataDir: join(dataDir, "no-pki"), insecureDev: false, log }), {
    code: "HUB_ERR_PKI_MISSING",
  });
});

/**
 * The edge link with mutual TLS, all real: a hub with its CA, edges with issued certificates.
 * A properly issued edge delivers; a certificate of another CA, a revoked edge and a plaintext
 * client are refused; an edge claiming another edge's id is refused and logged while the real
 * edge keeps delivering. No key material reaches the logs.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { Writable } from "node:stream";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { loadEdgeTls } from "@steinmetz/edge";
import { initPki, issueEdgeCertificate, pkiDirOf, revokeEdge, startHub } from "@steinmetz/hub";
import { EdgeSyncServiceClient, encodeReadingBatch, Quality, type UploadResponse } from "@steinmetz/proto";
import { startSunSpecInverterSim } from "@steinmetz/sim";
import pino from "pino";
import t from "tap";
import { startDatabase, startTestEdge, tempDir, waitFor, writeSite } from "../support/harness.js";

const db = await startDatabase();
t.teardown(() => db.stop());
const sim = await startSunSpecInverterSim({ speed: 600 });
t.teardown(() => sim.close());

let hubLog = "";
const logSink = new Writable({
  write(chunk, _enc, done) {
    hubLog += chunk.toString();
    done();
  },
});
const hubDir = tempDir("hub");
await initPki(pkiDirOf(hubDir));
const tlsA = tempDir("tls-a");
const tlsB = tempDir("tls-b");
await issueEdgeCertificate(pkiDirOf(hubDir), "edge-a", tlsA);
await issueEdgeCertificate(pkiDirOf(hubDir), "edge-b", tlsB);
const hub = await startHub({
  databaseUrl: db.url,
  dataDir: hubDir,
  httpPort: 0,
  grpcPort: 0,
  insecureDev: false,
  log: pino({ level: "debug" }, logSink),
});
t.teardown(() => hub.close());
const hubUrl = `127.0.0.1:${hub.grpcPort}`;

const hello = (client: EdgeSyncServiceClient, edgeId: string) =>
  new Promise<number>((resolve, reject) =>
    client.hello(
      { edgeId, agentVersion: "t", edgeTimeMs: Date.now(), clockSynced: true, nextSeq: 1, configVersion: 0 },
      (err, res) => (err ? reject(err) : resolve(res.committedSeq)),
    ),
  );
const committed = async (edgeId: string) =>
  Number(
    (await hub.pool.query("SELECT committed_seq FROM raw.edges WHERE edge_id = $1", [edgeId])).rows[0]?.committed_seq ??
      0,
  );

t.test("an issued edge delivers over mutual TLS; its data dir takes the certificate's id", async (t) => {
  const dir = tempDir("edge-a");
  const edge = await startTestEdge(writeSite(dir, sim, 100), dir, hubUrl, { tlsDir: tlsA, insecureDev: false });
  t.teardown(() => edge.close());
  t.equal(edge.edgeId, "edge-a");
  await waitFor("readings delivered", async () => (await committed("edge-a")) > 50);

  t.test("a client with edge-a's certificate claiming edge-b is refused; edge-a keeps delivering", async (t) => {
    const spoof = new EdgeSyncServiceClient(hubUrl, loadEdgeTls(tlsA).credentials);
    t.teardown(() => spoof.close());
    await t.rejects(hello(spoof, "edge-b"), { code: status.PERMISSION_DENIED, details: /HUB_ERR_EDGE_ID_MISMATCH/ });
    const upload = await new Promise<ServiceError | UploadResponse>((resolve) => {
      const metadata = new Metadata();
      metadata.set("edge-id", "edge-b");
      const call = spoof.upload(metadata);
      call.on("data", resolve);
      call.on("error", resolve);
      const reading = { deviceId: "x", point: "active_power", ts: Date.now(), value: 1, quality: Quality.QUALITY_GOOD };
      call.write({ batch: encodeReadingBatch(1, [{ ...reading, seq: 1, clockSynced: true }]) });
    });
    t.match(upload, { code: status.PERMISSION_DENIED });
    t.equal(await committed("edge-b"), 0, "nothing stored for edge-b");
    t.match(hubLog, /"claimedEdgeId":"edge-b".*"msg":"edge call refused"/, "the refusal is logged");
    const before = await committed("edge-a");
    await waitFor("edge-a still delivering", async () => (await committed("edge-a")) > before + 20);
  });

  t.test("the edge's data dir cannot be reused with another edge's certificate", async (t) => {
    await t.rejects(startTestEdge(writeSite(dir, sim, 100), dir, hubUrl, { tlsDir: tlsB, insecureDev: false }), {
      code: "EDGE_ERR_TLS",
      message: /belongs to edge edge-a but the certificate names edge-b/,
    });
  });
});

t.test("a certificate from another CA fails the handshake", async (t) => {
  const otherPki = tempDir("other-pki");
  await initPki(otherPki);
  const otherTls = tempDir("tls-other");
  await issueEdgeCertificate(otherPki, "edge-a", otherTls);
  // The client trusts the real hub CA but presents a certificate the hub's CA never signed.
  const other = loadEdgeTls(otherTls);
  const client = new EdgeSyncServiceClient(hubUrl, other.credentials);
  t.teardown(() => client.close());
  await t.rejects(hello(client, "edge-a"), { code: status.UNAVAILABLE });
  t.equal((await committed("edge-a")) > 0, true);
});

t.test("a plaintext client cannot talk to a TLS hub", async (t) => {
  const client = new EdgeSyncServiceClient(hubUrl, credentials.createInsecure());
  t.teardown(() => client.close());
  await t.rejects(hello(client, "edge-a"), { code: status.UNAVAILABLE });
});

t.test("a revoked edge is refused on its next call, an unknown one too", async (t) => {
  const client = new EdgeSyncServiceClient(hubUrl, loadEdgeTls(tlsB).credentials);
  t.teardown(() => client.close());
  t.equal(await hello(client, "edge-b"), 0, "edge-b is accepted before");
  revokeEdge(pkiDirOf(hubDir), "edge-b");
  const fresh = new EdgeSyncServiceClient(hubUrl, loadEdgeTls(tlsB).credentials);
  t.teardown(() => fresh.close());
  await t.rejects(hello(fresh, "edge-b"), { code: status.UNAUTHENTICATED, details: /HUB_ERR_EDGE_REVOKED/ });
  // edge-c: signed by the hub's CA but not (or no longer) in its registry.
  const tlsC = tempDir("tls-c");
  await issueEdgeCertificate(pkiDirOf(hubDir), "edge-c", tlsC);
  const registry = `${pkiDirOf(hubDir)}/edges.json`;
  const doc = JSON.parse(readFileSync(registry, "utf8"));
  delete doc.edges["edge-c"];
  writeFileSync(`${registry}.tmp`, JSON.stringify(doc));
  renameSync(`${registry}.tmp`, registry);
  const unknown = new EdgeSyncServiceClient(hubUrl, loadEdgeTls(tlsC).credentials);
  t.teardown(() => unknown.close());
  await t.rejects(hello(unknown, "edge-c"), { code: status.UNAUTHENTICATED, details: /HUB_ERR_EDGE_UNKNOWN/ });
});

t.test("no key material in the hub's logs", async (t) => {
  t.notMatch(hubLog, /PRIVATE KEY|BEGIN CERTIFICATE/);
  t.ok(hubLog.length > 0);
});

/**
 * Fault injection while a simulated site produces readings: the hub SIGKILLed and restarted,
 * PostgreSQL restarted, the edge→hub TCP link cut (also in the middle of a batch), and the buffer
 * budget overrun. After each scenario every seq the edge committed is stored at the hub exactly
 * once, except evicted ranges, which are exactly the gaps the hub reports.
 */
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { credentials } from "@grpc/grpc-js";
import { createEdgeMetrics, Forwarder, ReadingBuffer } from "@steinmetz/edge";
import { Quality, type SeqRange, subtractRanges, unionRanges } from "@steinmetz/proto";
import { startSunSpecInverterSim } from "@steinmetz/sim";
import t from "tap";
import {
  adminHeaders,
  exited,
  findFreePort,
  log,
  spawnHub,
  startDatabase,
  startTestEdge,
  startTestHub,
  storedRanges,
  tempDir,
  waitFor,
  writeSite,
} from "../support/harness.js";
import { TcpProxy } from "../support/proxy.js";

const pgDir = tempDir("hub-pg");
const pgPort = await findFreePort();
let db = await startDatabase(pgDir, pgPort);
t.teardown(() => db.stop());
const sim = await startSunSpecInverterSim({ speed: 600 });
t.teardown(() => sim.close());

const all = (n: number): SeqRange[] => (n > 0 ? [{ first: 1, last: n }] : []);

/**
 * Drains the edge (polling stopped, buffer emptied) and checks the hub: stored ∪ gaps = 1..N with
 * no row twice, and the seqs not stored are exactly what the hub reports missing in gaps.
 */
async function checkDelivery(
  t: Pick<typeof import("tap").default, "equal" | "same">,
  edge: Awaited<ReturnType<typeof startTestEdge>>,
  hubHttpUrl: string,
): Promise<{ produced: number; missing: SeqRange[] }> {
  t.equal(await edge.drain(30_000), 0, "buffer drained");
  const produced = edge.status().buffer.nextSeq - 1;
  const { ranges, rows } = await storedRanges(db.url, edge.edgeId);
  const storedCount = ranges.reduce((n, r) => n + r.last - r.first + 1, 0);
  t.equal(rows, storedCount, "no seq stored twice");
  const missing = subtractRanges(all(produced), ranges);
  const headers = await adminHeaders(db.url);
  const sync = (await (await fetch(`${hubHttpUrl}/api/v1/edges/${edge.edgeId}/sync`, { headers })).json()) as {
    missingInGaps: SeqRange[];
    pending: SeqRange[];
    committedSeq: number;
  };
  t.same(sync.missingInGaps, missing, "what is not stored is exactly what the reported gaps leave missing");
  t.same(sync.pending, [], "nothing unexplained");
  t.equal(sync.committedSeq, produced, "the high-water mark covers every seq");
  t.same(unionRanges(ranges, missing), all(produced));
  return { produced, missing };
}

t.test("hub SIGKILLed and restarted three times mid-stream", async (t) => {
  const grpcPort = await findFreePort();
  const dir = tempDir("edge");
  const edge = await startTestEdge(writeSite(dir, sim, 100), dir, `127.0.0.1:${grpcPort}`, {
    sync: { batch: { initial: 20, min: 20, max: 20 }, backoff: { initialDelayMs: 100, maxDelayMs: 500 } },
  });
  t.teardown(() => edge.close());
  let hub = await spawnHub(db.url, grpcPort);
  for (let round = 0; round < 3; round++) {
    await waitFor(`round ${round}: acks flowing`, () => edge.status().sync.connected && edge.status().sync.lastAckAt);
    await sleep(300 + round * 250);
    hub.kill("SIGKILL");
    t.equal(await exited(hub), null, `round ${round}: hub killed`);
    await sleep(400);
    hub = await spawnHub(db.url, grpcPort);
  }
  const http = await startTestHub(db.url); // the read API of a second instance, same database
  t.teardown(async () => {
    hub.kill("SIGTERM");
    await exited(hub);
    await http.close();
  });
  const { produced, missing } = await checkDelivery(t, edge, http.httpUrl);
  t.ok(produced > 200, `${produced} readings`);
  t.same(missing, [], "nothing evicted, nothing missing");
});

t.test("PostgreSQL restarted under a running hub", async (t) => {
  const hub = await startTestHub(db.url);
  t.teardown(() => hub.close());
  const dir = tempDir("edge");
  const edge = await startTestEdge(writeSite(dir, sim, 100), dir, `127.0.0.1:${hub.grpcPort}`);
  t.teardown(() => edge.close());
  await waitFor("acks flowing", () => edge.status().sync.lastAckAt);
  await db.stop();
  await sleep(1500);
  t.equal((await fetch(`${hub.httpUrl}/readyz`)).status, 503, "hub not ready without its database");
  db = await startDatabase(pgDir, pgPort);
  await waitFor("hub ready again", async () => (await fetch(`${hub.httpUrl}/readyz`)).status === 200);
  const { missing } = await checkDelivery(t, edge, hub.httpUrl);
  t.same(missing, []);
});

t.test("link cut and restored six times, twice in the middle of a batch", async (t) => {
  const hub = await startTestHub(db.url);
  t.teardown(() => hub.close());
  const proxy = await TcpProxy.start({ host: "127.0.0.1", port: hub.grpcPort });
  t.teardown(() => proxy.close());
  const dir = tempDir("edge");
  const edge = await startTestEdge(writeSite(dir, sim, 100), dir, `127.0.0.1:${proxy.port}`, {
    sync: { ackTimeoutMs: 3000, backoff: { initialDelayMs: 100, maxDelayMs: 500 } },
  });
  t.teardown(() => edge.close());
  for (let round = 0; round < 6; round++) {
    const connections = proxy.connections;
    await waitFor(`round ${round}: connected`, () => proxy.connections > connections && edge.status().sync.connected);
    await sleep(300 + 100 * round);
    if (round % 3 === 2) {
      proxy.cutAfter(700); // the next batch is cut after its first bytes
      await waitFor(`round ${round}: cut mid-batch`, () => !edge.status().sync.connected, 10_000);
    } else proxy.cut();
    await sleep(500);
    proxy.restore();
  }
  const { missing } = await checkDelivery(t, edge, hub.httpUrl);
  t.same(missing, []);
});

for (const policy of ["drop-oldest", "reject-new"] as const) {
  t.test(`buffer budget overrun while the hub is unreachable (${policy})`, async (t) => {
    const hub = await startTestHub(db.url);
    t.teardown(() => hub.close());
    const proxy = await TcpProxy.start({ host: "127.0.0.1", port: hub.grpcPort });
    t.teardown(() => proxy.close());
    const dir = tempDir("edge");
    const site = writeSite(dir, sim, 100, { buffer: { maxRows: 400, policy } });
    const edge = await startTestEdge(site, dir, `127.0.0.1:${proxy.port}`);
    t.teardown(() => edge.close());
    await waitFor("acks flowing", () => edge.status().sync.lastAckAt);
    proxy.cut();
    const cutAt = edge.status().buffer.nextSeq;
    // ~28 readings per poll every 100 ms: the 400-row budget overflows within two seconds.
    await waitFor("readings given up", () => edge.status().buffer.nextSeq > cutAt + 800, 20_000);
    proxy.restore();
    const { missing } = await checkDelivery(t, edge, hub.httpUrl);
    const lost = missing.reduce((n, r) => n + r.last - r.first + 1, 0);
    t.ok(lost >= 400, `${lost} readings given up, reported as gaps`);
    const headers = await adminHeaders(db.url);
    const sync = (await (await fetch(`${hub.httpUrl}/api/v1/edges/${edge.edgeId}/sync`, { headers })).json()) as {
      gaps: { reason: string; count: number }[];
    };
    const reason = policy === "drop-oldest" ? "buffer-full" : "rejected";
    t.ok(sync.gaps.length > 0 && sync.gaps.every((g) => g.reason === reason), `gap records say ${reason}`);
    // Evicted readings whose batch the hub had committed just before the cut (ack lost) are
    // counted in the records but are not missing: the hub subtracts them.
    t.ok(sync.gaps.reduce((n, g) => n + g.count, 0) >= lost, "the gap records count every reading given up");
  });
}

t.test("batches travel gzip-compressed unless compression is turned off", async (t) => {
  const hub = await startTestHub(db.url);
  t.teardown(() => hub.close());
  const bytesFor = async (compression: "gzip" | "none") => {
    const proxy = await TcpProxy.start({ host: "127.0.0.1", port: hub.grpcPort });
    const buffer = ReadingBuffer.open(join(tempDir(`compression-${compression}`), "buffer.sqlite"));
    const start = Date.now();
    for (let i = 0; i < 20; i++) {
      buffer.append(
        Array.from({ length: 1000 }, (_, j) => ({
          deviceId: `inv-${j % 10}`,
          point: "active_power",
          ts: start + i * 1000,
          value: Math.round(5000 + 1000 * Math.sin((i * 1000 + j) / 500)),
          quality: Quality.QUALITY_GOOD,
          clockSynced: true,
        })),
      );
    }
    const forwarder = new Forwarder({
      hubUrl: `127.0.0.1:${proxy.port}`,
      credentials: credentials.createInsecure(),
      buffer,
      log,
      metrics: createEdgeMetrics(),
      agentVersion: "test",
      clockSynced: () => true,
      compression,
    });
    forwarder.start();
    await waitFor(`${compression}: delivered`, () => buffer.stats().depth === 0);
    await forwarder.stop();
    buffer.close();
    await proxy.close();
    return proxy.bytesUp;
  };
  const gzip = await bytesFor("gzip");
  const none = await bytesFor("none");
  t.ok(gzip < none * 0.8, `20,000 readings: ${gzip} bytes with gzip, ${none} without`);
});

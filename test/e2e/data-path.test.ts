/**
 * The data path end to end: simulated inverter → edge (Modbus TCP, SQLite, gRPC) → hub → PostgreSQL.
 * Every scenario ends with the hub holding exactly seqs 1..N of the edge, each reading once.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { startSunSpecInverterSim } from "@steinmetz/sim";
import t from "tap";
import {
  adminHeaders,
  daytimeClock,
  exactly,
  findFreePort,
  startDatabase,
  startTestEdge,
  startTestHub,
  stored,
  tempDir,
  waitFor,
  writeSite,
} from "../support/harness.js";

const db = await startDatabase();
t.teardown(() => db.stop());
// daylight for the whole test, whatever the time of the run: readings of good quality
const sim = await startSunSpecInverterSim({ speed: 60, now: daytimeClock() });
t.teardown(() => sim.close());

t.test("after N poll cycles the hub holds exactly the readings the edge produced", async (t) => {
  const hub = await startTestHub(db.url);
  t.teardown(() => hub.close());
  const dir = tempDir("edge");
  const edge = await startTestEdge(writeSite(dir, sim, 100), dir, `127.0.0.1:${hub.grpcPort}`);
  t.teardown(() => edge.close());
  await waitFor("10 poll cycles", () => (edge.status().devices[0]?.state.cycles ?? 0) >= 10);
  t.equal(await edge.drain(10_000), 0, "buffer drained");
  const metrics = await (await fetch(`${edge.httpUrl}/metrics`)).text();
  t.match(metrics, /^edge_buffer_depth 0$/m);
  t.match(metrics, /^edge_poll_cycles_total\{device="inverter-1",result="ok"\} \d+$/m);
  t.match(metrics, /^edge_sync_acked_readings_total \d+$/m);
  t.match(metrics, /^edge_sync_connected 1$/m);
  t.equal((await fetch(`${edge.httpUrl}/readyz`)).status, 200);
  const produced = edge.status().buffer.nextSeq - 1;
  t.ok(produced >= 10 * 20, `${produced} readings produced`);
  t.same(await stored(db.url, edge.edgeId), exactly(produced));

  const res = await fetch(`${hub.httpUrl}/api/v1/readings?edge=${edge.edgeId}&point=energy_exported&limit=1000`, {
    headers: await adminHeaders(db.url),
  });
  const { items } = (await res.json()) as { items: { value: number | null; quality: string }[] };
  // On a loaded machine a poll can time out: the device's fault is then recorded as a reading
  // without a value and of quality comm-error, which the hub stores like any other. An unchanged
  // counter is not stored again, so 10 cycles give up to 10 values.
  const values = items.filter((r) => r.quality === "good").map((r) => r.value as number);
  t.ok(values.length >= 5, `${values.length} energy readings through the HTTP API`);
  const others = items.filter((r) => r.quality !== "good");
  t.same(
    others.map((r) => ({ value: r.value, quality: r.quality })),
    others.map(() => ({ value: null, quality: "comm-error" })),
    "the others are poll timeouts, without a value",
  );
  t.ok(
    values.every((v, i) => i === 0 || v >= (values[i - 1] as number)),
    `the lifetime energy counter only grows: ${values.join(", ")}`,
  );
});

t.test("while the hub is unreachable the edge keeps polling and buffering, then delivers everything", async (t) => {
  const grpcPort = await findFreePort();
  const dir = tempDir("edge");
  const edge = await startTestEdge(writeSite(dir, sim, 100), dir, `127.0.0.1:${grpcPort}`);
  t.teardown(() => edge.close());
  await waitFor("readings buffered while offline", () => edge.status().buffer.depth >= 100);
  t.equal(edge.status().sync.connected, false);
  t.ok(edge.status().sync.lastError, "the failed connection is visible in the status");
  t.equal(edge.status().devices[0]?.state.status, "ok", "polling goes on");

  const hub = await startTestHub(db.url, grpcPort);
  t.teardown(() => hub.close());
  await waitFor("backlog delivered", () => edge.status().sync.connected && edge.status().buffer.depth < 40);
  t.equal(await edge.drain(10_000), 0);
  t.same(await stored(db.url, edge.edgeId), exactly(edge.status().buffer.nextSeq - 1));
});

t.test("a hub stopped and restarted mid-stream loses and duplicates nothing", async (t) => {
  let hub = await startTestHub(db.url);
  const grpcPort = hub.grpcPort;
  const dir = tempDir("edge");
  const edge = await startTestEdge(writeSite(dir, sim, 100), dir, `127.0.0.1:${grpcPort}`, {
    sync: { batch: { initial: 7, min: 7, max: 7 }, window: 4, backoff: { initialDelayMs: 100, maxDelayMs: 500 } },
  });
  t.teardown(() => edge.close());
  for (let round = 0; round < 3; round++) {
    await waitFor(
      "acks flowing",
      () => edge.status().sync.hubCommittedSeq > 0 && edge.status().sync.inflightBatches > 0,
    );
    await hub.close();
    await sleep(300 + round * 200);
    hub = await startTestHub(db.url, grpcPort);
  }
  t.teardown(() => hub.close());
  t.equal(await edge.drain(15_000), 0);
  t.ok(edge.status().sync.reconnects >= 3, `${edge.status().sync.reconnects} reconnects`);
  t.same(await stored(db.url, edge.edgeId), exactly(edge.status().buffer.nextSeq - 1));
});

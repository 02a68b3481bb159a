/**
 * The edge as its own OS process (`npm run edge`), killed with SIGKILL mid-stream and restarted
 * over the same data directory: same identity, seq continues, the hub holds every reading once.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { startSunSpecInverterSim } from "@steinmetz/sim";
import t from "tap";
import {
  exactly,
  exited,
  spawnEdge,
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
const sim = await startSunSpecInverterSim({ speed: 600 });
t.teardown(() => sim.close());
const hub = await startTestHub(db.url);
t.teardown(() => hub.close());

t.test("SIGKILL mid-stream, three times, then a clean drain: no gap, no duplicate", async (t) => {
  const dir = tempDir("edge");
  const site = writeSite(dir, sim, 100);
  const hubUrl = `127.0.0.1:${hub.grpcPort}`;
  const committed = async () => {
    const { rows } = await hub.pool.query("SELECT coalesce(max(committed_seq), 0)::int AS seq FROM raw.edges");
    return rows[0].seq as number;
  };
  for (const [round, runMs] of [700, 1300, 2100].entries()) {
    const before = await committed();
    const edge = await spawnEdge(site, dir, hubUrl);
    await waitFor(`round ${round}: readings reach the hub`, async () => (await committed()) > before);
    await sleep(runMs);
    edge.kill("SIGKILL");
    t.equal(await exited(edge), null, `round ${round}: killed`);
  }
  // A last start that stops polling and drains the buffer, so the hub must hold all of it.
  const edge = await startTestEdge(site, dir, hubUrl);
  t.equal(await edge.drain(15_000), 0, "buffer drained");
  const produced = edge.status().buffer.nextSeq - 1;
  await edge.close();
  const { rows } = await hub.pool.query("SELECT edge_id FROM raw.edges");
  t.same(
    rows.map((r) => r.edge_id),
    [edge.edgeId],
    "one edge identity across all restarts",
  );
  t.ok(produced > 100, `${produced} readings produced`);
  t.same(await stored(db.url, edge.edgeId), exactly(produced));
});

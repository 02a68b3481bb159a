/**
 * Enrolling a fresh appliance, all real: an edge started with no site and no certificate runs
 * with its link off; a site with a hub address is applied, then the certificate the hub issued
 * for it is installed through the agent's TLS control: the link comes up with mutual TLS and the
 * readings reach the hub. Bundles that do not belong together or to this edge are refused.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { startEdgeAgent } from "@steinmetz/edge";
import { initPki, issueEdgeCertificate, pkiDirOf, startHub } from "@steinmetz/hub";
import { startSunSpecInverterSim } from "@steinmetz/sim";
import t from "tap";
import { log, startDatabase, tempDir, waitFor } from "../support/harness.js";

const db = await startDatabase();
t.teardown(() => db.stop());
const sim = await startSunSpecInverterSim();
t.teardown(() => sim.close());
const hubDir = tempDir("hub");
await initPki(pkiDirOf(hubDir));
const hub = await startHub({ databaseUrl: db.url, dataDir: hubDir, httpPort: 0, grpcPort: 0, insecureDev: false, log });
t.teardown(() => hub.close());

const bundleOf = (dir: string) => ({
  ca: readFileSync(join(dir, "ca.crt"), "utf8"),
  cert: readFileSync(join(dir, "edge.crt"), "utf8"),
  key: readFileSync(join(dir, "edge.key"), "utf8"),
});
const committed = async (edgeId: string) =>
  Number(
    (await hub.pool.query("SELECT committed_seq FROM raw.edges WHERE edge_id = $1", [edgeId])).rows[0]?.committed_seq ??
      0,
  );

t.test("a fresh appliance is configured, enrolled and then delivers over mutual TLS", async (t) => {
  const dataDir = tempDir("edge-fresh");
  const edge = await startEdgeAgent({
    dataDir,
    insecureDev: false,
    httpPort: 0,
    log,
    sync: { backoff: { initialDelayMs: 100, maxDelayMs: 1000 } },
  });
  t.teardown(() => edge.close());
  const generated = edge.edgeId;
  t.match(edge.status().sync, { enabled: false, disabledReason: /no hub address/ });

  const applied = await edge.deps.config.apply(
    {
      site: { name: "Enrolled site" },
      hub: { url: `127.0.0.1:${hub.grpcPort}` },
      connections: [{ id: "lan", type: "tcp", host: sim.host, port: sim.port }],
      devices: [{ id: "inv", connection: "lan", profile: "inverter/sunspec-model103-tcp", pollIntervalMs: 200 }],
    },
    { baseVersion: 0, author: "setup" },
  );
  t.same(applied.applied.added, ["inv"]);
  t.match(edge.status().sync, { enabled: false, disabledReason: /no certificate/ });

  const foreignPki = tempDir("foreign-pki");
  await initPki(foreignPki);
  const foreign = tempDir("foreign-tls");
  await issueEdgeCertificate(foreignPki, "site-42", foreign);
  const issued = tempDir("issued-tls");
  await issueEdgeCertificate(pkiDirOf(hubDir), "site-42", issued);
  await t.rejects(edge.deps.tls.install({ ...bundleOf(issued), ca: bundleOf(foreign).ca }), {
    code: "EDGE_ERR_TLS",
    message: /edge\.crt: was not signed by the CA/,
  });
  await t.rejects(edge.deps.tls.install({ ...bundleOf(issued), key: bundleOf(foreign).key }), {
    code: "EDGE_ERR_TLS",
    message: /edge\.key: does not belong to the certificate/,
  });
  t.equal(edge.edgeId, generated, "nothing changed");

  // The appliance ran on a generated id: its first certificate names it.
  const state = await edge.deps.tls.install(bundleOf(issued));
  t.match(state, {
    enrolled: true,
    edgeId: "site-42",
    fingerprint: /^[0-9A-F:]+$/,
    hubUrl: `127.0.0.1:${hub.grpcPort}`,
  });
  t.equal(edge.edgeId, "site-42");
  t.equal(statSync(join(dataDir, "tls/edge.key")).mode & 0o777, 0o600);
  t.match(edge.status().sync, { enabled: true, disabledReason: null });
  await waitFor("readings delivered over mutual TLS", async () => (await committed("site-42")) > 20, 30_000);
  await waitFor("the send rate shows", () => edge.status().sync.sendRate > 0 && edge.status().sync.ackedTotal > 20);

  // From now on the id is the certificate's: another edge's certificate is refused.
  const other = tempDir("other-tls");
  await issueEdgeCertificate(pkiDirOf(hubDir), "site-43", other);
  await t.rejects(edge.deps.tls.install(bundleOf(other)), {
    code: "EDGE_ERR_TLS",
    message: /names edge site-43 but this edge is site-42/,
  });
  t.equal(edge.edgeId, "site-42");
});

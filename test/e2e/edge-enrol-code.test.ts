/**
 * Enrolling a fresh appliance with a one-time code, all real: the office makes a code on the hub,
 * the installer pastes it into the edge's settings (HTTP API, logged in), the edge makes its own
 * key pair and redeems the code at the hub: the link comes up with mutual TLS and the readings
 * reach the hub, while the hub never held the edge's private key. Used, expired, garbage and
 * wrongly pinned codes, and an unreachable hub, are refused and install nothing.
 */
import { createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { startEdgeAgent } from "@steinmetz/edge";
import { caPinOf, createEnrollmentCode, initPki, pkiDirOf, redeemEnrollmentCode, startHub } from "@steinmetz/hub";
import { startSunSpecInverterSim } from "@steinmetz/sim";
import t, { type Test } from "tap";
import { EdgeClient } from "../support/edge-client.js";
import { findFreePort, log, startDatabase, tempDir, waitFor } from "../support/harness.js";

type Problem = { code: string; status: number; detail: string };
type TlsState = { enrolled: boolean; edgeId: string; fingerprint: string | null; hubUrl: string | null };

const db = await startDatabase();
t.teardown(() => db.stop());
const sim = await startSunSpecInverterSim();
t.teardown(() => sim.close());
const hubDir = tempDir("hub");
const pkiDir = pkiDirOf(hubDir);
await initPki(pkiDir);
const hub = await startHub({ databaseUrl: db.url, dataDir: hubDir, httpPort: 0, grpcPort: 0, insecureDev: false, log });
t.teardown(() => hub.close());

const dataDir = tempDir("edge-code");
const edge = await startEdgeAgent({
  configFile: join(dataDir, "site.yaml"), // does not exist: a fresh appliance
  dataDir,
  insecureDev: false,
  httpPort: 0,
  log,
  sync: { backoff: { initialDelayMs: 100, maxDelayMs: 1000 } },
});
t.teardown(() => edge.close());
const installer = new EdgeClient(edge.httpUrl);
const tlsDir = join(dataDir, "tls");

const committed = async (edgeId: string) =>
  Number(
    (await hub.pool.query("SELECT committed_seq FROM raw.edges WHERE edge_id = $1", [edgeId])).rows[0]?.committed_seq ??
      0,
  );
const enroll = (code: string) => installer.call<Problem & TlsState>("POST", "/api/v1/tls/enroll", { code });
const nothingInstalled = async (t: Test) => {
  t.notOk(existsSync(join(tlsDir, "edge.key")), "no key installed");
  t.match((await installer.call("GET", "/api/v1/tls")).body, { enrolled: false });
};
/** Files of the hub's PKI directory holding a private key. */
const hubKeyFiles = () =>
  readdirSync(pkiDir)
    .filter((f) => readFileSync(join(pkiDir, f), "utf8").includes("PRIVATE KEY"))
    .sort();

t.before(async () => {
  const setup = await installer.call("POST", "/api/v1/setup", {
    siteName: "Enrolled by code",
    username: "anna",
    password: "correct horse battery",
  });
  if (setup.status !== 201) throw new Error(`setup: ${setup.status} ${JSON.stringify(setup.body)}`);
  const current = await installer.call("GET", "/api/v1/config");
  const saved = await installer.call(
    "PUT",
    "/api/v1/config",
    {
      config: {
        site: { name: "Enrolled by code" },
        hub: { url: `127.0.0.1:${hub.grpcPort}` },
        connections: [{ id: "lan", type: "tcp", host: sim.host, port: sim.port }],
        devices: [{ id: "inv", connection: "lan", profile: "inverter/sunspec-model103-tcp", pollIntervalMs: 200 }],
      },
    },
    { "if-match": current.headers.get("etag") ?? "" },
  );
  if (saved.status !== 200) throw new Error(`config: ${saved.status} ${JSON.stringify(saved.body)}`);
});

t.test("codes that cannot work are refused and install nothing", async (t) => {
  t.match(edge.status().sync, { enabled: false, disabledReason: /no certificate/ });

  const garbage = await enroll("hello, this is not a code");
  t.equal(garbage.status, 400);
  t.match(garbage.body, { code: "EDGE_ERR_TLS", detail: /enrollment code is malformed/ });
  const truncated = await enroll("stz1.aHR0cDovL3g.abc");
  t.match(truncated.body, { status: 400, code: "EDGE_ERR_TLS", detail: /3 parts/ });

  // A code whose pin is not this hub's CA (another hub, or someone in between): refused by the edge.
  const foreignPki = tempDir("foreign-pki");
  await initPki(foreignPki);
  const pinned = await createEnrollmentCode(pkiDir, "site-pin", { url: hub.httpUrl });
  const parts = pinned.code.split(".");
  parts[3] = caPinOf(readFileSync(join(foreignPki, "ca.crt")));
  const wrongPin = await enroll(parts.join("."));
  t.equal(wrongPin.status, 400);
  t.match(wrongPin.body, { code: "EDGE_ERR_TLS", detail: /the hub's CA does not match the code/ });
  await nothingInstalled(t);

  const expired = await createEnrollmentCode(pkiDir, "site-77", {
    url: hub.httpUrl,
    ttlMs: 3_600_000,
    now: new Date(Date.now() - 2 * 3_600_000),
  });
  const late = await enroll(expired.code);
  t.equal(late.status, 400);
  t.match(late.body, { code: "EDGE_ERR_ENROLL", detail: /expired at .*HUB_ERR_ENROLL_CODE/ });

  const unknown = await createEnrollmentCode(tempDir("other-pki"), "site-77", { url: hub.httpUrl }).catch(
    (err: Error) => err,
  );
  t.match(unknown, { code: "HUB_ERR_PKI_MISSING" }, "a code needs a CA");

  const closedPort = await findFreePort();
  const offline = await createEnrollmentCode(pkiDir, "site-77", { url: `http://127.0.0.1:${closedPort}` });
  const unreachable = await enroll(offline.code);
  t.equal(unreachable.status, 502);
  t.match(unreachable.body, { code: "EDGE_ERR_HUB_UNAVAILABLE", detail: /cannot be reached/ });

  const anonymous = await new EdgeClient(edge.httpUrl).call<Problem>("POST", "/api/v1/tls/enroll", {
    code: offline.code,
  });
  t.equal(anonymous.status, 401, "installers only");
  await nothingInstalled(t);
  t.same(hubKeyFiles(), ["ca.key", "hub.key"]);
});

t.test("a one-time code enrolls the fresh appliance; the key never left it", async (t) => {
  const generated = edge.edgeId;
  const { code } = await createEnrollmentCode(pkiDir, "site-77", { url: hub.httpUrl });
  const res = await enroll(code);
  t.equal(res.status, 200, JSON.stringify(res.body));
  t.match(res.body, {
    enrolled: true,
    edgeId: "site-77",
    fingerprint: /^[0-9A-F:]+$/,
    hubUrl: `127.0.0.1:${hub.grpcPort}`,
  });
  t.not(generated, "site-77");
  t.equal(edge.edgeId, "site-77", "the appliance took the certificate's id");

  t.equal(statSync(join(tlsDir, "edge.key")).mode & 0o777, 0o600);
  const key = readFileSync(join(tlsDir, "edge.key"), "utf8");
  const cert = new X509Certificate(readFileSync(join(tlsDir, "edge.crt")));
  t.equal(cert.subject, "CN=site-77");
  t.ok(cert.checkPrivateKey(createPrivateKey(key)), "the certificate is for the key the edge made");
  t.equal(readFileSync(join(tlsDir, "ca.crt"), "utf8"), readFileSync(join(pkiDir, "ca.crt"), "utf8"));
  t.same(hubKeyFiles(), ["ca.key", "hub.key"], "the hub holds no key for the edge");
  const keyBody = key.split("\n")[1] as string;
  for (const f of readdirSync(pkiDir)) t.notMatch(readFileSync(join(pkiDir, f), "utf8"), keyBody, f);

  t.match(edge.status().sync, { enabled: true, disabledReason: null });
  await waitFor("readings delivered over mutual TLS", async () => (await committed("site-77")) > 20, 30_000);

  // The same code a second time: refused by the hub; the certificate in force stays.
  const again = await enroll(code);
  t.equal(again.status, 400);
  t.match(again.body, { code: "EDGE_ERR_ENROLL", detail: /already used/ });
  t.match((await installer.call("GET", "/api/v1/tls")).body, { enrolled: true, fingerprint: res.body.fingerprint });

  // Once enrolled, a code for another edge is refused by the hub without using it up.
  const other = await createEnrollmentCode(pkiDir, "site-78", { url: hub.httpUrl });
  const mismatch = await enroll(other.code);
  t.equal(mismatch.status, 400);
  t.match(mismatch.body, { code: "EDGE_ERR_ENROLL", detail: /made for another edge/ });
  t.equal(edge.edgeId, "site-77");
  const pem = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({
    format: "pem",
    type: "spki",
  }) as string;
  t.match(await redeemEnrollmentCode(pkiDir, { code: other.code, publicKey: pem }), { edgeId: "site-78" }, "unused");

  // Enrolling again with a new code for this edge replaces the certificate; delivery goes on.
  const renewal = await createEnrollmentCode(pkiDir, "site-77", { url: hub.httpUrl });
  const renewed = await enroll(renewal.code);
  t.equal(renewed.status, 200, JSON.stringify(renewed.body));
  t.not(renewed.body.fingerprint, res.body.fingerprint);
  const before = await committed("site-77");
  await waitFor("readings delivered with the new certificate", async () => (await committed("site-77")) > before + 5);
});

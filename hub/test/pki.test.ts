/** Mutual TLS on the edge link: the hub PKI and its CLI, real TLS handshakes and calls on 127.0.0.1. */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import {
  type ChannelCredentials,
  credentials,
  type handleUnaryCall,
  Metadata,
  Server,
  type StatusObject,
  status,
} from "@grpc/grpc-js";
import {
  EdgeSyncServiceClient,
  type EdgeSyncServiceServer,
  EdgeSyncServiceService,
  HelloRequest,
  HelloResponse,
} from "@steinmetz/proto";
import pino from "pino";
import t from "tap";
import { loadEdgeTls } from "../../edge/src/sync/tls.js";
import { initPki, issueEdgeCertificate, revokeEdge } from "../src/pki/ca.js";
import {
  checkClaimedEdgeId,
  createEdgeAuthorizer,
  EDGE_AUTH_GRPC_STATUS,
  edgeAuthGrpcError,
} from "../src/pki/edge-authorizer.js";
import { readRegistry, writeRegistry } from "../src/pki/registry.js";
import { createHubServerCredentials } from "../src/pki/server-credentials.js";

const repoRoot = join(import.meta.dirname, "../..");
const root = mkdtempSync(join(tmpdir(), "hub-pki-test-"));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const pkiDir = join(root, "pki");
const mode = (path: string) => statSync(path).mode & 0o777;

// Everything the hub logs while authorizing, as the sync service would log refusals: `{ err }`.
const logLines: string[] = [];
const log = pino(
  { level: "trace" },
  new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
);

await initPki(pkiDir, { hosts: ["hub.test"] });
const authorize = createEdgeAuthorizer(pkiDir, { log });

// A real server with the hub's credentials; its Hello only authorizes, and names the edge in a trailer.
const hello: handleUnaryCall<HelloRequest, HelloResponse> = (call, callback) => {
  try {
    const edgeId = authorize(call);
    checkClaimedEdgeId(edgeId, call.request.edgeId);
    const trailer = new Metadata();
    trailer.set("authenticated-edge", edgeId);
    callback(null, HelloResponse.fromPartial({ hubTimeMs: Date.now() }), trailer);
  } catch (err) {
    log.warn({ err }, "call refused");
    callback(edgeAuthGrpcError(err));
  }
};
const server = new Server();
// Upload and ReportGaps are left out: grpc-js answers them UNIMPLEMENTED.
server.addService(EdgeSyncServiceService, { hello } as unknown as EdgeSyncServiceServer);
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync("127.0.0.1:0", createHubServerCredentials(pkiDir), (err, bound) =>
    err ? reject(err) : resolve(bound),
  ),
);
t.teardown(() => server.forceShutdown());

interface HelloOutcome {
  code: status;
  details: string;
  edgeId?: string;
}

/** One Hello on a client of its own (closed afterwards), claiming `claimed`. */
async function helloWith(creds: ChannelCredentials, claimed: string): Promise<HelloOutcome> {
  const client = new EdgeSyncServiceClient(`127.0.0.1:${port}`, creds);
  try {
    return await helloOn(client, claimed);
  } finally {
    client.close();
  }
}

function helloOn(client: EdgeSyncServiceClient, claimed: string): Promise<HelloOutcome> {
  return new Promise((resolve) => {
    const request = HelloRequest.fromPartial({ edgeId: claimed, agentVersion: "test", edgeTimeMs: Date.now() });
    const call = client.hello(request, new Metadata(), { deadline: Date.now() + 10_000 }, () => {});
    call.on("status", (s: StatusObject) => {
      const edgeId = s.metadata.get("authenticated-edge")[0];
      resolve({ code: s.code, details: s.details, ...(typeof edgeId === "string" ? { edgeId } : {}) });
    });
  });
}

async function issue(edgeId: string, dir = join(root, "edges", edgeId)) {
  const result = await issueEdgeCertificate(pkiDir, edgeId, dir);
  return { result, dir, tls: loadEdgeTls(dir) };
}

t.test("init and issue write the CA, the hub's and the edge's files with private keys at 0600", async (t) => {
  t.same(readdirSync(pkiDir).sort(), ["ca.crt", "ca.key", "edges.json", "hub.crt", "hub.key"], "no temporary files");
  t.equal(mode(join(pkiDir, "ca.key")), 0o600);
  t.equal(mode(join(pkiDir, "hub.key")), 0o600);
  t.equal(mode(join(pkiDir, "ca.crt")), 0o644);
  t.same(readRegistry(pkiDir), { version: 1, edges: {} });
  const { result, dir, tls } = await issue("edge-files");
  t.same(readdirSync(dir).sort(), ["ca.crt", "edge.crt", "edge.key"]);
  t.equal(mode(join(dir, "edge.key")), 0o600);
  t.equal(mode(join(dir, "edge.crt")), 0o644);
  t.equal(readFileSync(join(dir, "ca.crt"), "utf8"), readFileSync(join(pkiDir, "ca.crt"), "utf8"));
  t.equal(tls.edgeId, "edge-files", "the edge id is the certificate's CN");
  t.equal(tls.fingerprint, result.fingerprint);
  const notAfterDays = (Date.parse(result.notAfter) - Date.now()) / 86_400_000;
  t.ok(notAfterDays > 729 && notAfterDays < 731, "valid for two years");
  t.match(readRegistry(pkiDir).edges["edge-files"], {
    certificates: [{ serial: result.serial, fingerprint: result.fingerprint, revokedAt: null }],
  });
  await t.rejects(initPki(pkiDir), { code: "HUB_ERR_PKI_EXISTS" }, "an existing CA is kept without --force");
  await t.rejects(issueEdgeCertificate(pkiDir, "../evil", join(root, "x")), { code: "HUB_ERR_EDGE_ID_INVALID" });
});

t.test("a properly issued edge connects and is identified by its certificate's CN", async (t) => {
  const { tls } = await issue("edge-a");
  const outcome = await helloWith(tls.credentials, "edge-a");
  t.same(outcome, { code: status.OK, details: "OK", edgeId: "edge-a" });
});

t.test("a call claiming another edge id than its certificate's is PERMISSION_DENIED", async (t) => {
  const { tls } = await issue("edge-e");
  const outcome = await helloWith(tls.credentials, "edge-a");
  t.equal(outcome.code, status.PERMISSION_DENIED);
  t.match(outcome.details, /^HUB_ERR_EDGE_ID_MISMATCH: /);
  t.throws(() => checkClaimedEdgeId("edge-e", "edge-a"), { code: "HUB_ERR_EDGE_ID_MISMATCH", edgeId: "edge-e" });
  t.doesNotThrow(() => checkClaimedEdgeId("edge-e", "edge-e"));
});

t.test("a client certificate from another CA fails the TLS handshake", async (t) => {
  const otherPki = join(root, "other-pki");
  await initPki(otherPki);
  const foreign = join(root, "foreign");
  await issueEdgeCertificate(otherPki, "edge-a", foreign);
  const hubCa = readFileSync(join(pkiDir, "ca.crt"));
  const creds = credentials.createSsl(
    hubCa,
    readFileSync(join(foreign, "edge.key")),
    readFileSync(join(foreign, "edge.crt")),
  );
  const outcome = await helloWith(creds, "edge-a");
  t.equal(outcome.code, status.UNAVAILABLE, outcome.details);
  t.equal(outcome.edgeId, undefined);
  // loadEdgeTls catches the same mix-up before connecting.
  copyFileSync(join(pkiDir, "ca.crt"), join(foreign, "ca.crt"));
  t.throws(() => loadEdgeTls(foreign), { code: "EDGE_ERR_TLS", message: /edge\.crt: was not signed by the CA/ });
});

t.test("a client without a certificate is refused", async (t) => {
  const outcome = await helloWith(credentials.createSsl(readFileSync(join(pkiDir, "ca.crt"))), "edge-a");
  t.equal(outcome.code, status.UNAVAILABLE, "the handshake requires a client certificate");
  // Should a call ever get through without one, the authorizer refuses it too.
  t.throws(() => authorize({ getAuthContext: () => ({}) }), { code: "HUB_ERR_EDGE_CERT_MISSING" });
  t.throws(() => authorize({ getAuthContext: () => null }), { code: "HUB_ERR_EDGE_CERT_MISSING" });
  const mapped = edgeAuthGrpcError(t.throws(() => authorize({ getAuthContext: () => ({}) })));
  t.match(mapped, { code: status.UNAUTHENTICATED, details: /^HUB_ERR_EDGE_CERT_MISSING: / });
  t.match(edgeAuthGrpcError(new Error("boom")), { code: status.INTERNAL, details: /^HUB_ERR_INTERNAL: / });
  t.equal(EDGE_AUTH_GRPC_STATUS.HUB_ERR_EDGE_ID_MISMATCH, status.PERMISSION_DENIED);
});

t.test("a revoked certificate is refused from the next call on, on an open connection too", async (t) => {
  const { tls } = await issue("edge-c");
  const client = new EdgeSyncServiceClient(`127.0.0.1:${port}`, tls.credentials);
  t.teardown(() => client.close());
  t.match(await helloOn(client, "edge-c"), { code: status.OK, edgeId: "edge-c" });
  t.same(revokeEdge(pkiDir, "edge-c").revoked.length, 1);
  const outcome = await helloOn(client, "edge-c");
  t.equal(outcome.code, status.UNAUTHENTICATED);
  t.match(outcome.details, /^HUB_ERR_EDGE_REVOKED: /);
  t.same(revokeEdge(pkiDir, "edge-c").revoked, [], "revoking again changes nothing");
  t.throws(() => revokeEdge(pkiDir, "edge-never"), { code: "HUB_ERR_EDGE_UNKNOWN" });
});

t.test("a new certificate for an edge supersedes its earlier one", async (t) => {
  const first = await issue("edge-s", join(root, "edges", "edge-s-1"));
  const second = await issue("edge-s", join(root, "edges", "edge-s-2"));
  t.same(second.result.superseded, [first.result.serial]);
  t.match(await helloWith(first.tls.credentials, "edge-s"), {
    code: status.UNAUTHENTICATED,
    details: /^HUB_ERR_EDGE_REVOKED: /,
  });
  t.match(await helloWith(second.tls.credentials, "edge-s"), { code: status.OK, edgeId: "edge-s" });
});

t.test("an edge whose CN is not in the registry is refused", async (t) => {
  const { tls } = await issue("edge-d");
  t.match(await helloWith(tls.credentials, "edge-d"), { code: status.OK });
  const registry = readRegistry(pkiDir);
  delete registry.edges["edge-d"];
  writeRegistry(pkiDir, registry);
  const outcome = await helloWith(tls.credentials, "edge-d");
  t.equal(outcome.code, status.UNAUTHENTICATED);
  t.match(outcome.details, /^HUB_ERR_EDGE_UNKNOWN: /);
});

t.test("loadEdgeTls names the missing or mismatching file", async (t) => {
  const a = await issue("edge-l1");
  const b = await issue("edge-l2");
  const mixed = join(root, "mixed");
  mkdirSync(mixed);
  t.throws(() => loadEdgeTls(mixed), { code: "EDGE_ERR_TLS", message: /ca\.crt: does not exist/ });
  copyFileSync(join(a.dir, "ca.crt"), join(mixed, "ca.crt"));
  copyFileSync(join(a.dir, "edge.crt"), join(mixed, "edge.crt"));
  copyFileSync(join(b.dir, "edge.key"), join(mixed, "edge.key"));
  t.throws(() => loadEdgeTls(mixed), {
    code: "EDGE_ERR_TLS",
    message: /edge\.key: does not belong to the certificate/,
  });
  copyFileSync(join(a.dir, "edge.key"), join(mixed, "edge.crt"));
  t.throws(() => loadEdgeTls(mixed), { code: "EDGE_ERR_TLS", message: /edge\.crt: is not a PEM certificate/ });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run hub -- pki ...args` as a child process with HUB_DATA_DIR = `dataDir`. */
function cli(dataDir: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", join(repoRoot, "hub/src/main.ts"), "pki", ...args],
      { cwd: repoRoot, env: { ...process.env, HUB_DATA_DIR: dataDir } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

t.test("CLI: pki init, issue, revoke and list", async (t) => {
  const dataDir = join(root, "cli-data");
  const out = join(root, "cli-edge");
  const runs: Run[] = [];
  const run = async (...args: string[]) => {
    const result = await cli(dataDir, ...args);
    runs.push(result);
    return result;
  };

  const init = await run("init", "--host", "hub.example.org", "--host", "10.0.0.5");
  t.equal(init.code, 0, init.stderr);
  t.match(JSON.parse(init.stdout), {
    pkiDir: join(dataDir, "pki"),
    hosts: ["localhost", "127.0.0.1", "::1", "hub.example.org", "10.0.0.5"],
  });
  const again = await run("init");
  t.equal(again.code, 1);
  t.match(again.stderr, /HUB_ERR_PKI_EXISTS/);
  t.equal((await run("init", "--force")).code, 0, "--force replaces the CA");

  const issued = await run("issue", "--edge", "edge-cli", "--out", out);
  t.equal(issued.code, 0, issued.stderr);
  const { serial, fingerprint } = JSON.parse(issued.stdout);
  t.equal(mode(join(out, "edge.key")), 0o600);
  t.equal(loadEdgeTls(out).fingerprint, fingerprint);

  // Bad arguments change nothing, so they run side by side.
  const [noEdge, badId, badHost, badCommand, badOption] = await Promise.all([
    run("issue", "--out", out),
    run("issue", "--edge", "bad/id", "--out", out),
    run("init", "--host", "not a host", "--force"),
    run("frobnicate"),
    run("list", "--bogus"),
  ]);
  t.match(noEdge, { code: 2, stderr: /--edge is required\nusage: / });
  t.match(badId, { code: 2, stderr: /HUB_ERR_EDGE_ID_INVALID/ });
  t.match(badHost, { code: 2, stderr: /HUB_ERR_VALIDATION: --host "not a host"/ });
  t.match(badCommand, { code: 2, stderr: /unknown command "frobnicate"/ });
  t.match(badOption, { code: 2, stderr: /--bogus/ });

  const revoked = await run("revoke", "--edge", "edge-cli");
  t.equal(revoked.code, 0, revoked.stderr);
  t.same(JSON.parse(revoked.stdout), { edgeId: "edge-cli", revoked: [serial] });
  const unknown = await run("revoke", "--edge", "edge-nobody");
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /HUB_ERR_EDGE_UNKNOWN/);

  const list = await run("list");
  t.equal(list.code, 0, list.stderr);
  t.match(JSON.parse(list.stdout), {
    edges: [
      { edgeId: "edge-cli", status: "revoked", certificates: [{ serial, fingerprint, revokeReason: "revoked" }] },
    ],
  });

  for (const r of runs) t.notMatch(`${r.stdout}${r.stderr}`, /PRIVATE KEY|BEGIN CERTIFICATE/, "no key or PEM printed");
});

t.test("CLI: pki revoke takes effect on the running server", async (t) => {
  const { tls } = await issue("edge-live");
  const client = new EdgeSyncServiceClient(`127.0.0.1:${port}`, tls.credentials);
  t.teardown(() => client.close());
  t.match(await helloOn(client, "edge-live"), { code: status.OK, edgeId: "edge-live" });
  const revoked = await cli(root, "revoke", "--edge", "edge-live");
  t.equal(revoked.code, 0, revoked.stderr);
  t.match(await helloOn(client, "edge-live"), { code: status.UNAUTHENTICATED, details: /^HUB_ERR_EDGE_REVOKED: / });
});

t.test("nothing logged contains key material or certificate PEM", async (t) => {
  t.ok(logLines.length > 0, "refusals were logged");
  t.match(logLines.join(""), /"fingerprint":"[0-9A-F:]{95}"/, "refusals name the certificate by fingerprint");
  for (const line of logLines) t.notMatch(line, /PRIVATE KEY|BEGIN CERTIFICATE/);
});

/**
 * One-time enrollment codes on the hub: the code store (only hashes, 0600, atomic), redeeming a
 * code for a certificate of the edge's own public key (once, also under concurrency, across
 * processes too), the `pki enroll-code` CLI and the public `POST /api/v1/pki/enroll` route.
 */
import { execFile } from "node:child_process";
import { createHash, generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import Fastify, { type FastifyBaseLogger } from "fastify";
import pino from "pino";
import t from "tap";
import { initPki } from "../src/pki/ca.js";
import { enrollRoutes } from "../src/pki/enroll-routes.js";
import {
  caPinOf,
  createEnrollmentCode,
  readEnrollmentCodes,
  redeemEnrollmentCode,
  secretOf,
} from "../src/pki/enrollment.js";
import { readRegistry } from "../src/pki/registry.js";
import { MemoryFailureLimiter } from "../src/platform/failure-limiter.js";
import { registerProblemHandler } from "../src/platform/problem.js";

const repoRoot = join(import.meta.dirname, "../..");
const root = mkdtempSync(join(tmpdir(), "hub-enroll-test-"));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const pkiDir = join(root, "pki");
await initPki(pkiDir);
const URL_ = "http://127.0.0.1:3000";
const HOUR = 3_600_000;

const newPublicKey = () =>
  generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ format: "pem", type: "spki" }) as string;
const certificatesOf = (edgeId: string) => readRegistry(pkiDir).edges[edgeId]?.certificates ?? [];

t.test("a code carries the URL, a 192-bit secret and the CA pin; the store keeps only its hash, 0600", async (t) => {
  const created = await createEnrollmentCode(pkiDir, "edge-1", { url: `${URL_}/`, ttlMs: 2 * HOUR });
  const [prefix, url, secret, pin] = created.code.split(".");
  t.equal(prefix, "stz1");
  t.equal(Buffer.from(url as string, "base64url").toString(), URL_, "trailing slash dropped");
  t.match(secret, /^[A-Za-z0-9_-]{32}$/);
  t.equal(pin, caPinOf(readFileSync(join(pkiDir, "ca.crt"))));
  t.equal(pin?.length, 32);
  t.equal(created.url, URL_);
  t.ok(Math.abs(Date.parse(created.expiresAt) - Date.now() - 2 * HOUR) < 5000);

  const file = join(pkiDir, "enroll-codes.json");
  t.equal(statSync(file).mode & 0o777, 0o600);
  const text = readFileSync(file, "utf8");
  t.notMatch(text, secret as string, "the secret is not stored");
  const hash = createHash("sha256")
    .update(secret as string)
    .digest("hex");
  t.match(readEnrollmentCodes(pkiDir).codes[hash], { edgeId: "edge-1", usedAt: null, expiresAt: created.expiresAt });
  t.equal(created.codeId, hash.slice(0, 8));
  t.notOk(
    readdirSync(pkiDir).some((f) => f.endsWith(".tmp") || f === ".pki.lock"),
    "no temporary or lock file left",
  );

  t.equal(secretOf(created.code), secret);
  t.equal(secretOf(` ${created.code.slice(0, 20)}\n${created.code.slice(20)} `), secret, "white space ignored");
  t.equal(secretOf(secret as string), secret, "the secret alone");
  t.equal(secretOf("stz1.a.b"), undefined);

  await t.rejects(createEnrollmentCode(pkiDir, "../x", { url: URL_ }), { code: "HUB_ERR_EDGE_ID_INVALID" });
  await t.rejects(createEnrollmentCode(pkiDir, "edge-1", { url: "ftp://hub" }), { code: "HUB_ERR_VALIDATION" });
  await t.rejects(createEnrollmentCode(pkiDir, "edge-1", { url: "http://u:p@hub" }), { code: "HUB_ERR_VALIDATION" });
  await t.rejects(createEnrollmentCode(pkiDir, "edge-1", { url: URL_, ttlMs: 0 }), { code: "HUB_ERR_VALIDATION" });
  await t.rejects(createEnrollmentCode(join(root, "none"), "edge-1", { url: URL_ }), { code: "HUB_ERR_PKI_MISSING" });
});

t.test("redeeming signs the edge's own public key with CN = the code's edge id, once", async (t) => {
  const { code } = await createEnrollmentCode(pkiDir, "edge-2", { url: URL_ });
  const publicKey = newPublicKey();
  const issued = await redeemEnrollmentCode(pkiDir, { code, publicKey });
  const cert = new X509Certificate(issued.certPem);
  t.equal(cert.subject, "CN=edge-2");
  t.ok(cert.verify(new X509Certificate(issued.caPem).publicKey));
  t.equal(cert.publicKey.export({ format: "pem", type: "spki" }), publicKey, "the edge's key, not a new one");
  t.equal(issued.caPem, readFileSync(join(pkiDir, "ca.crt"), "utf8"));
  t.match(certificatesOf("edge-2"), [{ serial: issued.serial, fingerprint: issued.fingerprint, revokedAt: null }]);
  const withKeys = readdirSync(pkiDir).filter((f) => readFileSync(join(pkiDir, f), "utf8").includes("PRIVATE KEY"));
  t.same(withKeys.sort(), ["ca.key", "hub.key"], "no key for the edge in the pki directory");
  t.match(
    Object.values(readEnrollmentCodes(pkiDir).codes).find((c) => c.edgeId === "edge-2"),
    {
      usedAt: /^\d{4}-/,
      serial: issued.serial,
    },
  );

  await t.rejects(redeemEnrollmentCode(pkiDir, { code, publicKey: newPublicKey() }), {
    code: "HUB_ERR_ENROLL_CODE",
    message: /already used/,
  });
  t.equal(certificatesOf("edge-2").length, 1, "no second certificate");

  // A later code for the same edge supersedes the first certificate, like `pki issue`.
  const again = await createEnrollmentCode(pkiDir, "edge-2", { url: URL_ });
  const second = await redeemEnrollmentCode(pkiDir, { code: again.code.split(".")[2] as string, publicKey });
  t.same(second.superseded, [issued.serial], "the secret part alone is accepted");
});

t.test("unknown, expired, malformed codes and codes for another edge are refused without naming edges", async (t) => {
  const publicKey = newPublicKey();
  const { code } = await createEnrollmentCode(pkiDir, "edge-3", { url: URL_, ttlMs: HOUR });
  const later = new Date(Date.now() + 2 * HOUR);
  const refusals = await Promise.allSettled([
    redeemEnrollmentCode(pkiDir, { code, publicKey }, later),
    redeemEnrollmentCode(pkiDir, { code: `${code.slice(0, -40)}${"A".repeat(7)}${code.slice(-33)}`, publicKey }),
    redeemEnrollmentCode(pkiDir, { code: "not-a-code", publicKey }),
    redeemEnrollmentCode(pkiDir, { code, publicKey, expectEdgeId: "edge-4" }),
  ]);
  const messages = [/expired at/, /unknown/, /not an enrollment code/, /made for another edge/];
  for (const [i, refusal] of refusals.entries()) {
    if (refusal.status === "fulfilled") {
      t.fail(`refusal ${i} was accepted`);
      continue;
    }
    t.match(refusal.reason, { code: "HUB_ERR_ENROLL_CODE", message: messages[i] });
    t.notMatch(String(refusal.reason.message), /edge-[34]/, "no edge id in the message");
  }
  t.equal(certificatesOf("edge-3").length, 0);

  // A key that is not EC P-256 is refused before the code is looked at, and leaves it unused.
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "pem", type: "spki" });
  await t.rejects(redeemEnrollmentCode(pkiDir, { code, publicKey: rsa as string }), {
    code: "HUB_ERR_VALIDATION",
    message: /rsa, not EC P-256/,
  });
  const p384 = generateKeyPairSync("ec", { namedCurve: "secp384r1" }).publicKey.export({ format: "pem", type: "spki" });
  await t.rejects(redeemEnrollmentCode(pkiDir, { code, publicKey: p384 as string }), { code: "HUB_ERR_VALIDATION" });
  const privatePem = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({
    format: "pem",
    type: "pkcs8",
  });
  await t.rejects(redeemEnrollmentCode(pkiDir, { code, publicKey: privatePem as string }), {
    code: "HUB_ERR_VALIDATION",
    message: /not an SPKI PEM/,
  });
  await t.rejects(redeemEnrollmentCode(pkiDir, { code, publicKey: "garbage" }), { code: "HUB_ERR_VALIDATION" });
  t.ok(await redeemEnrollmentCode(pkiDir, { code, publicKey, expectEdgeId: "edge-3" }), "still usable");
});

t.test("concurrent redemptions of one code give exactly one certificate", async (t) => {
  const { code } = await createEnrollmentCode(pkiDir, "edge-race", { url: URL_ });
  const results = await Promise.allSettled(
    Array.from({ length: 12 }, () => redeemEnrollmentCode(pkiDir, { code, publicKey: newPublicKey() })),
  );
  const won = results.filter((r) => r.status === "fulfilled");
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  t.equal(won.length, 1);
  t.equal(lost.length, 11);
  for (const r of lost) t.match(r.reason, { code: "HUB_ERR_ENROLL_CODE", message: /already used/ });
  t.equal(certificatesOf("edge-race").length, 1);

  // Different codes at once: every certificate is registered (the registry is changed under the lock too).
  const codes = await Promise.all(
    Array.from({ length: 6 }, (_, i) => createEnrollmentCode(pkiDir, `edge-many-${i}`, { url: URL_ })),
  );
  await Promise.all(codes.map((c) => redeemEnrollmentCode(pkiDir, { code: c.code, publicKey: newPublicKey() })));
  for (let i = 0; i < 6; i++) t.equal(certificatesOf(`edge-many-${i}`).length, 1, `edge-many-${i}`);
});

t.test("concurrent redemptions from separate processes give exactly one certificate", async (t) => {
  const { code } = await createEnrollmentCode(pkiDir, "edge-procs", { url: URL_ });
  const script = join(import.meta.dirname, "fixtures/redeem-code.ts");
  const outcomes = await Promise.all(
    Array.from(
      { length: 4 },
      () =>
        new Promise<string>((resolve) =>
          execFile(
            process.execPath,
            ["--import", "tsx", script, pkiDir, code],
            { cwd: repoRoot, timeout: 60_000 },
            (_err, stdout) => resolve(stdout),
          ),
        ),
    ),
  );
  t.same(outcomes.sort(), ["HUB_ERR_ENROLL_CODE", "HUB_ERR_ENROLL_CODE", "HUB_ERR_ENROLL_CODE", "issued"]);
  t.equal(certificatesOf("edge-procs").length, 1);
});

t.test("CLI: pki enroll-code prints a code for the hub's HTTP URL", async (t) => {
  const dataDir = join(root, "cli-data");
  await initPki(join(dataDir, "pki"));
  const cli = (env: Record<string, string>, ...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        ["--import", "tsx", join(repoRoot, "hub/src/main.ts"), "pki", "enroll-code", ...args],
        { cwd: repoRoot, env: { ...process.env, HUB_DATA_DIR: dataDir, ...env }, timeout: 60_000 },
        (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
      ),
    );
  const [byPort, byUrl, noEdge, badTtl, badUrl] = await Promise.all([
    cli({ HUB_HTTP_PORT: "3999" }, "--edge", "edge-cli"),
    cli({}, "--edge", "edge-cli", "--ttl-hours", "1", "--url", "https://hub.example.org:8443"),
    cli({}),
    cli({}, "--edge", "edge-cli", "--ttl-hours", "soon"),
    cli({}, "--edge", "edge-cli", "--url", "hub:3000"),
  ]);
  t.equal(byPort.code, 0, byPort.stderr);
  const first = JSON.parse(byPort.stdout);
  t.match(first, { code: /^stz1\./, edgeId: "edge-cli", url: "http://127.0.0.1:3999" });
  t.ok(Math.abs(Date.parse(first.expiresAt) - Date.now() - 72 * HOUR) < 60_000, "72 h by default");
  t.equal(byUrl.code, 0, byUrl.stderr);
  const second = JSON.parse(byUrl.stdout);
  t.equal(Buffer.from(second.code.split(".")[1], "base64url").toString(), "https://hub.example.org:8443");
  t.ok(Math.abs(Date.parse(second.expiresAt) - Date.now() - HOUR) < 60_000);
  t.match(noEdge, { code: 2, stderr: /--edge is required/ });
  t.match(badTtl, { code: 2, stderr: /--ttl-hours "soon" is not a number/ });
  t.match(badUrl, { code: 2, stderr: /HUB_ERR_VALIDATION/ });
  t.equal(Object.keys(readEnrollmentCodes(join(dataDir, "pki")).codes).length, 2);
});

t.test("POST /api/v1/pki/enroll: answers the certificate, refuses as problem+json, limits failures", async (t) => {
  const lines: string[] = [];
  const log = pino(
    { level: "trace" },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  const app = Fastify({ loggerInstance: log as FastifyBaseLogger });
  registerProblemHandler(app);
  await app.register(enrollRoutes, {
    prefix: "/api/v1",
    pkiDir,
    limiter: new MemoryFailureLimiter({ maxFailures: 3, windowMs: 60_000 }),
  });
  t.teardown(() => app.close());
  const enroll = (payload: unknown, remoteAddress = "10.0.0.1") =>
    app.inject({ method: "POST", url: "/api/v1/pki/enroll", payload: payload as object, remoteAddress });

  const { code } = await createEnrollmentCode(pkiDir, "edge-http", { url: URL_ });
  const ok = await enroll({ code, publicKey: newPublicKey() });
  t.equal(ok.statusCode, 200, ok.body);
  const body = ok.json();
  t.same(Object.keys(body).sort(), ["ca", "cert", "edgeId"]);
  t.equal(body.edgeId, "edge-http");
  t.match(body.cert, /^-----BEGIN CERTIFICATE-----/);

  const used = await enroll({ code, publicKey: newPublicKey() });
  t.equal(used.statusCode, 403);
  t.match(used.headers["content-type"], /application\/problem\+json/);
  t.match(used.json(), { code: "HUB_ERR_ENROLL_CODE", status: 403, detail: /already used/ });

  const invalid = await enroll({ code });
  t.match(invalid.json(), { code: "HUB_ERR_VALIDATION", status: 400 });
  const tooBig = await enroll({ code, publicKey: "x".repeat(20_000) });
  t.equal(tooBig.statusCode, 413, "body limit");

  // 3 refused codes from one address within the window: the 4th attempt waits, other addresses do not.
  t.equal((await enroll({ code: "unknown-secret-0123456789ab", publicKey: newPublicKey() })).statusCode, 403);
  t.equal((await enroll({ code: "unknown-secret-0123456789ab", publicKey: newPublicKey() })).statusCode, 403);
  const limited = await enroll({ code: "unknown-secret-0123456789ab", publicKey: newPublicKey() });
  t.equal(limited.statusCode, 429);
  t.match(limited.json(), { code: "HUB_ERR_RATE_LIMITED" });
  t.ok(Number(limited.headers["retry-after"]) > 0, "Retry-After");
  const fresh = await createEnrollmentCode(pkiDir, "edge-http-2", { url: URL_ });
  t.equal((await enroll({ code: fresh.code, publicKey: newPublicKey() })).statusCode, 429, "even a good code waits");
  t.equal((await enroll({ code: fresh.code, publicKey: newPublicKey() }, "10.0.0.2")).statusCode, 200);

  const logged = lines.join("");
  t.match(logged, /edge enrolled with a one-time code/);
  t.match(logged, /enrollment code refused/);
  t.notMatch(logged, code.split(".")[2] as string, "the secret is never logged");
  t.notMatch(logged, fresh.code.split(".")[2] as string);
  t.notMatch(logged, /PRIVATE KEY/);
});

t.test("MemoryFailureLimiter: a sliding window per key", async (t) => {
  let now = 0;
  const limiter = new MemoryFailureLimiter({ maxFailures: 2, windowMs: 10_000 }, () => now);
  await limiter.failed("a");
  now = 4000;
  await limiter.failed("a");
  t.equal(await limiter.retryAfterS("a"), 6);
  t.equal(await limiter.retryAfterS("b"), 0);
  now = 10_001;
  t.equal(await limiter.retryAfterS("a"), 0, "the first failure left the window");
});

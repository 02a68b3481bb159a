import { readFileSync } from "node:fs";
import { join } from "node:path";
import Fastify from "fastify";
import t from "tap";
import { EDGE_ERRORS } from "../src/errors.js";
import { loadUiAssets, UI_CONTENT_SECURITY_POLICY, uiAssetsPlugin } from "../src/http/ui-assets.js";

/** The installer UI's budget for all JavaScript, gzipped. */
const JS_BUDGET_BYTES = 250 * 1024;

t.test("the installer UI builds, stays within budget and is served with strict headers", async (t) => {
  const assets = await loadUiAssets({ prebuiltDir: null });
  const index = assets.get("/index.html");
  if (!index) throw new Error("no index.html");
  const html = index.body.toString("utf8");
  const scripts = [...html.matchAll(/<script type="module" src="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1] as string);
  const styles = [...html.matchAll(/<link rel="stylesheet" href="(\/assets\/[^"]+\.css)"/g)].map((m) => m[1] as string);
  t.equal(scripts.length, 1, "index.html loads one module script");
  t.equal(styles.length, 1, "index.html loads one stylesheet");
  for (const path of [...scripts, ...styles]) t.ok(assets.has(path), `${path} is built`);
  t.notMatch(html, /<script>|<style|style="/, "nothing inline (the CSP forbids it)");

  const js = [...assets].filter(([path]) => path.endsWith(".js"));
  const css = [...assets].filter(([path]) => path.endsWith(".css"));
  const jsGzip = js.reduce((sum, [, a]) => sum + a.gzip.length, 0);
  const cssGzip = css.reduce((sum, [, a]) => sum + a.gzip.length, 0);
  t.comment(`UI JavaScript ${(jsGzip / 1024).toFixed(1)} KiB gzipped, CSS ${(cssGzip / 1024).toFixed(1)} KiB gzipped`);
  t.ok(jsGzip <= JS_BUDGET_BYTES, `gzipped JavaScript ${jsGzip} B <= ${JS_BUDGET_BYTES} B`);
  t.ok(
    css.some(([, a]) => a.body.toString().includes(".uplot")),
    "uPlot's stylesheet is bundled",
  );

  const app = Fastify();
  await app.register(uiAssetsPlugin(assets));
  t.teardown(() => app.close());

  const root = await app.inject({ url: "/", headers: { "accept-encoding": "gzip, deflate" } });
  t.equal(root.statusCode, 200);
  t.equal(root.headers["content-type"], "text/html; charset=utf-8");
  t.equal(root.headers["content-encoding"], "gzip");
  t.equal(root.headers["cache-control"], "no-cache", "index.html is revalidated on every load");
  t.equal(root.headers["content-security-policy"], UI_CONTENT_SECURITY_POLICY);
  for (const directive of [
    "default-src 'self'",
    "img-src 'self' data:",
    "style-src 'self'",
    "connect-src 'self'",
    "frame-ancestors 'none'",
  ]) {
    t.match(String(root.headers["content-security-policy"]), directive);
  }
  t.notMatch(String(root.headers["content-security-policy"]), "unsafe-inline");
  t.equal(root.headers["x-content-type-options"], "nosniff");
  t.equal(root.headers["referrer-policy"], "no-referrer");
  t.equal(root.headers.etag, index.etag);
  t.match(index.etag, /^"[^"]+"$/, "strong ETag");
  t.same(root.rawPayload, index.gzip);

  const plain = await app.inject({ url: "/" });
  t.equal(plain.headers["content-encoding"], undefined, "no gzip unless accepted");
  t.equal(plain.body, html);

  const notModified = await app.inject({ url: "/", headers: { "if-none-match": index.etag } });
  t.equal(notModified.statusCode, 304);
  t.equal(notModified.body, "");
  t.equal(notModified.headers.etag, index.etag);

  const script = scripts[0] as string;
  const bundle = await app.inject({ url: script, headers: { "accept-encoding": "gzip" } });
  t.equal(bundle.statusCode, 200);
  t.equal(bundle.headers["content-type"], "text/javascript; charset=utf-8");
  t.equal(bundle.headers["content-encoding"], "gzip");
  t.equal(bundle.headers["cache-control"], "public, max-age=31536000, immutable", "hashed names are cached for good");
  t.equal(bundle.headers["content-security-policy"], UI_CONTENT_SECURITY_POLICY);

  const stylesheet = await app.inject({ url: styles[0] as string });
  t.equal(stylesheet.headers["content-type"], "text/css; charset=utf-8");

  const missing = await app.inject({ url: "/assets/nope.js" });
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().code, "EDGE_ERR_NOT_FOUND");
});

t.test("the UI has a German and an English message for every error code the edge has", async (t) => {
  const source = readFileSync(join(import.meta.dirname, "../ui/src/i18n.ts"), "utf8");
  const table = source.slice(source.indexOf("const ERRORS"));
  for (const code of Object.keys(EDGE_ERRORS)) {
    t.match(table, new RegExp(`${code}: \\{\\s*de: "[^"]+",\\s*en: "[^"]+"`), code);
  }
});

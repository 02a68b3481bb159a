/**
 * The installer web UI's static files: built in memory from `edge/ui/` with esbuild (development,
 * tests) or read from the prebuilt `edge/dist/ui/` (the appliance build, `npm run build:edge`), and
 * served by a fastify plugin with strong ETags, gzip and a strict content security policy.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, extname, join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";

/** One file of the UI, ready to send. */
export interface UiAsset {
  body: Buffer;
  /** The body gzipped (zlib level 9). */
  gzip: Buffer;
  contentType: string;
  /** Strong ETag (quoted) of the body. */
  etag: string;
  /** True for content-hashed file names, which never change and may be cached forever. */
  immutable: boolean;
}

/** Where `loadUiAssets` takes the files from. */
export interface UiAssetsOptions {
  /**
   * A prebuilt directory to read (`index.html` plus `assets/`); default: `edge/dist/ui` when the
   * appliance bundle runs (see `defaultPrebuiltDir`). `null` always builds from the sources.
   */
  prebuiltDir?: string | null;
}

/** The content security policy of every UI response: nothing inline, nothing from elsewhere. */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".map": "application/json",
};

const here = import.meta.dirname;
/** True when running as the appliance bundle `edge/dist/edge.mjs` rather than from `edge/src/http`. */
const bundled = !import.meta.filename.endsWith(".ts");
/** `edge/dist/ui` seen from the running code. */
const PREBUILT_DIR = bundled ? join(here, "ui") : join(here, "../../dist/ui");
/** `edge/ui` seen from the running code. */
const SOURCE_DIR = bundled ? join(here, "../ui") : join(here, "../../ui");

/** Turns a file (path relative to the UI root, e.g. `assets/main-AB12.js`) into a servable asset. */
function toAsset(path: string, body: Buffer): UiAsset {
  const hash = createHash("sha256").update(body).digest("base64url").slice(0, 27);
  return {
    body,
    gzip: gzipSync(body, { level: 9 }),
    contentType: CONTENT_TYPES[extname(path)] ?? "application/octet-stream",
    etag: `"${hash}"`,
    immutable: path.startsWith("assets/"),
  };
}

/**
 * Bundles `edge/ui/src/main.tsx` (JavaScript and CSS with content-hashed names) and fills the
 * `index.html` template with their names; returns file path (relative, `/`-separated) → content.
 */
async function buildUiFiles(): Promise<Map<string, Buffer>> {
  const uiRoot = SOURCE_DIR;
  if (!existsSync(join(uiRoot, "src/main.tsx"))) throw new Error(`installer UI sources not found in ${uiRoot}`);
  // Loaded only here: the appliance reads the prebuilt files and has no esbuild.
  const { build } = await import("esbuild");
  const outdir = join(uiRoot, "out");
  const result = await build({
    absWorkingDir: uiRoot,
    entryPoints: [join(uiRoot, "src/main.tsx")],
    outdir,
    entryNames: "assets/[name]-[hash]",
    assetNames: "assets/[name]-[hash]",
    write: false,
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2020",
    platform: "browser",
    jsx: "automatic",
    jsxImportSource: "preact",
    legalComments: "none",
    logLevel: "silent",
  });
  const files = new Map<string, Buffer>();
  for (const out of result.outputFiles) {
    files.set(relative(outdir, out.path).split("\\").join("/"), Buffer.from(out.contents));
  }
  const js = [...files.keys()].find((p) => p.endsWith(".js"));
  const css = [...files.keys()].find((p) => p.endsWith(".css"));
  if (!js || !css) throw new Error("installer UI build produced no script or no stylesheet");
  const template = await readFile(join(uiRoot, "index.html"), "utf8");
  const html = template.replace("/assets/main.js", `/${js}`).replace("/assets/main.css", `/${css}`);
  if (html === template) throw new Error("edge/ui/index.html does not reference /assets/main.js and /assets/main.css");
  files.set("index.html", Buffer.from(html));
  return files;
}

/**
 * `edge/dist/ui` when it exists and the code runs as the bundle, or when the UI sources are
 * missing. From the sources the UI is always built, so a `dist/ui` left by an earlier
 * `npm run build:edge` (the benchmarks run it) never serves a stale UI during development.
 */
function defaultPrebuiltDir(): string | undefined {
  if (!existsSync(join(PREBUILT_DIR, "index.html"))) return undefined;
  return bundled || !existsSync(join(SOURCE_DIR, "src/main.tsx")) ? PREBUILT_DIR : undefined;
}

/** Reads every file below `dir` (relative `/`-separated path → content). */
async function readUiDir(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const full = join(entry.parentPath, entry.name);
    files.set(relative(dir, full).split("\\").join("/"), await readFile(full));
  }
  if (!files.has("index.html")) throw new Error(`${dir} holds no index.html`);
  return files;
}

/**
 * The UI's files keyed by URL path (`/index.html`, `/assets/main-XXXX.js`, ...): read from the
 * prebuilt directory when there is one, otherwise built from `edge/ui/` in memory.
 */
export async function loadUiAssets(options: UiAssetsOptions = {}): Promise<Map<string, UiAsset>> {
  const prebuilt = options.prebuiltDir === undefined ? defaultPrebuiltDir() : (options.prebuiltDir ?? undefined);
  const files = prebuilt ? await readUiDir(prebuilt) : await buildUiFiles();
  return new Map([...files].map(([path, body]) => [`/${path}`, toAsset(path, body)]));
}

/** Builds the UI and writes its files to `dir` (emptied first); returns the paths written. */
export async function buildUiTo(dir: string): Promise<string[]> {
  const files = await buildUiFiles();
  await rm(dir, { recursive: true, force: true });
  const written: string[] = [];
  for (const [path, body] of files) {
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, body);
    written.push(file);
  }
  return written;
}

/** True when an If-None-Match header names `etag` (or is `*`). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((tag) => {
    const t = tag.trim();
    return t === "*" || t === etag || t === `W/${etag}`;
  });
}

/** True when Accept-Encoding allows gzip (present and not `q=0`). */
function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  return header.split(",").some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    if (coding !== "gzip" && coding !== "*") return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return !q || Number(q.slice(2)) > 0;
  });
}

function send(req: FastifyRequest, reply: FastifyReply, asset: UiAsset) {
  reply
    .header("content-security-policy", UI_CONTENT_SECURITY_POLICY)
    .header("x-content-type-options", "nosniff")
    .header("referrer-policy", "no-referrer")
    .header("x-frame-options", "DENY")
    .header("cache-control", asset.immutable ? "public, max-age=31536000, immutable" : "no-cache")
    .header("etag", asset.etag)
    .header("vary", "accept-encoding");
  if (matchesEtag(req.headers["if-none-match"], asset.etag)) return reply.code(304).send();
  reply.header("content-type", asset.contentType);
  if (acceptsGzip(req.headers["accept-encoding"]) && asset.gzip.length < asset.body.length) {
    return reply.header("content-encoding", "gzip").send(asset.gzip);
  }
  return reply.send(asset.body);
}

/**
 * Serves the UI: `/` and `/index.html` (revalidated on every load) and `/assets/*` (hashed names,
 * cached for a year), gzip when accepted, 304 on a matching If-None-Match, with the headers of
 * `UI_CONTENT_SECURITY_POLICY`, `nosniff` and `no-referrer`. Register it on the edge's server.
 */
export function uiAssetsPlugin(assets: Map<string, UiAsset>): FastifyPluginAsync {
  return async (app) => {
    const index = assets.get("/index.html");
    if (!index) throw new Error("UI assets hold no /index.html");
    // Public (the login page is part of it) and not part of the API's OpenAPI document.
    const options = { config: { access: "public" as const }, schema: { hide: true } };
    app.get("/", options, (req, reply) => send(req, reply, index));
    app.get("/index.html", options, (req, reply) => send(req, reply, index));
    app.get<{ Params: { "*": string } }>("/assets/*", options, (req, reply) => {
      const asset = assets.get(`/assets/${req.params["*"]}`);
      if (!asset) {
        return reply
          .code(404)
          .type("application/problem+json")
          .send({
            type: "about:blank",
            title: "Not Found",
            status: 404,
            detail: `no UI asset ${basename(req.params["*"])}`,
            code: "EDGE_ERR_NOT_FOUND",
          });
      }
      return send(req, reply, asset);
    });
  };
}

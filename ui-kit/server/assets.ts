/**
 * A web app's static files (the edge's installer UI, the hub's web app): built in memory from its
 * sources with esbuild (development, tests) or read from a prebuilt directory (an appliance or
 * image build), and served by a fastify plugin with strong ETags, gzip and a strict content
 * security policy.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, extname, join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, FastifySchema } from "fastify";

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

/** A web app: where its sources and its prebuilt files are. */
export interface UiApp {
  /** What it is called in errors ("installer UI"). */
  name: string;
  /** `index.html` (referencing `/assets/main.js` and `/assets/main.css`) and `src/main.tsx`. */
  sourceDir: string;
  /** Where a build writes it (`index.html` plus `assets/`). */
  prebuiltDir: string;
  /** Prefer the prebuilt files even when the sources are there (the code runs as a bundle). */
  bundled: boolean;
}

/** Where `loadUiAssets` takes the files from. */
export interface UiAssetsOptions {
  /**
   * A prebuilt directory to read (`index.html` plus `assets/`); default: the app's prebuilt
   * directory when it runs as a bundle (see `defaultPrebuiltDir`). `null` always builds from the
   * sources.
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
 * Bundles the app's `src/main.tsx` (JavaScript and CSS with content-hashed names; areas it imports
 * dynamically become chunks of their own) and fills the `index.html` template with their names;
 * returns file path (relative, `/`-separated) → content.
 */
async function buildUiFiles(app: UiApp): Promise<Map<string, Buffer>> {
  const uiRoot = app.sourceDir;
  if (!existsSync(join(uiRoot, "src/main.tsx"))) throw new Error(`${app.name} sources not found in ${uiRoot}`);
  // Loaded only here: an appliance reads the prebuilt files and has no esbuild.
  const { build } = await import("esbuild");
  const outdir = join(uiRoot, "out");
  const result = await build({
    absWorkingDir: uiRoot,
    entryPoints: [join(uiRoot, "src/main.tsx")],
    outdir,
    entryNames: "assets/[name]-[hash]",
    chunkNames: "assets/[name]-[hash]",
    assetNames: "assets/[name]-[hash]",
    splitting: true,
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
  const entry = (ext: string) =>
    result.outputFiles.find((out) => basename(out.path).startsWith("main-") && out.path.endsWith(ext));
  const [js, css] = [entry(".js"), entry(".css")].map((out) => out && relative(outdir, out.path).split("\\").join("/"));
  if (!js || !css) throw new Error(`${app.name} build produced no script or no stylesheet`);
  const template = await readFile(join(uiRoot, "index.html"), "utf8");
  const html = template.replace("/assets/main.js", `/${js}`).replace("/assets/main.css", `/${css}`);
  if (html === template)
    throw new Error(`${app.name}: index.html does not reference /assets/main.js and /assets/main.css`);
  files.set("index.html", Buffer.from(html));
  return files;
}

/**
 * The prebuilt directory when it exists and the code runs as a bundle, or when the sources are
 * missing. From the sources the app is always built, so prebuilt files left by an earlier build
 * (the benchmarks make one) never serve a stale app during development.
 */
function defaultPrebuiltDir(app: UiApp): string | undefined {
  if (!existsSync(join(app.prebuiltDir, "index.html"))) return undefined;
  return app.bundled || !existsSync(join(app.sourceDir, "src/main.tsx")) ? app.prebuiltDir : undefined;
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
 * The app's files keyed by URL path (`/index.html`, `/assets/main-XXXX.js`, ...): read from the
 * prebuilt directory when there is one, otherwise built from the sources in memory.
 */
export async function loadUiAssets(app: UiApp, options: UiAssetsOptions = {}): Promise<Map<string, UiAsset>> {
  const prebuilt = options.prebuiltDir === undefined ? defaultPrebuiltDir(app) : (options.prebuiltDir ?? undefined);
  const files = prebuilt ? await readUiDir(prebuilt) : await buildUiFiles(app);
  return new Map([...files].map(([path, body]) => [`/${path}`, toAsset(path, body)]));
}

/** Builds the app and writes its files to `dir` (emptied first); returns the paths written. */
export async function buildUiTo(app: UiApp, dir: string): Promise<string[]> {
  const files = await buildUiFiles(app);
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
 * Serves the app: `/` and `/index.html` (revalidated on every load) and `/assets/*` (hashed names,
 * cached for a year), gzip when accepted, 304 on a matching If-None-Match, with the headers of
 * `UI_CONTENT_SECURITY_POLICY`, `nosniff` and `no-referrer`; an unknown asset is a 404 problem
 * with `notFoundCode`.
 */
export function uiAssetsPlugin(
  assets: Map<string, UiAsset>,
  options: {
    notFoundCode: string;
    /** The routes' config: what makes them public on the server they are registered on. */
    routeConfig: Record<string, unknown>;
  },
): FastifyPluginAsync {
  const { notFoundCode, routeConfig } = options;
  return async (app) => {
    const index = assets.get("/index.html");
    if (!index) throw new Error("UI assets hold no /index.html");
    // Public (the login page is part of it) and not part of the API's OpenAPI document.
    const options = { config: routeConfig, schema: { hide: true } as FastifySchema };
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
            code: notFoundCode,
          });
      }
      return send(req, reply, asset);
    });
  };
}

import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { parse } from "yaml";
import { ConfigInvalidError } from "../errors.js";
import type { ConfigControl } from "./deps.js";
import { HttpProblem } from "./problem.js";

/** The version an `If-Match` header names (`"7"`, `W/"7"` or `7`); 428 when it is missing. */
function ifMatch(header: string | undefined): number {
  if (header === undefined) {
    throw new HttpProblem("EDGE_ERR_REQUEST_INVALID", 'send If-Match: "<version>" of the configuration you edited', {
      status: 428,
    });
  }
  const version = Number(header.replace(/^W\//, "").replaceAll('"', "").trim());
  if (!Number.isSafeInteger(version) || version < 0) {
    throw new HttpProblem("EDGE_ERR_REQUEST_INVALID", `If-Match ${header} names no configuration version`);
  }
  return version;
}

const Version = Type.Object({ version: Type.Integer({ minimum: 1 }) });

/**
 * The site configuration: read it (viewers), change it, roll it back, import and export it as
 * YAML (installers). Every change names the version it was made from (`If-Match`), is checked
 * with the configuration file's schema, and is applied to the running agent at once.
 */
export const configRoutes: FastifyPluginAsyncTypebox<{ config: ConfigControl }> = async (app, { config }) => {
  const author = (req: { session?: { user: { username: string } } }) => req.session?.user.username ?? "unknown";

  app.get("/api/v1/config", { config: { access: "viewer" }, schema: { tags: ["config"] } }, async (_req, reply) => {
    const current = config.current();
    reply.header("etag", `"${current.version}"`);
    return current;
  });

  app.put(
    "/api/v1/config",
    {
      schema: {
        tags: ["config"],
        body: Type.Object({ config: Type.Unknown(), comment: Type.Optional(Type.String({ maxLength: 500 })) }),
      },
    },
    async (req, reply) => {
      const saved = await config.apply(req.body.config, {
        baseVersion: ifMatch(req.headers["if-match"]),
        author: author(req),
        comment: req.body.comment,
      });
      reply.header("etag", `"${saved.version}"`);
      return saved;
    },
  );

  app.get("/api/v1/config/versions", { config: { access: "viewer" }, schema: { tags: ["config"] } }, async () =>
    config.versions(),
  );

  app.get(
    "/api/v1/config/versions/:version",
    { config: { access: "viewer" }, schema: { tags: ["config"], params: Version } },
    async (req) => config.version(req.params.version),
  );

  app.post(
    "/api/v1/config/versions/:version/rollback",
    { schema: { tags: ["config"], params: Version } },
    async (req, reply) => {
      const saved = await config.rollback(req.params.version, author(req));
      reply.header("etag", `"${saved.version}"`);
      return saved;
    },
  );

  app.get(
    "/api/v1/config/export",
    { config: { access: "installer" }, schema: { tags: ["config"] } },
    async (_req, reply) => {
      const { version } = config.current();
      if (version === 0) throw new HttpProblem("EDGE_ERR_NOT_FOUND", "the edge has no configuration yet");
      reply
        .type("text/yaml; charset=utf-8")
        .header("content-disposition", `attachment; filename="site-${version}.yaml"`)
        .header("etag", `"${version}"`);
      return config.version(version).yaml;
    },
  );

  app.post(
    "/api/v1/config/import",
    {
      bodyLimit: 1024 * 1024,
      schema: {
        tags: ["config"],
        body: Type.Object({ yaml: Type.String(), comment: Type.Optional(Type.String({ maxLength: 500 })) }),
      },
    },
    async (req, reply) => {
      let document: unknown;
      try {
        document = parse(req.body.yaml);
      } catch (err) {
        throw new ConfigInvalidError(
          [{ path: "/", message: `not valid YAML: ${(err as Error).message}` }],
          "the imported file is not valid YAML",
        );
      }
      const saved = await config.apply(document, {
        baseVersion: ifMatch(req.headers["if-match"]),
        author: author(req),
        comment: req.body.comment ?? "imported",
      });
      reply.header("etag", `"${saved.version}"`);
      return saved;
    },
  );
};

import { X509Certificate } from "node:crypto";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { EdgeError } from "../errors.js";
import { enrollWithCode } from "../sync/enroll.js";
import type { TlsControl } from "./deps.js";

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----/g;

/**
 * Splits one PEM text into the CA certificate (the one that is a CA), the edge certificate and
 * the private key, as `npm run hub -- pki issue` writes them (ca.crt, edge.crt, edge.key).
 */
export function splitBundle(text: string): { ca: string; cert: string; key: string } {
  const blocks = [...text.matchAll(PEM_BLOCK)].map((m) => ({ type: m[1] as string, pem: `${m[0]}\n` }));
  const certs = blocks.filter((b) => b.type === "CERTIFICATE");
  const keys = blocks.filter((b) => b.type.endsWith("PRIVATE KEY"));
  const fail = (message: string) => new EdgeError("EDGE_ERR_TLS", message);
  if (certs.length !== 2 || keys.length !== 1) {
    throw fail(
      `the bundle needs exactly two certificates (CA and edge) and one private key; found ${certs.length} and ${keys.length}`,
    );
  }
  let parsed: { pem: string; x509: X509Certificate }[];
  try {
    parsed = certs.map((c) => ({ pem: c.pem, x509: new X509Certificate(c.pem) }));
  } catch (err) {
    throw fail(`a certificate in the bundle cannot be read: ${(err as Error).message}`);
  }
  const ca = parsed.find((c) => c.x509.ca);
  const cert = parsed.find((c) => !c.x509.ca);
  if (!ca || !cert) throw fail("the bundle needs one CA certificate and one edge certificate");
  return { ca: ca.pem, cert: cert.pem, key: (keys[0] as { pem: string }).pem };
}

/**
 * The hub link's certificate: its state (viewers), installing a bundle and enrolling with a
 * one-time code from the hub (installers).
 */
export const tlsRoutes: FastifyPluginAsyncTypebox<{ tls: TlsControl }> = async (app, { tls }) => {
  app.get("/api/v1/tls", { config: { access: "viewer" }, schema: { tags: ["settings"] } }, async () => tls.state());

  app.post(
    "/api/v1/tls/bundle",
    {
      bodyLimit: 256 * 1024,
      schema: {
        tags: ["settings"],
        body: Type.Union([
          Type.Object({ bundle: Type.String({ maxLength: 200_000 }) }),
          Type.Object({ ca: Type.String(), cert: Type.String(), key: Type.String() }),
        ]),
      },
    },
    async (req) => {
      const files = "bundle" in req.body ? splitBundle(req.body.bundle) : req.body;
      const state = await tls.install(files);
      req.log.info(
        { edgeId: state.edgeId, fingerprint: state.fingerprint, by: req.session?.user.username },
        "certificate installed",
      );
      return state;
    },
  );

  app.post(
    "/api/v1/tls/enroll",
    {
      bodyLimit: 8 * 1024,
      schema: {
        tags: ["settings"],
        summary: "Enroll with a one-time code from the hub: this edge makes its key pair, the hub signs it",
        body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 2048 }) }),
      },
    },
    async (req) => {
      const current = tls.state();
      // Once enrolled the id is the certificate's: ask the hub to refuse, unused, a code for another edge.
      const bundle = await enrollWithCode(req.body.code, current.enrolled ? { edgeId: current.edgeId } : {});
      const state = await tls.install(bundle);
      req.log.info(
        { edgeId: state.edgeId, fingerprint: state.fingerprint, by: req.session?.user.username },
        "certificate installed by enrollment with a one-time code",
      );
      return state;
    },
  );
};

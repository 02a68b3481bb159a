import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { hubError } from "../errors.js";
import { type FailureLimit, type FailureLimiter, MemoryFailureLimiter } from "../platform/failure-limiter.js";
import { EDGE_ID_PATTERN } from "./ca.js";
import { redeemEnrollmentCode } from "./enrollment.js";

/** Options of the enrollment plugin. */
export interface EnrollRoutesOptions {
  /** The hub CA's directory (`$HUB_DATA_DIR/pki`). */
  pkiDir: string;
  /** Refused codes per client address (`ENROLL_LIMIT`); default: counted in this process's memory. */
  limiter?: FailureLimiter;
}

/** Refused enrollment codes a client address may send: 10 within 15 minutes. */
export const ENROLL_LIMIT: FailureLimit = { maxFailures: 10, windowMs: 15 * 60_000 };

const EnrollBody = Type.Object({
  code: Type.String({
    minLength: 1,
    maxLength: 1024,
    description: "the one-time code from `pki enroll-code`, whole or its secret part",
  }),
  publicKey: Type.String({ minLength: 1, maxLength: 8192, description: "the edge's EC P-256 public key, SPKI PEM" }),
  edgeId: Type.Optional(
    Type.String({
      pattern: EDGE_ID_PATTERN.source,
      description: "the edge's id when it has one from a certificate: a code made for another edge is refused unused",
    }),
  ),
});

const EnrollReply = Type.Object({
  edgeId: Type.String(),
  cert: Type.String({ description: "the edge's client certificate (PEM), CN = edge id" }),
  ca: Type.String({ description: "the hub CA certificate (PEM)" }),
});

/**
 * `POST /pki/enroll`: an edge redeems a one-time enrollment code with its public key for its
 * client certificate. The code is the credential, so the route is public; refused codes are
 * limited per client address (429 `HUB_ERR_RATE_LIMITED` with Retry-After).
 */
export const enrollRoutes: FastifyPluginAsyncTypebox<EnrollRoutesOptions> = async (app, options) => {
  const limiter = options.limiter ?? new MemoryFailureLimiter(ENROLL_LIMIT);
  app.post(
    "/pki/enroll",
    {
      bodyLimit: 16 * 1024,
      config: { permission: "public" },
      schema: {
        summary: "Redeem a one-time enrollment code for an edge certificate",
        tags: ["pki"],
        body: EnrollBody,
        response: { 200: EnrollReply },
      },
    },
    async (req, reply) => {
      const wait = await limiter.retryAfterS(req.ip);
      if (wait > 0) {
        reply.header("retry-after", String(wait));
        throw hubError("HUB_ERR_RATE_LIMITED", `too many refused enrollment codes from ${req.ip}; retry in ${wait} s`);
      }
      try {
        const issued = await redeemEnrollmentCode(options.pkiDir, {
          code: req.body.code,
          publicKey: req.body.publicKey,
          expectEdgeId: req.body.edgeId,
        });
        req.log.info(
          {
            edgeId: issued.edgeId,
            serial: issued.serial,
            fingerprint: issued.fingerprint,
            superseded: issued.superseded,
            codeId: issued.codeId,
            ip: req.ip,
          },
          "edge enrolled with a one-time code",
        );
        return { edgeId: issued.edgeId, cert: issued.certPem, ca: issued.caPem };
      } catch (err) {
        if ((err as { code?: unknown }).code === "HUB_ERR_ENROLL_CODE") {
          req.log.warn({ ip: req.ip, reason: (err as Error).message }, "enrollment code refused");
          await limiter
            .failed(req.ip)
            .catch((failure) => req.log.error({ err: failure }, "a refused enrollment code could not be counted"));
        }
        throw err;
      }
    },
  );
};

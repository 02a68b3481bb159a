import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { hubError } from "../errors.js";

/**
 * Optimistic locking: every mutable entity has a `version` (1 on insert, +1 on each update),
 * reads send it as a strong `ETag: "<version>"`, updates and deletes must send it back in
 * `If-Match` (428 HUB_ERR_PRECONDITION_REQUIRED without, 412 HUB_ERR_PRECONDITION_FAILED when
 * stale). The check and the write are one statement:
 * `UPDATE ... SET ..., version = version + 1 WHERE id = $1 AND version = $2 RETURNING ...`
 * (see `versionCondition`), so two racing updates with the same version give one success and
 * one 412, never a lost update.
 */

declare module "fastify" {
  interface FastifyInstance {
    /** False only in the platform benchmark's baseline (If-Match then optional). */
    optimisticLocking: boolean;
  }
}

/** The ETag of `version`. */
export const etagOf = (version: number): string => `"${version}"`;

/** Sets the response's ETag from the entity's version. */
export function sendVersion(reply: FastifyReply, version: number): void {
  reply.header("etag", etagOf(version));
}

/**
 * The version `If-Match` names: `"<n>"` (or a bare n). Missing → 428; anything that cannot name a
 * version (`*`, a weak or foreign ETag, a list) → 412. Null when locking is off (benchmark baseline).
 */
export function expectedVersion(req: FastifyRequest): number | null {
  const header = req.headers["if-match"];
  if (header === undefined || header === "") {
    if (req.server.optimisticLocking === false) return null;
    throw hubError(
      "HUB_ERR_PRECONDITION_REQUIRED",
      'send If-Match with the ETag of the version you read (e.g. If-Match: "3")',
    );
  }
  const m = /^\s*"?([1-9][0-9]{0,9})"?\s*$/.exec(header);
  const version = m ? Number(m[1]) : Number.NaN;
  if (!Number.isSafeInteger(version) || version > 2_147_483_647) {
    throw hubError("HUB_ERR_PRECONDITION_FAILED", `If-Match ${header} does not name a version of this resource`);
  }
  return version;
}

/** The 412 for an update whose `If-Match` no longer matches (`current`: the version now stored). */
export function staleVersion(what: string, expected: number, current: number): Error {
  return hubError(
    "HUB_ERR_PRECONDITION_FAILED",
    `${what} is at version ${current}, not ${expected}: reload it and apply your change again`,
  );
}

/**
 * SQL condition for the version check, `$n` being the expected version (null: locking off).
 * Use it in the UPDATE/DELETE's WHERE clause together with the key.
 */
export const versionCondition = (param: number): string => `($${param}::integer IS NULL OR version = $${param})`;

/** Decorates the app with whether If-Match is enforced (always, except in the benchmark baseline). */
export const lockingPlugin = fp<{ enforce?: boolean }>(
  (async (app, options) => {
    app.decorate("optimisticLocking", options.enforce !== false);
  }) as FastifyPluginAsync<{ enforce?: boolean }>,
  { name: "locking" },
);

/**
 * Who is calling, and what a route needs: the contract between the authentication plugin (which
 * sets `request.principal` and enforces each route's `permission`) and every domain's routes
 * (which declare it and read the principal for audit records and idempotency scopes).
 */

/** The hub's roles. `auditor` is read-only everywhere and the only role besides admin that reads the audit trail. */
export const ROLES = ["admin", "office", "project_manager", "technician", "accountant", "analyst", "auditor"] as const;
export type Role = (typeof ROLES)[number];

/** A permission: `<area>:<read|write|...>`, e.g. `customers:write`, `audit:read`, `dlq:redrive`. */
export type Permission = `${string}:${string}`;

/** An authenticated caller: a user with a session, or an API token of a user or an integration. */
export interface Principal {
  /** Stable id (user id, or `token:<id>`). Idempotency keys and audit records are scoped by it. */
  id: string;
  kind: "user" | "token";
  /** E-mail of the user, or the token's name. */
  name: string;
  roles: Role[];
}

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * What the route needs. Every route must declare one (`"public"` for health, login and the
     * enrollment of edges); a route without it is refused at startup.
     */
    permission?: Permission | "public";
  }
  interface FastifyRequest {
    /** Set by the authentication plugin before the handler runs; absent only on public routes. */
    principal?: Principal;
  }
}

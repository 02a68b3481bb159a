import type { Permission, Role } from "../platform/principal.js";

/**
 * A grant in the role table: a permission (`customers:write`), every action of an area
 * (`tickets:*`), one action in every area (`*:read`) or everything (`*`).
 */
export type Grant = Permission | "*";

/**
 * What each role may do — the one table every route's `config.permission` is checked against.
 * Areas: customers, sites, projects, tickets, inventory, time (bookings), billing, telemetry,
 * warehouse, users (accounts of others), audit, dlq, sagas, commands (to edges), approvals (`decide`: which requests,
 * the policies' approver roles say); `account:self` is the caller's own account
 * (logout, password, own API tokens), which every role has — also the otherwise read-only auditor.
 */
export const ROLE_GRANTS: Readonly<Record<Role, readonly Grant[]>> = {
  admin: ["*"],
  office: [
    "account:self",
    "customers:*",
    "sites:*",
    "projects:*",
    "tickets:*",
    "inventory:read",
    "time:read",
    "billing:read",
    "telemetry:read",
    "sagas:read",
    "commands:read",
  ],
  project_manager: [
    "account:self",
    "customers:read",
    "sites:*",
    "projects:*",
    "tickets:*",
    "inventory:*",
    "time:*",
    "billing:read",
    "telemetry:read",
    "approvals:*",
    "sagas:*",
    "commands:*",
  ],
  technician: [
    "account:self",
    "customers:read",
    "sites:read",
    "projects:read",
    "tickets:*",
    "inventory:read",
    "time:read",
    "time:write",
    "telemetry:read",
    "commands:*",
  ],
  accountant: [
    "account:self",
    "customers:read",
    "projects:read",
    "time:read",
    "time:close",
    "billing:*",
    "inventory:read",
    "approvals:*",
    "retention:read",
    "retention:write",
    "sagas:read",
  ],
  analyst: ["account:self", "telemetry:read", "warehouse:read"],
  auditor: ["account:self", "*:read"],
};

function grants(grant: Grant, permission: Permission): boolean {
  if (grant === "*" || grant === permission) return true;
  const [area, action] = permission.split(":") as [string, string];
  return grant === `${area}:*` || grant === `*:${action}`;
}

/** Whether any of `roles` has `permission`. */
export function rolesAllow(roles: readonly Role[], permission: Permission): boolean {
  return roles.some((role) => ROLE_GRANTS[role].some((grant) => grants(grant, permission)));
}

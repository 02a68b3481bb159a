/** What the user's roles allow, from the grants `/auth/me` lists (`area:action`, `area:*`, `*:read`, `*`). */
import { signal } from "./signal.js";

export const grants = signal<string[]>([]);

export function allows(permission: string): boolean {
  const [area, action] = permission.split(":");
  return grants.get().some((g) => g === "*" || g === permission || g === `${area}:*` || g === `*:${action}`);
}

/** The work screens beside the entities, for the roles that may read them. */
export const WORK_SCREENS = [
  { page: "approvals", permission: "approvals:read" },
  { page: "sagas", permission: "sagas:read" },
  { page: "commands", permission: "commands:read" },
  { page: "stock", permission: "inventory:read" },
  { page: "data/quality", permission: "warehouse:read" },
  { page: "data/catalog", permission: "warehouse:read" },
  { page: "data/lineage", permission: "warehouse:read" },
  { page: "data/audit", permission: "audit:read" },
] as const;

/** The text (key) naming each work screen. */
export const SCREEN_TEXT = {
  approvals: "approvals",
  sagas: "sagas",
  commands: "commands",
  stock: "stock",
  "data/quality": "dataQuality",
  "data/catalog": "catalog",
  "data/lineage": "lineage",
  "data/audit": "auditTrail",
} as const;

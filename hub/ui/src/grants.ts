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
] as const;

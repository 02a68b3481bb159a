/**
 * Routes in the URL's hash, so every view (with its filters) is a link to share:
 * `#/` home, `#/e/<entity>?<query>` a list, `#/e/<entity>/new`, `#/e/<entity>/<id>`,
 * `#/approvals`, `#/sagas`, `#/commands` and `#/stock` work screens, `#/data/<quality|catalog|lineage|audit>` the data pages, `#/board/<entity>` a workflow as a board.
 */
import { signal } from "./signal.js";

export type Route =
  | { page: "home" }
  | { page: "list"; entity: string; query: URLSearchParams }
  | { page: "record"; entity: string; id: string | null }
  | { page: "approvals" }
  | { page: "sagas" }
  | { page: "commands" }
  | { page: "stock" }
  | { page: "data"; name: string; query: URLSearchParams }
  | { page: "board"; entity: string }
  | { page: "unknown" };

export function parseRoute(hash: string): Route {
  const [path = "", search = ""] = hash.replace(/^#/, "").split("?", 2);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: "home" };
  if (parts.length === 1 && parts[0] === "approvals") return { page: "approvals" };
  if (parts.length === 1 && parts[0] === "sagas") return { page: "sagas" };
  if (parts.length === 1 && parts[0] === "commands") return { page: "commands" };
  if (parts.length === 1 && parts[0] === "stock") return { page: "stock" };
  if (
    parts.length === 2 &&
    parts[0] === "data" &&
    ["quality", "catalog", "lineage", "audit"].includes(parts[1] as string)
  )
    return { page: "data", name: parts[1] as string, query: new URLSearchParams(search) };
  if (parts.length === 2 && parts[0] === "board" && parts[1]) return { page: "board", entity: parts[1] };
  if (parts[0] === "e" && parts[1] && /^[a-z][a-z0-9-]*$/.test(parts[1])) {
    if (parts.length === 2) return { page: "list", entity: parts[1], query: new URLSearchParams(search) };
    if (parts.length === 3)
      return { page: "record", entity: parts[1], id: parts[2] === "new" ? null : (parts[2] as string) };
  }
  return { page: "unknown" };
}

export const listHref = (entity: string, query?: URLSearchParams) =>
  `#/e/${entity}${query && [...query].length ? `?${query}` : ""}`;
export const recordHref = (entity: string, id: string | null) => `#/e/${entity}/${id ?? "new"}`;

export const route = signal<Route>(parseRoute(location.hash));
addEventListener("hashchange", () => route.set(parseRoute(location.hash)));

/** Goes to `href` (a `#/…` link); `replace` keeps the history entry (a filter change). */
export function navigate(href: string, replace = false): void {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  route.set(parseRoute(location.hash));
}

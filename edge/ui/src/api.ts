/** The one way the UI talks to the edge: fetch with the session cookie, JSON and the CSRF header. */

import { ApiError, NETWORK_ERROR, problemOf } from "@steinmetz/ui-kit/problem.js";

export { ApiError, NETWORK_ERROR, type Problem } from "@steinmetz/ui-kit/problem.js";

let csrfToken: string | null = null;
let onAuthRequired: () => void = () => {};

/** Sets the CSRF token sent with every unsafe request (from the session, login or setup). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Registers what happens on any 401 outside login and setup (the app shows the login page). */
export function setAuthRequiredHandler(handler: () => void): void {
  onAuthRequired = handler;
}

/** Options of one API call. */
export interface ApiOptions {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

const PUBLIC_AUTH_PATHS = ["/api/v1/login", "/api/v1/setup"];

/**
 * Calls the edge's API at `path` and returns the parsed JSON (undefined for 204). Throws an
 * `ApiError`: the problem document's code, or `NETWORK_ERROR` when the edge is not reachable.
 * Any 401 (except a failed login) also calls the auth-required handler.
 */
export async function api<T>(path: string, options: ApiOptions = {}): Promise<T> {
  const method = options.method ?? "GET";
  const headers: Record<string, string> = { accept: "application/json", ...options.headers };
  if (method !== "GET") {
    headers["content-type"] = "application/json";
    if (csrfToken) headers["x-csrf-token"] = csrfToken;
  }
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: method === "GET" ? undefined : JSON.stringify(options.body ?? {}),
      signal: options.signal,
    });
  } catch (err) {
    throw new ApiError(0, NETWORK_ERROR, String(err), [], undefined, { cause: err });
  }
  if (!res.ok) {
    const error = await problemOf(res, "EDGE_ERR_INTERNAL");
    if (res.status === 401 && !PUBLIC_AUTH_PATHS.includes(path)) onAuthRequired();
    throw error;
  }
  if (res.status === 204) return undefined as T;
  const type = res.headers.get("content-type") ?? "";
  return (type.includes("json") ? await res.json() : await res.text()) as T;
}

/** The If-Match header value for a configuration version. */
export function ifMatch(version: number): Record<string, string> {
  return { "if-match": `"${version}"` };
}

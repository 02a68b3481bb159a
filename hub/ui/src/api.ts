/** The one way the app talks to the hub: fetch with the session cookie, JSON, If-Match and the CSRF header. */
import { saveFile } from "@steinmetz/ui-kit/file.js";
import { ApiError, NETWORK_ERROR, problemOf } from "@steinmetz/ui-kit/problem.js";

export { ApiError } from "@steinmetz/ui-kit/problem.js";

let csrfToken: string | null = null;
let onAuthRequired: () => void = () => {};

/** Sets the CSRF token sent with every unsafe request (from the login or `/auth/me`). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** What happens on any 401 but a failed login (the app shows the login page). */
export function setAuthRequiredHandler(handler: () => void): void {
  onAuthRequired = handler;
}

export interface ApiOptions {
  method?: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  body?: unknown;
  /** The version read: sent as If-Match. */
  version?: number;
  signal?: AbortSignal;
}

/** A response's body and, when the hub sent one, the version in its ETag. */
export interface ApiResult<T> {
  body: T;
  version: number | null;
}

/**
 * Calls `/api/v1<path>`; throws an `ApiError` with the problem document's code (or `NETWORK`
 * when the hub did not answer). Any 401 but the login's calls the auth-required handler.
 */
export async function call<T>(path: string, options: ApiOptions = {}): Promise<ApiResult<T>> {
  const method = options.method ?? "GET";
  const headers: Record<string, string> = { accept: "application/json" };
  if (method !== "GET") {
    if (options.body !== undefined) headers["content-type"] = "application/json";
    if (csrfToken) headers["x-csrf-token"] = csrfToken;
  }
  if (options.version !== undefined) headers["if-match"] = `"${options.version}"`;
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      credentials: "same-origin",
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (err) {
    throw new ApiError(0, NETWORK_ERROR, String(err), [], undefined, { cause: err });
  }
  if (!res.ok) {
    const error = await problemOf(res, "HUB_ERR_INTERNAL");
    if (res.status === 401 && path !== "/auth/login") onAuthRequired();
    throw error;
  }
  const etag = res.headers.get("etag")?.match(/^"(\d+)"$/)?.[1];
  const version = etag === undefined ? null : Number(etag);
  if (res.status === 204 || res.status === 202) {
    const text = await res.text();
    return { body: (text ? JSON.parse(text) : undefined) as T, version };
  }
  const type = res.headers.get("content-type") ?? "";
  return { body: (type.includes("json") ? await res.json() : await res.text()) as T, version };
}

/** GET and the body only. */
export const get = async <T>(path: string, signal?: AbortSignal): Promise<T> =>
  (await call<T>(path, signal ? { signal } : {})).body;

/**
 * Downloads `/api/v1<path>` as a file (the name from its Content-Disposition, else `fallback`);
 * a refusal is thrown as an `ApiError` for the page to show, instead of a download that fails.
 */
export async function download(path: string, fallback: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, { credentials: "same-origin" });
  } catch (err) {
    throw new ApiError(0, NETWORK_ERROR, String(err), [], undefined, { cause: err });
  }
  if (!res.ok) throw await problemOf(res, "HUB_ERR_INTERNAL");
  const name = res.headers.get("content-disposition")?.match(/filename="([^"]+)"/)?.[1] ?? fallback;
  saveFile(name, await res.blob());
}

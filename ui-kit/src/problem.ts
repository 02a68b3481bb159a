/** API errors as both apps see them: RFC 9457 problem documents with a code and field problems. */

/** A field error of a problem document (a JSON pointer into the request body, and its message). */
export interface Problem {
  path: string;
  message: string;
}

/** Code of a network failure (the server did not answer at all). */
export const NETWORK_ERROR = "NETWORK";

/** An API call that failed: the problem document's code, detail and field problems. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly problems: Problem[];
  readonly retryAfterS: number | undefined;

  constructor(
    status: number,
    code: string,
    detail: string,
    problems: Problem[] = [],
    retryAfterS?: number,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${detail}`, options);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.problems = problems;
    this.retryAfterS = retryAfterS;
  }
}

/**
 * Turns a failed response into an `ApiError` (problem+json when the server sent one; otherwise
 * `internalCode` for a 5xx and `HTTP_<status>` else).
 */
export async function problemOf(res: Response, internalCode: string): Promise<ApiError> {
  let doc: Record<string, unknown> = {};
  try {
    doc = (await res.json()) as Record<string, unknown>;
  } catch {
    // not JSON (a proxy's error page): fall back to the status
  }
  const code = typeof doc.code === "string" ? doc.code : res.status >= 500 ? internalCode : `HTTP_${res.status}`;
  const detail =
    typeof doc.detail === "string" ? doc.detail : typeof doc.title === "string" ? doc.title : res.statusText;
  const problems = Array.isArray(doc.problems) ? (doc.problems as Problem[]) : [];
  const header = Number(res.headers.get("retry-after"));
  const retryAfterS =
    typeof doc.retryAfterS === "number" ? doc.retryAfterS : Number.isFinite(header) && header > 0 ? header : undefined;
  return new ApiError(res.status, code, detail, problems, retryAfterS);
}

/**
 * Splits an error's problems into those belonging to a known field (JSON pointer → message) and
 * the rest. `paths` maps pointers (exact, or a prefix ending in `/`) to field keys.
 */
export function splitProblems(
  error: unknown,
  paths: Record<string, string>,
): { fields: Record<string, string>; others: Problem[] } {
  const fields: Record<string, string> = {};
  const others: Problem[] = [];
  if (!(error instanceof ApiError)) return { fields, others };
  for (const p of error.problems) {
    const key =
      paths[p.path] ?? Object.entries(paths).find(([prefix]) => prefix.endsWith("/") && p.path.startsWith(prefix))?.[1];
    if (key && !fields[key]) fields[key] = p.message;
    else if (!key) others.push(p);
  }
  return { fields, others };
}

/** A script's view of the edge's HTTP API: keeps the session cookie and sends the CSRF token. */
export class EdgeClient {
  private cookie: string | undefined;
  csrfToken: string | null = null;

  constructor(readonly baseUrl: string) {}

  /** Calls the API; JSON in, JSON (or problem+json) out. */
  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(this.csrfToken && method !== "GET" ? { "x-csrf-token": this.csrfToken } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const setCookie = res.headers.get("set-cookie");
    if (setCookie) this.cookie = setCookie.split(";")[0];
    const text = await res.text();
    const parsed = text && (res.headers.get("content-type") ?? "").includes("json") ? JSON.parse(text) : text;
    if (parsed && typeof parsed === "object" && "csrfToken" in parsed) this.csrfToken = parsed.csrfToken;
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  /** Logs in (throws when refused). */
  async login(username: string, password: string): Promise<void> {
    const res = await this.call("POST", "/api/v1/login", { username, password });
    if (res.status !== 200) throw new Error(`login as ${username}: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

import { randomBytes } from "node:crypto";
import type { User } from "./users.js";

/** A logged-in browser. */
export interface Session {
  user: User;
  /** Sent back by the page in `x-csrf-token` with every unsafe request. */
  csrfToken: string;
  createdAt: number;
  lastSeen: number;
}

const IDLE_MS = 12 * 3_600_000;
const MAX_AGE_MS = 7 * 86_400_000;
const MAX_SESSIONS = 1000;

/**
 * Sessions in memory, keyed by a random 256-bit token (the cookie). They end after 12 h idle or
 * 7 days, at logout, when the user is deleted or changes the password, and when the agent
 * restarts (users log in again). At most 1000 live at once; the oldest goes first.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  create(user: User): { token: string; session: Session } {
    this.purge();
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string);
    const token = randomBytes(32).toString("base64url");
    const session = {
      user,
      csrfToken: randomBytes(24).toString("base64url"),
      createdAt: this.now(),
      lastSeen: this.now(),
    };
    this.sessions.set(token, session);
    return { token, session };
  }

  /** The live session of a token (touching it), or undefined. */
  get(token: string | undefined): Session | undefined {
    if (!token) return undefined;
    const session = this.sessions.get(token);
    if (!session) return undefined;
    const now = this.now();
    if (now - session.lastSeen > IDLE_MS || now - session.createdAt > MAX_AGE_MS) {
      this.sessions.delete(token);
      return undefined;
    }
    session.lastSeen = now;
    return session;
  }

  /** Whether a token's session is still live, without counting this as activity. */
  alive(token: string | undefined): boolean {
    const session = token ? this.sessions.get(token) : undefined;
    const now = this.now();
    return !!session && now - session.lastSeen <= IDLE_MS && now - session.createdAt <= MAX_AGE_MS;
  }

  delete(token: string): void {
    this.sessions.delete(token);
  }

  /** Ends every session of a user, except `keep` (the one that changed the password). */
  endAll(username: string, keep?: string): void {
    for (const [token, s] of this.sessions)
      if (s.user.username === username && token !== keep) this.sessions.delete(token);
  }

  private purge(): void {
    for (const token of [...this.sessions.keys()]) this.get(token);
  }
}

const FREE_FAILURES = 5;
const WINDOW_MS = 15 * 60_000;
const MAX_BLOCK_MS = 15 * 60_000;
const MAX_TRACKED = 10_000;

/**
 * Login rate limit by client address and by user name: 5 failures within 15 minutes are free,
 * then each further attempt must wait 30 s, doubling per failure up to 15 minutes. A success
 * clears the user name's count. Bounded in memory.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, { count: number; first: number; blockedUntil: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Seconds to wait before this login may be tried, 0 when allowed. */
  retryAfterS(ip: string, username: string): number {
    const now = this.now();
    let until = 0;
    for (const key of [`ip:${ip}`, `user:${username}`]) {
      const entry = this.failures.get(key);
      if (entry && now - entry.first <= WINDOW_MS + MAX_BLOCK_MS) until = Math.max(until, entry.blockedUntil);
    }
    return until > now ? Math.ceil((until - now) / 1000) : 0;
  }

  failed(ip: string, username: string): void {
    const now = this.now();
    for (const key of [`ip:${ip}`, `user:${username}`]) {
      let entry = this.failures.get(key);
      if (!entry || now - entry.first > WINDOW_MS + MAX_BLOCK_MS) entry = { count: 0, first: now, blockedUntil: 0 };
      entry.count++;
      if (entry.count >= FREE_FAILURES) {
        entry.blockedUntil = now + Math.min(MAX_BLOCK_MS, 30_000 * 2 ** (entry.count - FREE_FAILURES));
      }
      this.failures.delete(key);
      this.failures.set(key, entry);
      if (this.failures.size > MAX_TRACKED) this.failures.delete(this.failures.keys().next().value as string);
    }
  }

  succeeded(username: string): void {
    this.failures.delete(`user:${username}`);
  }
}

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type pg from "pg";
import { inTransaction } from "../db/transaction.js";
import { hubError } from "../errors.js";
import { type Principal, ROLES, type Role } from "../platform/principal.js";
import { dummyHash, hashPassword, MIN_PASSWORD_LENGTH, verifyPassword } from "./password.js";
import * as repo from "./repository.js";

/** Session lifetimes and the clock. */
export interface AuthServiceOptions {
  /** A session ends this long after login at the latest (default 7 days). */
  sessionTtlMs?: number;
  /** A session ends after this long without a request (default 12 hours). */
  idleTimeoutMs?: number;
  now?: () => number;
}

/** A user as the API shows it (never the password hash). */
export interface User {
  id: string;
  email: string;
  displayName: string;
  roles: Role[];
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** An API token as the API shows it (the secret only once, when issued). */
export interface ApiToken {
  id: string;
  name: string;
  roles: Role[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

/** Who a credential belongs to; `session` when it is a session token (cookie or bearer). */
export interface Authenticated {
  principal: Principal;
  userId: string;
  session?: { id: string; csrfToken: string };
}

/** What a login hands out. */
export interface LoginResult {
  /** The session token: the cookie's value, also usable as `Authorization: Bearer`. */
  token: string;
  csrfToken: string;
  expiresAt: string;
  user: User;
}

const SESSION_PREFIX = "hubs_";
const API_TOKEN_PREFIX = "hubt_";
/** last_seen_at / last_used_at are written at most this often per credential. */
const TOUCH_EVERY_MS = 60_000;

const sha256 = (token: string) => createHash("sha256").update(token).digest();
const secret = (prefix: string) => `${prefix}${randomBytes(32).toString("base64url")}`;

function toUser(row: repo.UserRow): User {
  return {
    id: row.id,
    email: row.email,
    displayName: row.display_name,
    roles: row.roles,
    disabled: row.disabled,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    version: row.version,
  };
}

function toApiToken(row: repo.ApiTokenRow): ApiToken {
  return {
    id: row.id,
    name: row.name,
    roles: row.roles,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at?.toISOString() ?? null,
    revokedAt: row.revoked_at?.toISOString() ?? null,
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
  };
}

function checkPassword(password: string): void {
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw hubError("HUB_ERR_PASSWORD_WEAK", `a password needs at least ${MIN_PASSWORD_LENGTH} characters`);
  }
}

function checkRoles(roles: readonly string[]): Role[] {
  const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (unknown.length > 0 || roles.length === 0) {
    throw hubError("HUB_ERR_VALIDATION", `roles must be one or more of ${ROLES.join(", ")}`);
  }
  return [...new Set(roles as Role[])];
}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === "23505";

/** A malformed id can match no row: the API answers 404 instead of a database error. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Users, sessions and API tokens. Secrets are never stored: passwords as scrypt hashes, tokens as
 * SHA-256; a user's current roles and disabled flag are read at every request, so a change
 * applies at once to all the user's sessions and tokens.
 */
export class AuthService {
  private readonly sessionTtlMs: number;
  private readonly idleTimeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly pool: pg.Pool,
    options: AuthServiceOptions = {},
  ) {
    this.sessionTtlMs = options.sessionTtlMs ?? 7 * 24 * 3_600_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 12 * 3_600_000;
    this.now = options.now ?? Date.now;
  }

  /** Creates a user (HUB_ERR_USER_EXISTS for a taken e-mail, HUB_ERR_PASSWORD_WEAK below 12 characters). */
  async createUser(input: { email: string; displayName?: string; roles: readonly string[]; password: string }) {
    checkPassword(input.password);
    const roles = checkRoles(input.roles);
    const email = input.email.trim().toLowerCase();
    try {
      const row = await repo.insertUser(this.pool, {
        email,
        displayName: input.displayName?.trim() ?? "",
        roles,
        passwordHash: await hashPassword(input.password),
      });
      return toUser(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw hubError("HUB_ERR_USER_EXISTS", `a user ${email} exists already`);
      throw err;
    }
  }

  async listUsers(): Promise<User[]> {
    return (await repo.listUsers(this.pool)).map(toUser);
  }

  /** The user, or HUB_ERR_NOT_FOUND. */
  async getUser(id: string): Promise<User> {
    const row = UUID.test(id) ? await repo.findUserById(this.pool, id) : undefined;
    if (!row) throw hubError("HUB_ERR_NOT_FOUND", `no user ${id}`);
    return toUser(row);
  }

  /**
   * Changes a user if it is still at `version` (HUB_ERR_PRECONDITION_FAILED otherwise). Disabling
   * the user or setting a password ends the user's sessions. Refused when no enabled admin would
   * remain (HUB_ERR_LAST_ADMIN).
   */
  async updateUser(
    id: string,
    version: number,
    patch: { displayName?: string; roles?: readonly string[]; disabled?: boolean; password?: string },
  ): Promise<User> {
    await this.getUser(id);
    if (patch.password !== undefined) checkPassword(patch.password);
    const roles = patch.roles === undefined ? undefined : checkRoles(patch.roles);
    const passwordHash = patch.password === undefined ? undefined : await hashPassword(patch.password);
    return inTransaction(this.pool, async (db) => {
      const admins = await repo.lockEnabledAdmins(db);
      const losesAdmin = patch.disabled === true || (roles !== undefined && !roles.includes("admin"));
      if (losesAdmin && admins.length === 1 && admins[0] === id) {
        throw hubError("HUB_ERR_LAST_ADMIN", "this is the last enabled admin");
      }
      const row = await repo.updateUser(
        db,
        id,
        { displayName: patch.displayName?.trim(), roles, disabled: patch.disabled, passwordHash },
        version,
      );
      if (!row) throw await this.versionConflict(db, id, version);
      if (patch.disabled === true || passwordHash) await repo.deleteSessionsOfUser(db, id);
      return toUser(row);
    });
  }

  /** Deletes a user (with its sessions and tokens) if still at `version`; never the last enabled admin. */
  async deleteUser(id: string, version: number): Promise<void> {
    await this.getUser(id);
    await inTransaction(this.pool, async (db) => {
      const admins = await repo.lockEnabledAdmins(db);
      if (admins.length === 1 && admins[0] === id)
        throw hubError("HUB_ERR_LAST_ADMIN", "this is the last enabled admin");
      if (!(await repo.deleteUser(db, id, version))) throw await this.versionConflict(db, id, version);
    });
  }

  private async versionConflict(db: repo.Db, id: string, version: number): Promise<Error> {
    const current = await repo.findUserById(db, id);
    if (!current) return hubError("HUB_ERR_NOT_FOUND", `no user ${id}`);
    return hubError("HUB_ERR_PRECONDITION_FAILED", `user ${id} is at version ${current.version}, not ${version}`);
  }

  /**
   * Checks e-mail and password and opens a session. Unknown e-mail, wrong password and a disabled
   * user all fail alike with HUB_ERR_AUTH_FAILED, after the same scrypt work.
   */
  async login(email: string, password: string, meta: { ip?: string; userAgent?: string } = {}): Promise<LoginResult> {
    const row = await repo.findUserByEmail(this.pool, email.trim().toLowerCase());
    const ok = await verifyPassword(password, row?.password_hash ?? (await dummyHash()));
    if (!row || !ok || row.disabled) throw hubError("HUB_ERR_AUTH_FAILED", "e-mail or password wrong");
    await this.purgeEndedSessions();
    const now = this.now();
    const token = secret(SESSION_PREFIX);
    const csrfToken = randomBytes(32).toString("base64url");
    const expiresAt = new Date(now + this.sessionTtlMs);
    await repo.insertSession(this.pool, {
      userId: row.id,
      tokenHash: sha256(token),
      csrfToken,
      at: new Date(now),
      expiresAt,
      ...meta,
    });
    return { token, csrfToken, expiresAt: expiresAt.toISOString(), user: toUser(row) };
  }

  /** Deletes sessions past their absolute expiry or idle timeout (at each login and hourly); returns how many. */
  purgeEndedSessions(): Promise<number> {
    const now = this.now();
    return repo.deleteExpiredSessions(this.pool, new Date(now), new Date(now - this.idleTimeoutMs));
  }

  /** Who `token` (a session or an API token) belongs to; undefined when it is unknown, expired, revoked or its user disabled. */
  async authenticate(token: string): Promise<Authenticated | undefined> {
    const now = this.now();
    if (token.startsWith(SESSION_PREFIX)) {
      const s = await repo.findSessionByHash(this.pool, sha256(token));
      if (!s || s.user.disabled) return undefined;
      if (s.expires_at.getTime() <= now || s.last_seen_at.getTime() + this.idleTimeoutMs <= now) {
        await repo.deleteSession(this.pool, s.id);
        return undefined;
      }
      if (now - s.last_seen_at.getTime() >= TOUCH_EVERY_MS) await repo.touchSession(this.pool, s.id, new Date(now));
      return {
        principal: { id: s.user.id, kind: "user", name: s.user.email, roles: s.user.roles },
        userId: s.user.id,
        session: { id: s.id, csrfToken: s.csrf_token },
      };
    }
    if (token.startsWith(API_TOKEN_PREFIX)) {
      const t = await repo.findApiTokenByHash(this.pool, sha256(token));
      if (!t || t.revoked_at || t.user.disabled || (t.expires_at && t.expires_at.getTime() <= now)) return undefined;
      if (!t.last_used_at || now - t.last_used_at.getTime() >= TOUCH_EVERY_MS) {
        await repo.touchApiToken(this.pool, t.id, new Date(now));
      }
      return {
        principal: {
          id: `token:${t.id}`,
          kind: "token",
          name: t.name,
          roles: t.roles.filter((r) => t.user.roles.includes(r)),
        },
        userId: t.user_id,
      };
    }
    return undefined;
  }

  /** Whether `given` is the session's CSRF token (constant time). */
  csrfMatches(session: { csrfToken: string }, given: string | undefined): boolean {
    if (!given) return false;
    const a = Buffer.from(session.csrfToken);
    const b = Buffer.from(given);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  async logout(sessionId: string): Promise<void> {
    await repo.deleteSession(this.pool, sessionId);
  }

  /** Changes the user's own password (HUB_ERR_AUTH_FAILED for a wrong current one) and ends its other sessions. */
  async changePassword(userId: string, current: string, next: string, keepSessionId?: string): Promise<void> {
    checkPassword(next);
    const row = await repo.findUserById(this.pool, userId);
    if (!row || !(await verifyPassword(current, row.password_hash))) {
      throw hubError("HUB_ERR_AUTH_FAILED", "the current password is wrong");
    }
    await inTransaction(this.pool, async (db) => {
      await repo.updateUser(db, userId, { passwordHash: await hashPassword(next) });
      await repo.deleteSessionsOfUser(db, userId, keepSessionId);
    });
  }

  /**
   * Issues an API token for the user with `roles` (default: all of the user's; more than the user
   * has is HUB_ERR_FORBIDDEN). The secret is returned here only.
   */
  async createApiToken(
    userId: string,
    input: { name: string; roles?: readonly string[]; expiresInMs?: number },
  ): Promise<{ token: string; apiToken: ApiToken }> {
    const user = await this.getUser(userId);
    const roles = input.roles === undefined ? user.roles : checkRoles(input.roles);
    const beyond = roles.filter((r) => !user.roles.includes(r));
    if (beyond.length > 0)
      throw hubError("HUB_ERR_FORBIDDEN", `a token cannot have roles its user lacks: ${beyond.join(", ")}`);
    const token = secret(API_TOKEN_PREFIX);
    const row = await repo.insertApiToken(this.pool, {
      userId,
      name: input.name,
      roles,
      tokenHash: sha256(token),
      at: new Date(this.now()),
      expiresAt: input.expiresInMs ? new Date(this.now() + input.expiresInMs) : null,
    });
    return { token, apiToken: toApiToken(row) };
  }

  async listApiTokens(userId: string): Promise<ApiToken[]> {
    return (await repo.listApiTokens(this.pool, userId)).map(toApiToken);
  }

  /** Revokes a token of `userId` (any user's when `userId` is undefined: an admin); HUB_ERR_NOT_FOUND otherwise. */
  async revokeApiToken(tokenId: string, userId: string | undefined): Promise<void> {
    const row = UUID.test(tokenId) ? await repo.findApiToken(this.pool, tokenId) : undefined;
    if (!row || (userId !== undefined && row.user_id !== userId))
      throw hubError("HUB_ERR_NOT_FOUND", `no token ${tokenId}`);
    await repo.revokeApiToken(this.pool, tokenId, new Date(this.now()));
  }
}

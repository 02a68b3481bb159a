import type pg from "pg";
import type { Role } from "../platform/principal.js";

/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Db = Pick<pg.Pool, "query">;

/** A row of auth.users. */
export interface UserRow {
  id: string;
  email: string;
  display_name: string;
  roles: Role[];
  password_hash: string;
  disabled: boolean;
  created_at: Date;
  updated_at: Date;
  version: number;
}

/** A session with its user. */
export interface SessionRow {
  id: string;
  csrf_token: string;
  expires_at: Date;
  last_seen_at: Date;
  user: UserRow;
}

/** An API token (never its secret). */
export interface ApiTokenRow {
  id: string;
  user_id: string;
  name: string;
  roles: Role[];
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

const USER =
  "u.id, u.email, u.display_name, u.roles, u.password_hash, u.disabled, u.created_at, u.updated_at, u.version";
const TOKEN = "t.id, t.user_id, t.name, t.roles, t.created_at, t.expires_at, t.revoked_at, t.last_used_at";

/** Inserts a user; a taken e-mail fails with SQLSTATE 23505. */
export async function insertUser(
  db: Db,
  user: { email: string; displayName: string; roles: Role[]; passwordHash: string },
): Promise<UserRow> {
  const { rows } = await db.query<UserRow>(
    `INSERT INTO auth.users AS u (email, display_name, roles, password_hash) VALUES ($1, $2, $3, $4) RETURNING ${USER}`,
    [user.email, user.displayName, user.roles, user.passwordHash],
  );
  return rows[0] as UserRow;
}

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  return (await db.query<UserRow>(`SELECT ${USER} FROM auth.users u WHERE u.email = $1`, [email])).rows[0];
}

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return (await db.query<UserRow>(`SELECT ${USER} FROM auth.users u WHERE u.id = $1`, [id])).rows[0];
}

export async function listUsers(db: Db): Promise<UserRow[]> {
  return (await db.query<UserRow>(`SELECT ${USER} FROM auth.users u ORDER BY u.email`)).rows;
}

/**
 * Updates the fields given in `patch` and raises the version, if the user is at `version` (when
 * given): the check and the write are one statement. Undefined when no row matched.
 */
export async function updateUser(
  db: Db,
  id: string,
  patch: { displayName?: string; roles?: Role[]; disabled?: boolean; passwordHash?: string },
  version?: number,
): Promise<UserRow | undefined> {
  const { rows } = await db.query<UserRow>(
    `UPDATE auth.users u SET
       display_name = coalesce($2, display_name),
       roles = coalesce($3, roles),
       disabled = coalesce($4, disabled),
       password_hash = coalesce($5, password_hash),
       updated_at = now(),
       version = version + 1
     WHERE u.id = $1 AND ($6::int IS NULL OR u.version = $6)
     RETURNING ${USER}`,
    [
      id,
      patch.displayName ?? null,
      patch.roles ?? null,
      patch.disabled ?? null,
      patch.passwordHash ?? null,
      version ?? null,
    ],
  );
  return rows[0];
}

/** Deletes the user (sessions and tokens go with it) if at `version` (when given). */
export async function deleteUser(db: Db, id: string, version?: number): Promise<boolean> {
  const res = await db.query("DELETE FROM auth.users WHERE id = $1 AND ($2::int IS NULL OR version = $2)", [
    id,
    version ?? null,
  ]);
  return (res.rowCount ?? 0) > 0;
}

/** Ids of enabled admins, locked until the transaction ends (the last-admin guard). */
export async function lockEnabledAdmins(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    "SELECT id FROM auth.users WHERE 'admin' = ANY (roles) AND NOT disabled ORDER BY id FOR UPDATE",
  );
  return rows.map((r) => r.id);
}

export async function insertSession(
  db: Db,
  s: {
    userId: string;
    tokenHash: Buffer;
    csrfToken: string;
    at: Date;
    expiresAt: Date;
    ip?: string;
    userAgent?: string;
  },
): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO auth.sessions (user_id, token_hash, csrf_token, created_at, expires_at, last_seen_at, ip, user_agent)
     VALUES ($1, $2, $3, $4, $5, $4, $6, $7) RETURNING id`,
    [s.userId, s.tokenHash, s.csrfToken, s.at, s.expiresAt, s.ip ?? null, s.userAgent ?? null],
  );
  return (rows[0] as { id: string }).id;
}

export async function findSessionByHash(db: Db, tokenHash: Buffer): Promise<SessionRow | undefined> {
  const { rows } = await db.query<SessionRow>(
    `SELECT s.id, s.csrf_token, s.expires_at, s.last_seen_at, (SELECT to_jsonb(x) FROM (SELECT ${USER}) x) AS user
     FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id WHERE s.token_hash = $1`,
    [tokenHash],
  );
  const row = rows[0];
  return row && { ...row, user: reviveUser(row.user) };
}

/** to_jsonb turns timestamps into strings. */
function reviveUser(u: UserRow): UserRow {
  return { ...u, created_at: new Date(u.created_at), updated_at: new Date(u.updated_at) };
}

export async function touchSession(db: Db, id: string, at: Date): Promise<void> {
  await db.query("UPDATE auth.sessions SET last_seen_at = $2 WHERE id = $1", [id, at]);
}

export async function deleteSession(db: Db, id: string): Promise<void> {
  await db.query("DELETE FROM auth.sessions WHERE id = $1", [id]);
}

/** Ends every session of the user but `exceptId`. */
export async function deleteSessionsOfUser(db: Db, userId: string, exceptId?: string): Promise<void> {
  await db.query("DELETE FROM auth.sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2", [userId, exceptId ?? null]);
}

export async function deleteExpiredSessions(db: Db, now: Date, idleSince: Date): Promise<number> {
  const { rowCount } = await db.query("DELETE FROM auth.sessions WHERE expires_at <= $1 OR last_seen_at <= $2", [
    now,
    idleSince,
  ]);
  return rowCount ?? 0;
}

export async function insertApiToken(
  db: Db,
  t: { userId: string; name: string; roles: Role[]; tokenHash: Buffer; at: Date; expiresAt: Date | null },
): Promise<ApiTokenRow> {
  const { rows } = await db.query<ApiTokenRow>(
    `INSERT INTO auth.api_tokens AS t (user_id, name, roles, token_hash, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${TOKEN}`,
    [t.userId, t.name, t.roles, t.tokenHash, t.at, t.expiresAt],
  );
  return rows[0] as ApiTokenRow;
}

export async function findApiTokenByHash(
  db: Db,
  tokenHash: Buffer,
): Promise<(ApiTokenRow & { user: UserRow }) | undefined> {
  const { rows } = await db.query<ApiTokenRow & { user: UserRow }>(
    `SELECT ${TOKEN}, (SELECT to_jsonb(x) FROM (SELECT ${USER}) x) AS user
     FROM auth.api_tokens t JOIN auth.users u ON u.id = t.user_id WHERE t.token_hash = $1`,
    [tokenHash],
  );
  const row = rows[0];
  return row && { ...row, user: reviveUser(row.user) };
}

export async function listApiTokens(db: Db, userId: string): Promise<ApiTokenRow[]> {
  return (
    await db.query<ApiTokenRow>(`SELECT ${TOKEN} FROM auth.api_tokens t WHERE t.user_id = $1 ORDER BY t.created_at`, [
      userId,
    ])
  ).rows;
}

export async function findApiToken(db: Db, id: string): Promise<ApiTokenRow | undefined> {
  return (await db.query<ApiTokenRow>(`SELECT ${TOKEN} FROM auth.api_tokens t WHERE t.id = $1`, [id])).rows[0];
}

export async function revokeApiToken(db: Db, id: string, at: Date): Promise<void> {
  await db.query("UPDATE auth.api_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1", [id, at]);
}

export async function touchApiToken(db: Db, id: string, at: Date): Promise<void> {
  await db.query("UPDATE auth.api_tokens SET last_used_at = $2 WHERE id = $1", [id, at]);
}

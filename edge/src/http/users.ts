import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { writeFileAtomic } from "../atomic-file.js";
import { HttpProblem } from "./problem.js";

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, length: number) => Promise<Buffer>;

/** installer: everything; viewer: reads only. */
export type Role = "installer" | "viewer";

/** A user as the API shows it. */
export interface User {
  username: string;
  role: Role;
}

interface StoredUser extends User {
  /** `scrypt$<salt>$<hash>` (base64), the format of `npm run edge -- hash-password`. */
  passwordHash: string;
  createdAt: string;
  passwordChangedAt: string;
}

/** Passwords shorter than this are refused. */
export const MIN_PASSWORD_LENGTH = 10;
const USERNAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
/** Verified against when the user does not exist, so both cases take the same time. */
const DUMMY_HASH = `scrypt$${Buffer.alloc(16).toString("base64")}$${Buffer.alloc(32).toString("base64")}`;

async function hash(password: string): Promise<string> {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString("base64")}$${(await scryptAsync(password, salt, 32)).toString("base64")}`;
}

async function matches(password: string, stored: string): Promise<boolean> {
  const [scheme, salt, expected] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !expected) return false;
  const want = Buffer.from(expected, "base64");
  const got = await scryptAsync(password, Buffer.from(salt, "base64"), want.length);
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * The edge's accounts in `users.json` (mode 0600, replaced atomically): scrypt password hashes,
 * never a default account. Hashing runs on the thread pool so a login does not stall polling.
 */
export class UserStore {
  private users: StoredUser[];

  constructor(private readonly file: string) {
    this.users = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { users: StoredUser[] }).users : [];
  }

  /** True until the first installer exists (first-run setup). */
  get empty(): boolean {
    return this.users.length === 0;
  }

  list(): User[] {
    return this.users.map(({ username, role }) => ({ username, role }));
  }

  get(username: string): User | undefined {
    const user = this.users.find((u) => u.username === username);
    return user && { username: user.username, role: user.role };
  }

  /** Creates a user; `onlyIfEmpty` makes it the first-run setup (refused once anyone exists). */
  async create(user: User, password: string, onlyIfEmpty = false): Promise<User> {
    checkCredentials(user.username, password, "/password");
    const passwordHash = await hash(password);
    // Checked after the (asynchronous) hashing, so two racing requests cannot both pass.
    if (onlyIfEmpty && !this.empty) throw new HttpProblem("EDGE_ERR_SETUP_DONE", "first-run setup was already done");
    if (this.users.some((u) => u.username === user.username)) {
      throw new HttpProblem("EDGE_ERR_REQUEST_INVALID", `user "${user.username}" exists`, {
        status: 409,
        problems: [{ path: "/username", message: "already exists" }],
      });
    }
    const now = new Date().toISOString();
    this.users.push({ ...user, passwordHash, createdAt: now, passwordChangedAt: now });
    this.save();
    return { username: user.username, role: user.role };
  }

  /** The user when the password is right, else null (same work either way). */
  async verify(username: string, password: string): Promise<User | null> {
    const user = this.users.find((u) => u.username === username);
    const ok = await matches(password, user?.passwordHash ?? DUMMY_HASH);
    return ok && user ? { username: user.username, role: user.role } : null;
  }

  async setPassword(username: string, password: string): Promise<void> {
    checkCredentials(username, password, "/newPassword");
    const passwordHash = await hash(password);
    const user = this.users.find((u) => u.username === username);
    if (!user) throw new HttpProblem("EDGE_ERR_NOT_FOUND", `no user "${username}"`);
    user.passwordHash = passwordHash;
    user.passwordChangedAt = new Date().toISOString();
    this.save();
  }

  /** Deletes a user; the last installer cannot be deleted. */
  delete(username: string): void {
    const user = this.users.find((u) => u.username === username);
    if (!user) throw new HttpProblem("EDGE_ERR_NOT_FOUND", `no user "${username}"`);
    if (user.role === "installer" && this.users.filter((u) => u.role === "installer").length === 1) {
      throw new HttpProblem("EDGE_ERR_REQUEST_INVALID", "the last installer cannot be deleted", { status: 409 });
    }
    this.users = this.users.filter((u) => u !== user);
    this.save();
  }

  private save(): void {
    writeFileAtomic(this.file, `${JSON.stringify({ users: this.users }, null, 2)}\n`, 0o600);
  }
}

function checkCredentials(username: string, password: string, passwordPath: string): void {
  const problems = [];
  if (!USERNAME.test(username)) {
    problems.push({ path: "/username", message: "1-64 letters, digits and . _ @ -, starting with a letter or digit" });
  }
  if (password.length < MIN_PASSWORD_LENGTH) {
    problems.push({ path: passwordPath, message: `must have at least ${MIN_PASSWORD_LENGTH} characters` });
  }
  if (problems.length > 0) throw new HttpProblem("EDGE_ERR_REQUEST_INVALID", problems[0]?.message ?? "", { problems });
}

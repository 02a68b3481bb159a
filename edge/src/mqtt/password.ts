import { randomBytes, scryptSync, timingSafeEqual } from "node:crypto";

/** Hashes a password as `scrypt$<salt>$<hash>` (base64), for configuration files. */
export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString("base64")}$${scryptSync(password, salt, 32).toString("base64")}`;
}

/** Checks a password against a `hashPassword` result in constant time. */
export function verifyPassword(password: string, hash: string): boolean {
  const [scheme, salt, expected] = hash.split("$");
  if (scheme !== "scrypt" || !salt || !expected) return false;
  const want = Buffer.from(expected, "base64");
  const got = scryptSync(password, Buffer.from(salt, "base64"), want.length);
  return got.length === want.length && timingSafeEqual(got, want);
}

import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import type pg from "pg";
import type { Logger } from "pino";
import { inTransaction } from "./transaction.js";

/** The group roles of migration 0003 the hub's runtime connection needs: ERP/platform and ingest. */
export const RUNTIME_GROUPS = ["steinmetz_app", "steinmetz_integration"] as const;

/**
 * The connection string the hub runs on, least privilege: migrations (and retention, which
 * detaches partitions) run as the database owner, everything else as a login role that is only a
 * member of steinmetz_app and steinmetz_integration.
 * - `appUrl` (HUB_APP_DATABASE_URL) when given: the operator made that role.
 * - Otherwise, when the owner connection may create roles (embedded PostgreSQL, a superuser URL),
 *   the hub provisions `steinmetz_hub_<database>` itself. Its password is derived from the
 *   owner's (HMAC-SHA-256), so every hub on that database computes the same one and nothing more
 *   is stored; the server gets only its SCRAM verifier, never the password.
 * - Otherwise it stays on the owner connection and says so in the log.
 */
export async function runtimeDatabaseUrl(
  owner: pg.Pool,
  ownerUrl: string,
  log: Logger,
  appUrl?: string,
): Promise<string> {
  if (appUrl) return appUrl;
  const url = new URL(ownerUrl);
  const ownerPassword = decodeURIComponent(url.password);
  const database = decodeURIComponent(url.pathname.slice(1));
  const { rows } = await owner.query<{ can: boolean }>(
    "SELECT rolsuper OR rolcreaterole AS can FROM pg_roles WHERE rolname = current_user",
  );
  if (!ownerPassword || !database || !rows[0]?.can) {
    log.warn(
      "the hub runs as the database owner: set HUB_APP_DATABASE_URL to a login role in steinmetz_app and steinmetz_integration (README: Database roles)",
    );
    return ownerUrl;
  }
  const role = `steinmetz_hub_${database.toLowerCase().replace(/[^a-z0-9_]/g, "_")}`.slice(0, 63);
  const password = createHmac("sha256", ownerPassword).update(`steinmetz-hub-runtime-role:${role}`).digest("hex");
  await inTransaction(owner, async (client) => {
    const id = client.escapeIdentifier(role);
    const verifier = client.escapeLiteral(scramVerifier(password));
    // role names are global to the cluster: one hub at a time (re)makes it
    await client.query("SELECT pg_advisory_xact_lock(hashtext('steinmetz.runtime-role'))");
    const exists = (await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role])).rowCount === 1;
    await client.query(
      `${exists ? "ALTER" : "CREATE"} ROLE ${id} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${verifier}`,
    );
    await client.query(`GRANT ${RUNTIME_GROUPS.join(", ")} TO ${id}`);
  });
  url.username = role;
  url.password = password;
  log.info({ role }, "the hub runs as its least-privilege database role");
  return url.toString();
}

/** PostgreSQL's SCRAM-SHA-256 verifier of `password` (RFC 5802/7677, as `CREATE ROLE ... PASSWORD` takes it). */
export function scramVerifier(password: string, iterations = 4096): string {
  const salt = randomBytes(16);
  // the passwords made here are hex, which SASLprep leaves as they are
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const serverKey = createHmac("sha256", salted).update("Server Key").digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

import { hubError } from "../errors.js";
import type { Queryable } from "./queryable.js";

/** The PostgreSQL majors the hub supports, and its test suite runs its database suites on (oldest and newest). */
export const SUPPORTED_POSTGRES = { oldest: 15, newest: 18 } as const;

/** A server's version as `server_version_num` gives it (e.g. 150018 → 15.18). */
export interface PostgresVersion {
  num: number;
  major: number;
  /** `major.minor`, e.g. "15.18". */
  text: string;
}

/** Parses `server_version_num` (majors 10 and later: MMmmmm). */
export function parseServerVersionNum(value: string): PostgresVersion {
  const num = Number(value);
  const major = Math.floor(num / 10_000);
  return { num, major, text: `${major}.${num % 10_000}` };
}

/**
 * Reads the server's version and refuses a major outside `SUPPORTED_POSTGRES`
 * (HUB_ERR_POSTGRES_VERSION) before anything is written: the hub's SQL uses nothing newer than the
 * oldest and is tested on the oldest and the newest.
 */
export async function assertSupportedPostgres(db: Queryable): Promise<PostgresVersion> {
  const { rows } = await db.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  const version = parseServerVersionNum(String(rows[0]?.v));
  const { oldest, newest } = SUPPORTED_POSTGRES;
  if (!Number.isInteger(version.num) || version.major < oldest || version.major > newest) {
    throw hubError(
      "HUB_ERR_POSTGRES_VERSION",
      `PostgreSQL ${version.text} (server_version_num ${rows[0]?.v}) is not supported: the hub runs on PostgreSQL ${oldest} to ${newest}`,
    );
  }
  return version;
}

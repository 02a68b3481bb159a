import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import type { Logger } from "pino";
import { openCliDatabase } from "../db/cli-database.js";
import { describeRun, listHolds, listRuns, placeHold, releaseHold, requestErasure, runRetention } from "./service.js";

const USAGE = `usage: npm run hub -- retention run [--now ISO]
       npm run hub -- retention runs [--limit N]
       npm run hub -- retention hold (--customer ID | --table erp.invoices --id ID) --reason R [--by WHO]
       npm run hub -- retention release --hold ID [--reason R] [--by WHO]
       npm run hub -- retention holds [--all] [--customer ID]
       npm run hub -- retention erase --customer ID [--now ISO] [--by WHO]`;

function fail(message: string): never {
  process.stderr.write(`hub retention: ${message}\n${USAGE}\n`);
  process.exit(2);
}

const OPTIONS = {
  now: { type: "string" },
  limit: { type: "string" },
  customer: { type: "string" },
  table: { type: "string" },
  id: { type: "string" },
  hold: { type: "string" },
  reason: { type: "string" },
  by: { type: "string" },
  all: { type: "boolean" },
} as const;

/**
 * `npm run hub -- retention run|runs|hold|release|holds|erase`: runs the retention job (as of
 * `--now`, default the current time; prints what it did per table on stderr and the stored report
 * as JSON on stdout), lists runs, places and releases legal holds, lists them, and makes a GDPR
 * erasure request. Acts as `--by` (default `cli:<OS user>`) in the audit trail. Connects as the
 * owner to DATABASE_URL or the embedded PostgreSQL under `dataDir`. Exit 0 done, 1 refused or
 * failed (with the error's code), 2 bad arguments.
 */
export async function runRetentionCli(
  argv: string[],
  databaseUrl: string | undefined,
  dataDir: string,
  log: Logger,
): Promise<never> {
  const [command, ...rest] = argv;
  let values: {
    now?: string;
    limit?: string;
    customer?: string;
    table?: string;
    id?: string;
    hold?: string;
    reason?: string;
    by?: string;
    all?: boolean;
  };
  try {
    values = parseArgs({ args: rest, options: OPTIONS }).values;
  } catch (err) {
    fail((err as Error).message);
  }
  const now = values.now === undefined ? new Date() : new Date(values.now);
  if (Number.isNaN(now.getTime())) fail("--now takes an ISO 8601 time");
  const limit = values.limit === undefined ? 20 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) fail("--limit takes 1 to 1000");
  const by = values.by ?? `cli:${userInfo().username}`;
  if (command === "hold") {
    if (!values.reason) fail("hold needs --reason");
    if ((values.customer === undefined) === (values.table === undefined || values.id === undefined)) {
      fail("hold needs --customer ID, or --table and --id");
    }
  } else if (command === "release") {
    if (!values.hold) fail("release needs --hold ID");
  } else if (command === "erase") {
    if (!values.customer) fail("erase needs --customer ID");
  } else if (command !== "run" && command !== "runs" && command !== "holds") {
    fail(`unknown command ${command ?? "(none)"}`);
  }
  const db = await openCliDatabase(databaseUrl, dataDir, log);
  const pool = db.pool;
  const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
  let code = 0;
  try {
    if (command === "run") {
      const report = await runRetention(pool, { now });
      process.stderr.write(`${describeRun(report).join("\n")}\n`);
      print(report);
    } else if (command === "runs") {
      print(await listRuns(pool, { limit }));
    } else if (command === "hold") {
      const reason = values.reason as string;
      const subject = values.customer
        ? { customerId: values.customer }
        : { table: values.table as string, recordId: values.id as string };
      print(await placeHold(pool, { ...subject, reason, placedBy: by }));
    } else if (command === "release") {
      print(await releaseHold(pool, { holdId: values.hold as string, releasedBy: by, reason: values.reason }));
    } else if (command === "holds") {
      print(await listHolds(pool, { all: values.all === true, customerId: values.customer }));
    } else {
      print(await requestErasure(pool, { customerId: values.customer as string, requestedBy: by, now }));
    }
  } catch (err) {
    const e = err as { code?: string; message: string };
    process.stderr.write(`hub retention: ${e.message}${e.code ? ` (${e.code})` : ""}\n`);
    code = 1;
  } finally {
    await db.close();
  }
  process.exit(code);
}

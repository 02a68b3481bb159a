import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { parseArgs } from "node:util";
import type { Logger } from "pino";
import { openCliDatabase } from "../db/cli-database.js";
import { exportAudit, verifyAuditChain } from "./service.js";

const USAGE = `usage: npm run hub -- audit verify [--from ISO] [--to ISO]
       npm run hub -- audit export --from ISO --to ISO [--format jsonl|csv] [--out FILE]`;

function fail(message: string): never {
  process.stderr.write(`hub audit: ${message}\n${USAGE}\n`);
  process.exit(2);
}

const isTime = (s: string | undefined) => s === undefined || !Number.isNaN(Date.parse(s));

/**
 * `npm run hub -- audit verify|export`: checks the hash chain (prints JSON; exit 0 when intact,
 * 1 with the first broken link's id and reason) or writes a time range as JSON lines or CSV (to
 * stdout or `--out`). Connects to DATABASE_URL or the embedded PostgreSQL under `dataDir` (the
 * running one, or started for the command). Exit 2 for bad arguments.
 */
export async function runAuditCli(
  argv: string[],
  databaseUrl: string | undefined,
  dataDir: string,
  log: Logger,
): Promise<never> {
  const [command, ...rest] = argv;
  let values: { from?: string; to?: string; format?: string; out?: string };
  try {
    values = parseArgs({
      args: rest,
      options: {
        from: { type: "string" },
        to: { type: "string" },
        format: { type: "string" },
        out: { type: "string" },
      },
    }).values;
  } catch (err) {
    fail((err as Error).message);
  }
  if (!isTime(values.from) || !isTime(values.to)) fail("--from and --to take ISO 8601 times");
  if (command !== "verify" && command !== "export") fail(`unknown command ${command ?? "(none)"}`);
  if (command === "export") {
    if (!values.from || !values.to) fail("export needs --from and --to");
    if (values.format !== undefined && values.format !== "jsonl" && values.format !== "csv") {
      fail("--format is jsonl or csv");
    }
  }
  const db = await openCliDatabase(databaseUrl, dataDir, log);
  const pool = db.pool;
  let code = 0;
  try {
    const range = { from: values.from, to: values.to };
    if (command === "verify") {
      const result = await verifyAuditChain(pool, range);
      process.stdout.write(
        `${JSON.stringify(result.ok ? result : { ...result, code: "HUB_ERR_AUDIT_CHAIN_BROKEN" })}\n`,
      );
      code = result.ok ? 0 : 1;
    } else {
      const out = values.out ? createWriteStream(values.out) : process.stdout;
      for await (const chunk of exportAudit(pool, range, values.format === "csv" ? "csv" : "jsonl")) {
        if (!out.write(chunk)) await once(out, "drain");
      }
      if (out !== process.stdout) await new Promise<void>((resolve) => out.end(() => resolve()));
    }
  } catch (err) {
    process.stderr.write(`hub audit: ${(err as Error).message}\n`);
    code = 1;
  } finally {
    await db.close();
  }
  process.exit(code);
}

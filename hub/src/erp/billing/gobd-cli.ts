import { parseArgs } from "node:util";
import type { Logger } from "pino";
import { openCliDatabase } from "../../db/cli-database.js";
import { exportGobd } from "./gobd-export.js";

const USAGE = "usage: npm run hub -- gobd export --from YYYY-MM-DD --to YYYY-MM-DD --out DIR";

function fail(message: string): never {
  process.stderr.write(`hub gobd: ${message}\n${USAGE}\n`);
  process.exit(2);
}

const isDay = (s: string | undefined): s is string =>
  s !== undefined && /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`));

/**
 * `npm run hub -- gobd export --from --to --out DIR`: the tax auditor's data export (GoBD Z3) of
 * a period into DIR (see gobd-export.ts); prints the rows per file as JSON. Connects to
 * DATABASE_URL or the embedded PostgreSQL under `dataDir`. Exit 2 for bad arguments.
 */
export async function runGobdCli(
  argv: string[],
  databaseUrl: string | undefined,
  dataDir: string,
  log: Logger,
): Promise<never> {
  const [command, ...rest] = argv;
  let values: { from?: string; to?: string; out?: string };
  try {
    values = parseArgs({
      args: rest,
      options: { from: { type: "string" }, to: { type: "string" }, out: { type: "string" } },
    }).values;
  } catch (err) {
    fail((err as Error).message);
  }
  if (command !== "export") fail(`unknown command ${command ?? "(none)"}`);
  if (!isDay(values.from) || !isDay(values.to)) fail("--from and --to take days (YYYY-MM-DD)");
  if (values.from > values.to) fail("--to lies before --from");
  if (!values.out) fail("export needs --out DIR");
  const db = await openCliDatabase(databaseUrl, dataDir, log);
  let code = 0;
  try {
    const files = await exportGobd(db.pool, { from: values.from, to: values.to, outDir: values.out });
    process.stdout.write(`${JSON.stringify({ out: values.out, files })}\n`);
  } catch (err) {
    process.stderr.write(`hub gobd: ${(err as Error).message}\n`);
    code = 1;
  } finally {
    await db.close();
  }
  process.exit(code);
}

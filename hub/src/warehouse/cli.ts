import { parseArgs } from "node:util";
import type { Logger } from "pino";
import { openCliDatabase } from "../db/cli-database.js";
import { lineageHook } from "./lineage.js";
import { qualityHook } from "./quality.js";
import { backfillWarehouse, runWarehouse, warehouseStatus } from "./runner.js";

const USAGE = `usage: npm run hub -- warehouse run
       npm run hub -- warehouse backfill --from 2026-11-01 --to 2026-11-08
       npm run hub -- warehouse status`;

function fail(message: string): never {
  process.stderr.write(`hub warehouse: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function date(name: string, text: string | undefined): Date {
  const value = text === undefined ? Number.NaN : Date.parse(text);
  if (Number.isNaN(value)) fail(`--${name} needs a date or time (ISO 8601), not ${text ?? "nothing"}`);
  return new Date(value);
}

/**
 * `npm run hub -- warehouse run` loads everything committed so far and exits; `backfill --from
 * --to` loads the readings of a time range again (writing only what differs); `status` prints each
 * job's watermark and last run. JSON on stdout; exit 1 when a job failed, 2 for bad arguments.
 */
export async function runWarehouseCli(
  argv: string[],
  databaseUrl: string | undefined,
  dataDir: string,
  log: Logger,
): Promise<never> {
  const [command, ...rest] = argv;
  let values: { from?: string; to?: string };
  try {
    values = parseArgs({ args: rest, options: { from: { type: "string" }, to: { type: "string" } } }).values;
  } catch (err) {
    fail((err as Error).message);
  }
  if (!command || !["run", "backfill", "status"].includes(command)) fail(`unknown command ${command ?? "(none)"}`);
  const range = command === "backfill" ? { from: date("from", values.from), to: date("to", values.to) } : undefined;
  if (range && range.from >= range.to) fail("--from must be before --to");
  let afterLoad: ReturnType<typeof qualityHook>;
  try {
    afterLoad = qualityHook({ log });
  } catch (err) {
    process.stderr.write(`hub warehouse: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const db = await openCliDatabase(databaseUrl, dataDir, log);
  // the runs' OpenLineage events, relayed by the hub's next warehouse pass
  const hooks = { lineage: lineageHook({ databaseUrl }), afterLoad };
  let code = 0;
  try {
    const result =
      command === "status"
        ? await warehouseStatus(db.pool)
        : range
          ? await backfillWarehouse(db.pool, range, { log, hooks })
          : await runWarehouse(db.pool, { log, hooks });
    if (Array.isArray(result) && result.some((r) => (r as { status?: string }).status === "failed")) code = 1;
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } catch (err) {
    process.stderr.write(`hub warehouse: ${(err as Error).message}\n`);
    code = 1;
  } finally {
    await db.close();
  }
  process.exit(code);
}

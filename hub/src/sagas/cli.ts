import { parseArgs } from "node:util";
import type { Logger } from "pino";
import { openCliDatabase } from "../db/cli-database.js";
import { inTransaction } from "../db/transaction.js";
import { beginWithAuditContextSql } from "../platform/audit-context.js";
import { abortSaga, listSagas, retrySaga, sagaDetail } from "./queries.js";

const USAGE = `usage: npm run hub -- sagas list [--state S] [--type T] [--limit N]
       npm run hub -- sagas show|retry|abort ID`;

function fail(message: string): never {
  process.stderr.write(`hub sagas: ${message}\n${USAGE}\n`);
  process.exit(2);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `npm run hub -- sagas list|show|retry|abort`: prints JSON. Retry and abort are audited with the
 * actor `cli:<OS user>`. Connects to DATABASE_URL or the embedded PostgreSQL under `dataDir`.
 * Exit 2 for bad arguments, 1 when the saga cannot be found or changed.
 */
export async function runSagasCli(
  argv: string[],
  databaseUrl: string | undefined,
  dataDir: string,
  log: Logger,
): Promise<never> {
  const [command, ...rest] = argv;
  let parsed: { values: { state?: string; type?: string; limit?: string }; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { state: { type: "string" }, type: { type: "string" }, limit: { type: "string" } },
    });
  } catch (err) {
    fail((err as Error).message);
  }
  const id = parsed.positionals[0];
  if (!command || !["list", "show", "retry", "abort"].includes(command)) fail(`unknown command ${command ?? "(none)"}`);
  if (command !== "list" && !(id && UUID.test(id))) fail(`${command} needs a saga id`);
  const limit = Number(parsed.values.limit ?? 50);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) fail("--limit is 1 to 500");
  const db = await openCliDatabase(databaseUrl, dataDir, log);
  const actor = `cli:${process.env.USER ?? "unknown"}`;
  let code = 0;
  try {
    let result: unknown;
    if (command === "list") {
      result = await listSagas(db.pool, { state: parsed.values.state, type: parsed.values.type, limit });
    } else if (command === "show") {
      result = await sagaDetail(db.pool, id as string);
    } else {
      result = await inTransaction(
        db.pool,
        async (tx) => {
          if (command === "retry") await retrySaga(tx, id as string);
          else await abortSaga(tx, id as string, actor);
          return sagaDetail(tx, id as string);
        },
        (client) => beginWithAuditContextSql(client, { actorId: actor, tags: ["sagas", command] }),
      );
    }
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } catch (err) {
    process.stderr.write(`hub sagas: ${(err as Error).message}\n`);
    code = 1;
  } finally {
    await db.close();
  }
  process.exit(code);
}

/**
 * `npm run hub -- admin create --email E [--name N]`: creates a user with the role admin, the
 * password read from stdin (first line; asked twice without echo on a terminal). There is no
 * default user and no default password: this is how the first admin comes to be; further users
 * are made by admins through `/api/v1/users`. Works on DATABASE_URL or the embedded cluster under
 * HUB_DATA_DIR (also while the hub runs) and applies pending migrations first (unless
 * HUB_MIGRATE=off). Prints the user as JSON. Exit codes: 0 done, 1 failed (e.g.
 * HUB_ERR_USER_EXISTS), 2 bad arguments or a password shorter than 12 characters.
 */
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { parseArgs } from "node:util";
import type { Logger } from "pino";
import { openCliDatabase } from "../db/cli-database.js";
import { migrate } from "../db/migrate.js";
import { MIN_PASSWORD_LENGTH } from "./password.js";
import { AuthService } from "./service.js";

const USAGE = `usage: npm run hub -- admin create --email E [--name N]   (password on stdin)
env: DATABASE_URL (unset: the embedded cluster under HUB_DATA_DIR, default .data/hub)`;

class UsageError extends Error {}

/** The first line of stdin; on a terminal asked for (twice) without echo. */
async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    let text = "";
    for await (const chunk of stdin) {
      text += chunk.toString();
      if (text.includes("\n")) break;
    }
    return text.split(/\r?\n/)[0] ?? "";
  }
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: stdin, output, terminal: true });
  const ask = (prompt: string) =>
    new Promise<string>((resolve) => {
      muted = false;
      output.write(prompt);
      muted = true;
      rl.question("", (answer) => {
        muted = false;
        output.write("\n");
        resolve(answer);
      });
    });
  try {
    const first = await ask("password: ");
    const second = await ask("again: ");
    if (first !== second) throw new UsageError("the passwords differ");
    return first;
  } finally {
    rl.close();
  }
}

/** Runs `admin <command> ...argv`, prints the result as JSON and exits the process. */
export async function runAdminCli(
  argv: string[],
  databaseUrl: string | undefined,
  dataDir: string,
  log: Logger,
): Promise<never> {
  const [command, ...rest] = argv;
  try {
    if (command !== "create")
      throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : "a command is required");
    let values: { email?: string; name?: string };
    try {
      values = parseArgs({
        args: rest,
        options: { email: { type: "string" }, name: { type: "string" } },
        strict: true,
      }).values;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (!values.email) throw new UsageError("--email is required");
    const password = await readPassword();
    if ([...password].length < MIN_PASSWORD_LENGTH) {
      throw new UsageError(`the password (stdin) needs at least ${MIN_PASSWORD_LENGTH} characters`);
    }
    const db = await openCliDatabase(databaseUrl, dataDir, log);
    try {
      if (process.env.HUB_MIGRATE !== "off") await migrate(db.pool, log);
      const user = await new AuthService(db.pool).createUser({
        email: values.email,
        displayName: values.name,
        roles: ["admin"],
        password,
      });
      process.stdout.write(`${JSON.stringify(user, null, 2)}\n`);
    } finally {
      await db.close();
    }
    process.exit(0);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`hub admin: ${err.message}\n${USAGE}\n`);
      process.exit(2);
    }
    const code = (err as { code?: unknown }).code;
    process.stderr.write(
      `hub admin ${command}: ${typeof code === "string" ? `${code}: ` : ""}${(err as Error).message}\n`,
    );
    process.exit(code === "HUB_ERR_VALIDATION" ? 2 : 1);
  }
}

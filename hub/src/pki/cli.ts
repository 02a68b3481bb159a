/**
 * `npm run hub -- pki <command>`: the hub CA for the edge link's mutual TLS, under `$HUB_DATA_DIR/pki`.
 *
 *   pki init [--host NAME]... [--force]   CA + hub server certificate (localhost, 127.0.0.1, ::1 + hosts)
 *   pki issue --edge ID --out DIR         ca.crt, edge.crt, edge.key for one edge (its EDGE_TLS_DIR)
 *   pki revoke --edge ID                  the edge's certificates are refused from the next call on
 *   pki list                              every edge and its certificates, as JSON
 *   pki enroll-code --edge ID [--ttl-hours 72] [--url http://HOST:PORT]
 *                                         a one-time code the edge redeems for a certificate of a
 *                                         key it makes itself (see enrollment.ts); --url is the hub's
 *                                         HTTP base URL as the edge reaches it (default
 *                                         http://127.0.0.1:$HUB_HTTP_PORT)
 *
 * Results are JSON on stdout and never contain key material. Exit codes: 0 done, 1 failed,
 * 2 bad arguments.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import type { HubErrorCode } from "../errors.js";
import { initPki, issueEdgeCertificate, listEdges, revokeEdge } from "./ca.js";
import { createEnrollmentCode } from "./enrollment.js";
import { pkiDirOf } from "./files.js";

const USAGE = `usage: npm run hub -- pki init [--host NAME]... [--force]
       npm run hub -- pki issue --edge ID --out DIR
       npm run hub -- pki revoke --edge ID
       npm run hub -- pki list
       npm run hub -- pki enroll-code --edge ID [--ttl-hours 72] [--url http://HOST:PORT]
env: HUB_DATA_DIR (.data/hub); the CA lives in $HUB_DATA_DIR/pki; HUB_HTTP_PORT (3000) for the default --url`;

/** Errors that are the caller's arguments, not the PKI's state: exit code 2 like a usage error. */
const ARGUMENT_ERRORS: ReadonlySet<HubErrorCode> = new Set(["HUB_ERR_VALIDATION", "HUB_ERR_EDGE_ID_INVALID"]);

class UsageError extends Error {}

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

function options(argv: string[], spec: ParseArgsConfig["options"]): Values {
  try {
    return parseArgs({ args: argv, options: spec, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function required(values: Values, name: string): string {
  const value = values[name];
  if (typeof value !== "string" || value === "") throw new UsageError(`--${name} is required`);
  return value;
}

async function run(command: string | undefined, argv: string[], pkiDir: string): Promise<unknown> {
  switch (command) {
    case "init": {
      const values = options(argv, { host: { type: "string", multiple: true }, force: { type: "boolean" } });
      return initPki(pkiDir, { hosts: (values.host as string[] | undefined) ?? [], force: values.force === true });
    }
    case "issue": {
      const values = options(argv, { edge: { type: "string" }, out: { type: "string" } });
      return issueEdgeCertificate(pkiDir, required(values, "edge"), required(values, "out"));
    }
    case "revoke": {
      const values = options(argv, { edge: { type: "string" } });
      return revokeEdge(pkiDir, required(values, "edge"));
    }
    case "enroll-code": {
      const values = options(argv, {
        edge: { type: "string" },
        "ttl-hours": { type: "string" },
        url: { type: "string" },
      });
      const ttl = values["ttl-hours"];
      const ttlHours = typeof ttl === "string" ? Number(ttl) : 72;
      if (typeof ttl === "string" && (ttl.trim() === "" || !Number.isFinite(ttlHours))) {
        throw new UsageError(`--ttl-hours ${JSON.stringify(ttl)} is not a number`);
      }
      const url =
        typeof values.url === "string" ? values.url : `http://127.0.0.1:${process.env.HUB_HTTP_PORT || "3000"}`;
      return createEnrollmentCode(pkiDir, required(values, "edge"), { ttlMs: ttlHours * 3_600_000, url });
    }
    case "list":
      options(argv, {});
      return { pkiDir, edges: listEdges(pkiDir) };
    default:
      throw new UsageError(command ? `unknown command ${JSON.stringify(command)}` : "a command is required");
  }
}

/**
 * Runs `pki <command> ...argv` against `$dataDir/pki`, prints the result as JSON and exits the
 * process (0 done, 1 failed, 2 bad arguments).
 */
export async function runPkiCli(argv: string[], dataDir: string): Promise<never> {
  const [command, ...rest] = argv;
  try {
    const result = await run(command, rest, pkiDirOf(dataDir));
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    process.exit(0);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`hub pki: ${err.message}\n${USAGE}\n`);
      process.exit(2);
    }
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && code.startsWith("HUB_ERR_")) {
      process.stderr.write(`hub pki ${command}: ${code}: ${(err as Error).message}\n`);
      process.exit(ARGUMENT_ERRORS.has(code as HubErrorCode) ? 2 : 1);
    }
    process.stderr.write(`hub pki ${command}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

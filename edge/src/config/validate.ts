import type { TSchema } from "@sinclair/typebox";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";

const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
const compiled = new WeakMap<TSchema, ValidateFunction>();

/** One problem found in a document: a JSON-pointer path and what is wrong there. */
export interface Problem {
  path: string;
  message: string;
}

/** Validates `data` against a TypeBox schema; returns every problem with its path (empty when valid). */
export function validate(schema: TSchema, data: unknown): Problem[] {
  let check = compiled.get(schema);
  if (!check) {
    check = ajv.compile(schema);
    compiled.set(schema, check);
  }
  if (check(data)) return [];
  const errors = check.errors ?? [];
  // A failed anyOf of constants is reported once ("must be one of ..."), not once per branch.
  const unions = errors.filter((e) => e.keyword === "anyOf").map((e) => `${e.schemaPath}/`);
  return errors.filter((e) => !unions.some((prefix) => e.schemaPath.startsWith(prefix))).map(toProblem);
}

function toProblem(e: ErrorObject): Problem {
  const path = e.instancePath === "" ? "/" : e.instancePath;
  switch (e.keyword) {
    case "additionalProperties":
      return { path, message: `unknown property "${(e.params as { additionalProperty: string }).additionalProperty}"` };
    case "required":
      return {
        path,
        message: `missing required property "${(e.params as { missingProperty: string }).missingProperty}"`,
      };
    case "const":
      return { path, message: `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}` };
    case "anyOf": {
      const options = (e.parentSchema as { anyOf?: { const?: unknown }[] }).anyOf ?? [];
      if (options.every((o) => o.const !== undefined)) {
        return { path, message: `must be one of ${options.map((o) => JSON.stringify(o.const)).join(", ")}` };
      }
      return { path, message: e.message ?? "matches none of the allowed forms" };
    }
    default:
      return { path, message: e.message ?? e.keyword };
  }
}

/** Formats problems one per line, prefixed with the file they belong to. */
export function formatProblems(file: string, problems: readonly Problem[]): string {
  return problems.map((p) => `${file}: ${p.path}: ${p.message}`).join("\n");
}

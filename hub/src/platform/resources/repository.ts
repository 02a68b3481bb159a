import type { Queryable } from "../../db/queryable.js";
import { fieldError, hubError } from "../../errors.js";
import { staleVersion, versionCondition } from "../locking.js";
import { columnOf, type EntityDefinition } from "./entity.js";
import { type Field, fromColumn, SQL_TYPE } from "./fields.js";

/** A record as the API shows it. */
export type EntityRecord = Record<string, unknown> & { id: string; version: number };

/** A page of a list and the cursor of the next one. */
export interface Page {
  items: EntityRecord[];
  nextCursor: string | null;
}

const SYSTEM = { createdAt: "created_at", updatedAt: "updated_at" } as const;

/** The SELECT list: every field (dates as ISO text, not as a JS Date in local time) and the system columns. */
function selectList(definition: EntityDefinition): string {
  const fields = Object.values(definition.fields).map((field) =>
    field.kind === "date" ? `${columnOf(field)}::text AS ${columnOf(field)}` : columnOf(field),
  );
  return ["id", ...fields, "version", "created_at", "updated_at"].join(", ");
}

/** A row as the API shows it. */
export function toRecord(definition: EntityDefinition, row: Record<string, unknown>): EntityRecord {
  const record: Record<string, unknown> = { id: row.id };
  for (const [key, field] of Object.entries(definition.fields))
    record[key] = fromColumn(field.kind, row[columnOf(field)]);
  record.version = row.version;
  record.createdAt = (row.created_at as Date).toISOString();
  record.updatedAt = (row.updated_at as Date).toISOString();
  return record as EntityRecord;
}

/** The column and SQL type behind a sort key. */
function sortColumn(definition: EntityDefinition, key: string): { column: string; type: string } {
  if (key === "createdAt" || key === "updatedAt") return { column: SYSTEM[key], type: "timestamptz" };
  const field = definition.fields[key] as Field;
  return { column: columnOf(field), type: SQL_TYPE[field.kind] };
}

/**
 * Turns PostgreSQL's refusals into typed errors naming the field: what a named constraint means
 * (the definition's `constraints`), a missing value (23502), a reference to a record that does not
 * exist (23503 on write), a record still referenced (23503 on delete), a duplicate of a unique
 * field (23505), a CHECK the request broke (23514).
 */
export function refusalOf(definition: EntityDefinition, err: unknown): unknown {
  const e = err as { code?: string; detail?: string; constraint?: string; table?: string; column?: string };
  const named = e.constraint ? definition.constraints?.[e.constraint] : undefined;
  if (named && (e.code === "23505" || e.code === "23514")) {
    const code = named.code ?? (e.code === "23505" ? "HUB_ERR_DUPLICATE" : "HUB_ERR_VALIDATION");
    return fieldError(code, [{ path: `/${named.field}`, message: named.message }]);
  }
  const column = e.column ?? /Key \(([a-z_]+)(?:, [a-z_]+)*\)=/.exec(e.detail ?? "")?.[1];
  const key = Object.entries(definition.fields).find(([, field]) => columnOf(field) === column)?.[0];
  if (e.code === "23502" && key) return fieldError("HUB_ERR_VALIDATION", [{ path: `/${key}`, message: "is required" }]);
  if (e.code === "23503" && e.detail?.includes("is still referenced")) {
    return hubError(
      "HUB_ERR_IN_USE",
      `this ${definition.label.en.toLowerCase()} is still used by ${e.table ?? "another record"}`,
    );
  }
  if (e.code === "23503" && key) {
    return fieldError("HUB_ERR_REFERENCE_INVALID", [
      { path: `/${key}`, message: `no ${definition.fields[key]?.ref ?? "record"} with this id` },
    ]);
  }
  if (e.code === "23505") {
    const message = `another ${definition.label.en.toLowerCase()} has this value`;
    return key
      ? fieldError("HUB_ERR_DUPLICATE", [{ path: `/${key}`, message }])
      : hubError("HUB_ERR_DUPLICATE", `${e.constraint}: ${message}`);
  }
  if (e.code === "23514") return hubError("HUB_ERR_VALIDATION", `the values break the rule ${e.constraint}`);
  return err;
}

async function run<T>(definition: EntityDefinition, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw refusalOf(definition, err);
  }
}

/** Inserts a record (version 1; the workflow's initial state). */
export async function insertRecord(db: Queryable, definition: EntityDefinition, input: Record<string, unknown>) {
  const entries = Object.entries(input).filter(([k, v]) => definition.fields[k] && v !== undefined);
  const columns = entries.map(([k]) => columnOf(definition.fields[k] as Field));
  const values = entries.map(([, v]) => v);
  if (definition.workflow) {
    columns.push(columnOf(definition.fields[definition.workflow.field] as Field));
    values.push(definition.workflow.initial);
  }
  const { rows } = await run(definition, () =>
    db.query(
      `INSERT INTO ${definition.table} (${columns.join(", ")}) VALUES (${values.map((_, i) => `$${i + 1}`).join(", ")})
       RETURNING ${selectList(definition)}`,
      values,
    ),
  );
  return toRecord(definition, rows[0] as Record<string, unknown>);
}

/** One record, or null. */
export async function findRecord(
  db: Queryable,
  definition: EntityDefinition,
  id: string,
): Promise<EntityRecord | null> {
  const { rows } = await db.query(`SELECT ${selectList(definition)} FROM ${definition.table} WHERE id = $1`, [id]);
  return rows[0] ? toRecord(definition, rows[0]) : null;
}

/** A list query as the route validated it. */
export type ListQuery = Record<string, unknown> & { limit: number; cursor?: string; sort?: string; q?: string };

/**
 * A page of records: filtered (`in` filters take one value or a comma list, ranges `.gte` /
 * `.lte`, `q` a case-insensitive substring of any search field), ordered by the sort key and id,
 * after the cursor (keyset pagination: the position is the last row's sort value and id, exact
 * to the microsecond, so a page never repeats or skips a row).
 */
export async function listRecords(db: Queryable, definition: EntityDefinition, query: ListQuery): Promise<Page> {
  const params: unknown[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const where: string[] = [];
  for (const [key, field] of Object.entries(definition.fields)) {
    const type = SQL_TYPE[field.kind];
    if (field.filter === "in" && query[key] !== undefined) {
      const values = String(query[key])
        .split(",")
        .map((v) => v.trim());
      where.push(`${columnOf(field)} = ANY(${param(values)}::${type}[])`);
    }
    if (field.filter === "range") {
      if (query[`${key}.gte`] !== undefined) where.push(`${columnOf(field)} >= ${param(query[`${key}.gte`])}::${type}`);
      if (query[`${key}.lte`] !== undefined) where.push(`${columnOf(field)} <= ${param(query[`${key}.lte`])}::${type}`);
    }
  }
  if (query.q) {
    const pattern = param(`%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    const search = Object.values(definition.fields).filter((field) => field.search);
    where.push(`(${search.map((field) => `${columnOf(field)} ILIKE ${pattern}`).join(" OR ")})`);
  }
  const sortKey = query.sort ?? definition.defaultSort;
  const descending = sortKey.startsWith("-");
  const sort = sortColumn(definition, sortKey.replace(/^-/, ""));
  if (query.cursor) {
    const after = decodeCursor(query.cursor);
    where.push(
      `(${sort.column}, id) ${descending ? "<" : ">"} (${param(after.v)}::${sort.type}, ${param(after.id)}::uuid)`,
    );
  }
  const direction = descending ? "DESC" : "ASC";
  const { rows } = await db.query(
    `SELECT ${selectList(definition)}, ${sort.column}::text AS sort_position FROM ${definition.table}
     ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
     ORDER BY ${sort.column} ${direction}, id ${direction} LIMIT ${param(query.limit)}`,
    params,
  );
  const last = rows[rows.length - 1];
  return {
    items: rows.map((row) => toRecord(definition, row)),
    nextCursor:
      last && rows.length === query.limit
        ? Buffer.from(JSON.stringify({ v: last.sort_position, id: last.id })).toString("base64url")
        : null,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function decodeCursor(cursor: string): { v: string; id: string } {
  try {
    const c = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (typeof c.v === "string" && typeof c.id === "string" && UUID.test(c.id)) return c;
  } catch {}
  throw hubError("HUB_ERR_BAD_CURSOR", "cursor is not one this API returned");
}

/**
 * The record, locked for the rest of the transaction, if it is at version `expected` (null: any);
 * 404 or 412 otherwise. For writes that decide on the stored state (a transition, a finalisation).
 */
export async function lockRecord(
  db: Queryable,
  definition: EntityDefinition,
  id: string,
  expected: number | null,
): Promise<EntityRecord> {
  const { rows } = await db.query(
    `SELECT ${selectList(definition)} FROM ${definition.table} WHERE id = $1 FOR UPDATE`,
    [id],
  );
  const what = `${definition.label.en.toLowerCase()} ${id}`;
  if (!rows[0]) throw hubError("HUB_ERR_NOT_FOUND", `${what} does not exist`);
  const record = toRecord(definition, rows[0]);
  if (expected !== null && record.version !== expected) throw staleVersion(what, expected, record.version);
  return record;
}

/** 404 or 412: why a write at version `expected` matched nothing. */
async function refusal(db: Queryable, definition: EntityDefinition, id: string, expected: number | null) {
  const { rows } = await db.query<{ version: number }>(`SELECT version FROM ${definition.table} WHERE id = $1`, [id]);
  const what = `${definition.label.en.toLowerCase()} ${id}`;
  if (!rows[0]) return hubError("HUB_ERR_NOT_FOUND", `${what} does not exist`);
  return staleVersion(what, expected ?? 0, rows[0].version);
}

/**
 * Applies `patch` (JSON merge patch of writable fields) if the stored version is `expected`
 * (null: any) — check and write in one statement; 404 or 412 otherwise.
 */
export async function updateRecord(
  db: Queryable,
  definition: EntityDefinition,
  id: string,
  expected: number | null,
  patch: Record<string, unknown>,
  set: Record<string, unknown> = {},
): Promise<EntityRecord> {
  const entries = [...Object.entries(patch), ...Object.entries(set)].filter(
    ([k, v]) => definition.fields[k] && v !== undefined,
  );
  const sets = entries.map(([k], i) => `${columnOf(definition.fields[k] as Field)} = $${i + 3}`);
  const { rows } = await run(definition, () =>
    db.query(
      `UPDATE ${definition.table} SET ${[...sets, "version = version + 1", "updated_at = now()"].join(", ")}
       WHERE id = $1 AND ${versionCondition(2)} RETURNING ${selectList(definition)}`,
      [id, expected, ...entries.map(([, v]) => v)],
    ),
  );
  if (rows[0]) return toRecord(definition, rows[0]);
  throw await refusal(db, definition, id, expected);
}

/** Deletes the record at version `expected` (null: any); 404, 412 or 409 (still referenced) otherwise. */
export async function deleteRecord(db: Queryable, definition: EntityDefinition, id: string, expected: number | null) {
  const { rowCount } = await run(definition, () =>
    db.query(`DELETE FROM ${definition.table} WHERE id = $1 AND ${versionCondition(2)}`, [id, expected]),
  );
  if (rowCount !== 1) throw await refusal(db, definition, id, expected);
}

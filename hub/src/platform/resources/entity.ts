import { type TObject, type TSchema, Type } from "@sinclair/typebox";
import type { Queryable } from "../../db/queryable.js";
import type { HubErrorCode } from "../../errors.js";
import type { Permission, Principal } from "../principal.js";
import { type Field, type Label, snakeCase } from "./fields.js";

/** A status workflow: the allowed transitions and the permission each needs. */
export interface Workflow {
  /** The enum field holding the state (read-only: it changes only by a transition). */
  field: string;
  /** The state a new record starts in. */
  initial: string;
  transitions: Array<{ from: string[]; to: string; permission: Permission }>;
}

/** A create held back instead of written: the 202 answer's body and Location (e.g. an approval request). */
export interface HeldCreate {
  location: string;
  body: Record<string, unknown>;
}

/** Domain logic the kit calls inside the request's transaction (plain functions, no fastify). */
export interface EntityHooks {
  /** Values for fields a create body left out, from the caller (e.g. a booking's user). */
  defaults?(principal: Principal | undefined): Record<string, unknown>;
  /**
   * Holds a create back instead of writing it (same transaction, before the insert), e.g. until
   * a second person approves it: `hold` returns the answer (202, a body of `schema`, Location),
   * or undefined to write the record now.
   */
  holdCreate?: {
    schema: TSchema;
    hold(
      tx: Queryable,
      input: Record<string, unknown>,
      principal: Principal | undefined,
    ): Promise<HeldCreate | undefined>;
  };
  /** After a transition was written (same transaction): side effects such as reserving stock. */
  afterTransition?(
    tx: Queryable,
    change: { id: string; from: string; to: string; record: Record<string, unknown>; principal?: Principal },
  ): Promise<void>;
}

/**
 * An ERP entity, declared once: the kit derives its routes, OpenAPI, list filters, sort and
 * pagination, locking, idempotency and audit from it, and `/api/v1/meta/entities` serves it to
 * the web app, which renders lists and forms from it. The table has `id uuid`, `version`,
 * `created_at`, `updated_at` and an audit trigger (the migration's part).
 */
export interface EntityDefinition {
  /** Plural, lower-case: the route (`/api/v1/<name>`) and the key in the meta document. */
  name: string;
  /** Schema-qualified table. */
  table: string;
  label: Label;
  plural: Label;
  /** The field that names a record (in links, titles). */
  titleField: string;
  fields: Record<string, Field>;
  permissions: { read: Permission; write: Permission };
  /** Records may be deleted (with If-Match); false where history must stay (then only workflows end them). */
  deletable: boolean;
  /** Records are never changed once written (a ledger): no PATCH, no DELETE. */
  immutable?: boolean;
  /** Default list order; `-` for descending. */
  defaultSort: string;
  workflow?: Workflow;
  /**
   * What a refusal by a named constraint (unique, check) means, at which field: for constraints
   * whose column alone would mislead (a partial unique index, a rule across fields).
   */
  constraints?: Record<string, { field: string; message: string; code?: HubErrorCode }>;
  hooks?: EntityHooks;
  /**
   * What `GET /:id` shows beside the record (e.g. a site's devices with their live state): the
   * extra properties' schemas and how to load them.
   */
  detail?: {
    schema: Record<string, TSchema>;
    load(db: Queryable, record: Record<string, unknown> & { id: string }): Promise<Record<string, unknown>>;
  };
  /**
   * Refusals that are themselves audited (GoBD: an attempt to change what may not change): the
   * kit appends a REFUSED record, in a transaction of its own, naming the actor and the attempt.
   */
  auditRefusals?: HubErrorCode[];
}

/** Fields every entity has, set by the database. */
const SYSTEM_FIELDS = {
  id: Type.String({ format: "uuid" }),
  version: Type.Integer({ minimum: 1, description: "also sent as ETag; send it back in If-Match to change" }),
  createdAt: Type.String({ format: "date-time" }),
  updatedAt: Type.String({ format: "date-time" }),
};

/** The JSON schemas the kit derives from a definition. */
export interface EntitySchemas {
  item: TObject;
  create: TObject;
  patch: TSchema;
  listQuery: TObject;
  page: TObject;
  params: TObject;
}

const nullable = (field: Field): TSchema => (field.nullable ? Type.Union([field.schema, Type.Null()]) : field.schema);

/** Checks a definition (at startup) and fills in the columns. */
export function defineEntity(definition: EntityDefinition): EntityDefinition {
  const fields = Object.fromEntries(
    Object.entries(definition.fields).map(([key, field]) => [
      key,
      { ...field, column: field.column ?? snakeCase(key) },
    ]),
  );
  const problem = (text: string) => new Error(`entity ${definition.name}: ${text}`);
  if (!fields[definition.titleField]) throw problem(`titleField ${definition.titleField} is not a field`);
  for (const [key, field] of Object.entries(fields)) {
    if (field.sort && field.nullable) throw problem(`${key}: a sortable field cannot be nullable (keyset pagination)`);
    if (field.required && field.readOnly) throw problem(`${key}: a read-only field cannot be required on create`);
  }
  for (const [name, c] of Object.entries(definition.constraints ?? {})) {
    if (!fields[c.field]) throw problem(`constraint ${name} names no field ${c.field}`);
  }
  if (definition.immutable && definition.deletable) throw problem("an immutable entity cannot be deletable");
  const sortKey = definition.defaultSort.replace(/^-/, "");
  if (sortKey !== "createdAt" && sortKey !== "updatedAt" && !fields[sortKey]?.sort) {
    throw problem(`defaultSort ${definition.defaultSort} is not sortable`);
  }
  if (definition.workflow) {
    const state = fields[definition.workflow.field];
    if (state?.kind !== "enum" || !state.readOnly) throw problem("the workflow field must be a read-only enum");
    const values = new Set(state.options?.map((o) => o.value));
    for (const t of definition.workflow.transitions) {
      for (const s of [...t.from, t.to]) if (!values.has(s)) throw problem(`workflow state ${s} is not an option`);
    }
  }
  return { ...definition, fields };
}

/** The column of a field (after `defineEntity`). */
export const columnOf = (field: Field): string => field.column as string;

/** Sortable keys: the sortable fields plus createdAt and updatedAt. */
export function sortableKeys(definition: EntityDefinition): string[] {
  return ["createdAt", "updatedAt", ...Object.keys(definition.fields).filter((k) => definition.fields[k]?.sort)];
}

/** The item, create, patch, list query and page schemas of an entity. */
export function schemasOf(definition: EntityDefinition): EntitySchemas {
  const entries = Object.entries(definition.fields);
  const item = Type.Object(
    {
      id: SYSTEM_FIELDS.id,
      ...Object.fromEntries(entries.map(([key, field]) => [key, nullable(field)])),
      version: SYSTEM_FIELDS.version,
      createdAt: SYSTEM_FIELDS.createdAt,
      updatedAt: SYSTEM_FIELDS.updatedAt,
    },
    { $id: `${definition.name}.item` },
  );
  const writable = entries.filter(([, field]) => !field.readOnly);
  const create = Type.Object(
    Object.fromEntries(
      writable.map(([key, field]) => [key, field.required ? field.schema : Type.Optional(nullable(field))]),
    ),
    { additionalProperties: false },
  );
  const patch = Type.Partial(create, { additionalProperties: false, minProperties: 1 });
  const sorts = sortableKeys(definition).flatMap((k) => [k, `-${k}`]);
  const filters: Record<string, TSchema> = {};
  for (const [key, field] of entries) {
    if (field.filter === "in") {
      filters[key] = Type.Optional(
        Type.String({ maxLength: 2000, description: "one value, or several separated by commas" }),
      );
    } else if (field.filter === "range") {
      filters[`${key}.gte`] = Type.Optional(field.schema);
      filters[`${key}.lte`] = Type.Optional(field.schema);
    }
  }
  const listQuery = Type.Object(
    {
      limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
      cursor: Type.Optional(Type.String({ maxLength: 2000, description: "nextCursor of the previous page" })),
      sort: Type.Optional(
        Type.Union(
          sorts.map((s) => Type.Literal(s)),
          { description: "field; - for descending" },
        ),
      ),
      ...(entries.some(([, field]) => field.search)
        ? { q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: "quick search" })) }
        : {}),
      ...filters,
    },
    { additionalProperties: false },
  );
  const page = Type.Object({
    items: Type.Array(Type.Ref(item.$id as string)),
    nextCursor: Type.Union([Type.String(), Type.Null()]),
  });
  const params = Type.Object({ id: SYSTEM_FIELDS.id });
  return { item, create, patch, listQuery, page, params };
}

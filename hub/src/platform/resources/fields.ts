import { type TSchema, Type } from "@sinclair/typebox";

/** A label in the hub's two languages. */
export interface Label {
  de: string;
  en: string;
}

/** What a field is, for SQL casts, conversions and the web app's inputs. */
export type FieldKind =
  | "text"
  | "longtext"
  | "email"
  | "enum"
  | "ref"
  | "integer"
  | "cents"
  | "decimal"
  | "boolean"
  | "date"
  | "timestamp";

/** How a field may be filtered in a list: one value or a comma list (`in`), a range (`.gte`/`.lte`). */
export type FilterKind = "in" | "range";

/** One field of an entity: its API schema, its column and how lists and forms use it. */
export interface Field {
  kind: FieldKind;
  /** JSON schema of a value (without null). */
  schema: TSchema;
  label: Label;
  /** snake_case column; defaults to the field's key in snake_case. */
  column?: string;
  /** Must be given on create. */
  required?: boolean;
  /** May be null (cleared with null in a PATCH). Fields neither required nor nullable have a column default. */
  nullable?: boolean;
  /** Set by the database or a service, never by a create or PATCH body (e.g. a status, a consent time). */
  readOnly?: boolean;
  /** Shown as a list column by default. */
  list?: boolean;
  filter?: FilterKind;
  /** Sortable (the column must be NOT NULL and indexed together with id). */
  sort?: boolean;
  /** Part of the quick search `q` (substring, case-insensitive; a trigram index in the migration). */
  search?: boolean;
  /** Entity name a `ref` field points to. */
  ref?: string;
  /** Values of an `enum` field with their labels. */
  options?: Array<{ value: string; label: Label }>;
  help?: Label;
}

type Extra = Omit<Field, "kind" | "schema" | "label" | "ref" | "options">;

/** Field constructors: `f.text({ de: "Ort", en: "City" }, 100, { list: true })`. */
export const f = {
  text: (label: Label, maxLength: number, extra: Extra = {}): Field => ({
    kind: "text",
    schema: Type.String({ maxLength, minLength: extra.required ? 1 : 0 }),
    label,
    ...extra,
  }),
  longtext: (label: Label, maxLength: number, extra: Extra = {}): Field => ({
    kind: "longtext",
    schema: Type.String({ maxLength }),
    label,
    ...extra,
  }),
  email: (label: Label, extra: Extra = {}): Field => ({
    kind: "email",
    schema: Type.String({ maxLength: 254, pattern: "^[^@\\s]+@[^@\\s]+$" }),
    label,
    ...extra,
  }),
  pattern: (label: Label, pattern: string, description: string, extra: Extra = {}): Field => ({
    kind: "text",
    schema: Type.String({ pattern, description }),
    label,
    ...extra,
  }),
  enum: (label: Label, options: Array<{ value: string; label: Label }>, extra: Extra = {}): Field => ({
    kind: "enum",
    schema: Type.Union(options.map((o) => Type.Literal(o.value))),
    label,
    options,
    ...extra,
  }),
  ref: (label: Label, entity: string, extra: Extra = {}): Field => ({
    kind: "ref",
    schema: Type.String({ format: "uuid" }),
    label,
    ref: entity,
    ...extra,
  }),
  integer: (label: Label, range: { minimum?: number; maximum?: number }, extra: Extra = {}): Field => ({
    kind: "integer",
    schema: Type.Integer({ minimum: -2_147_483_648, maximum: 2_147_483_647, ...range }),
    label,
    ...extra,
  }),
  /** Money in integer cents (bigint column). */
  cents: (label: Label, extra: Extra = {}): Field => ({
    kind: "cents",
    schema: Type.Integer({ minimum: -1e15, maximum: 1e15, description: "integer cents" }),
    label,
    ...extra,
  }),
  /** A numeric column with `scale` decimals (kWp, hours), as a JSON number. */
  decimal: (label: Label, range: { minimum?: number; maximum?: number }, extra: Extra = {}): Field => ({
    kind: "decimal",
    schema: Type.Number(range),
    label,
    ...extra,
  }),
  boolean: (label: Label, extra: Extra = {}): Field => ({ kind: "boolean", schema: Type.Boolean(), label, ...extra }),
  date: (label: Label, extra: Extra = {}): Field => ({
    kind: "date",
    schema: Type.String({ format: "date" }),
    label,
    ...extra,
  }),
  timestamp: (label: Label, extra: Extra = {}): Field => ({
    kind: "timestamp",
    schema: Type.String({ format: "date-time" }),
    label,
    ...extra,
  }),
};

/** The SQL type a field's parameters are cast to (filters, cursors). */
export const SQL_TYPE: Record<FieldKind, string> = {
  text: "text",
  longtext: "text",
  email: "text",
  enum: "text",
  ref: "uuid",
  integer: "integer",
  cents: "bigint",
  decimal: "numeric",
  boolean: "boolean",
  date: "date",
  timestamp: "timestamptz",
};

/** A column's value as the API shows it (pg gives bigint and numeric as strings, timestamps as Date). */
export function fromColumn(kind: FieldKind, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case "cents":
    case "decimal":
      return Number(value);
    case "timestamp":
      return value instanceof Date ? value.toISOString() : value;
    default:
      return value;
  }
}

/** `postalCode` → `postal_code`. */
export const snakeCase = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

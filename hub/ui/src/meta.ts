/** The entity declarations the hub serves (`/api/v1/meta/entities`), from which lists and forms are drawn. */
export interface Localized {
  de: string;
  en: string;
}

export interface FieldMeta {
  key: string;
  kind: string;
  label: Localized;
  help?: Localized;
  required: boolean;
  nullable: boolean;
  readOnly: boolean;
  list: boolean;
  filter?: "in" | "range";
  sort: boolean;
  search: boolean;
  ref?: string;
  options?: { value: string; label: Localized }[];
  schema: JsonSchema;
}

export interface JsonSchema {
  type?: string | string[];
  maxLength?: number;
  minLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  anyOf?: JsonSchema[];
}

export interface EntityMeta {
  name: string;
  label: Localized;
  plural: Localized;
  titleField: string;
  path: string;
  canWrite: boolean;
  deletable: boolean;
  defaultSort: string;
  sortable: string[];
  fields: FieldMeta[];
  workflow?: {
    field: string;
    initial: string;
    transitions: { from: string[]; to: string; permission: string; allowed: boolean; label?: Localized }[];
  };
}

/** A record as the API sends it. */
export type Row = Record<string, unknown> & { id: string; version: number };

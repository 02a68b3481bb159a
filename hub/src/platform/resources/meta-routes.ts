import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsync } from "fastify";
import { rolesAllow } from "../../auth/permissions.js";
import type { Role } from "../principal.js";
import { type EntityDefinition, sortableKeys } from "./entity.js";

/** An entity's declaration as the web app reads it, with what the caller may do. */
export function describeEntity(definition: EntityDefinition, roles: readonly Role[]) {
  const { workflow } = definition;
  return {
    name: definition.name,
    label: definition.label,
    plural: definition.plural,
    titleField: definition.titleField,
    path: `/api/v1/${definition.name}`,
    permissions: definition.permissions,
    canWrite: rolesAllow(roles, definition.permissions.write),
    deletable: definition.deletable,
    defaultSort: definition.defaultSort,
    sortable: sortableKeys(definition),
    fields: Object.entries(definition.fields).map(([key, field]) => ({
      key,
      kind: field.kind,
      label: field.label,
      help: field.help,
      required: field.required === true,
      nullable: field.nullable === true,
      readOnly: field.readOnly === true,
      list: field.list === true,
      filter: field.filter,
      sort: field.sort === true,
      search: field.search === true,
      ref: field.ref,
      options: field.options,
      schema: field.schema,
    })),
    workflow: workflow && {
      field: workflow.field,
      initial: workflow.initial,
      transitions: workflow.transitions.map((t) => ({ ...t, allowed: rolesAllow(roles, t.permission) })),
    },
  };
}

/**
 * `GET /meta/entities`: the declaration of every entity the caller may read (fields with kinds,
 * labels in German and English, list columns, filters, sort keys, references, workflow), from
 * which the web app renders lists and forms, so a new entity needs no new UI code.
 */
export const metaRoutes: FastifyPluginAsync<{ definitions: EntityDefinition[] }> = async (app, { definitions }) => {
  app.get(
    "/meta/entities",
    {
      config: { permission: "account:self" },
      schema: {
        summary: "Declarations of the ERP entities the caller may read",
        tags: ["meta"],
        response: { 200: Type.Object({ entities: Type.Array(Type.Unknown()) }) },
      },
    },
    async (req) => {
      const roles = req.principal?.roles ?? [];
      return {
        entities: definitions.filter((d) => rolesAllow(roles, d.permissions.read)).map((d) => describeEntity(d, roles)),
      };
    },
  );
};

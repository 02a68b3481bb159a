import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type pg from "pg";
import { registerApprovalExecutor } from "../approvals/service.js";
import { fieldError, hubError } from "../errors.js";
import { txOf } from "../platform/idempotency.js";
import type { Principal } from "../platform/principal.js";
import {
  COMMAND_STATES,
  COMMAND_TYPES,
  createCommand,
  edgeConfiguration,
  getCommand,
  listCommands,
  POWER_LIMIT_OPERATION,
  queueApproved,
} from "./repository.js";

const EDGE_ID = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";
const DEVICE_ID = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";
const at = Type.String({ format: "date-time" });
const Command = Type.Object({
  id: Type.String({ format: "uuid" }),
  edgeId: Type.String(),
  type: Type.String({ description: COMMAND_TYPES.join(", ") }),
  payload: Type.Record(Type.String(), Type.Unknown()),
  state: Type.String({ description: COMMAND_STATES.join(", ") }),
  notAfter: at,
  approvalId: Type.Union([Type.String({ format: "uuid" }), Type.Null()]),
  requestedBy: Type.String(),
  requestedByName: Type.Union([Type.String(), Type.Null()]),
  detail: Type.Union([Type.String(), Type.Null()]),
  result: Type.Unknown(),
  createdAt: at,
  updatedAt: at,
  endedAt: Type.Union([at, Type.Null()]),
  history: Type.Array(
    Type.Object({ state: Type.String(), at: Type.String(), detail: Type.Union([Type.String(), Type.Null()]) }),
  ),
});
const Devices = Type.Array(Type.String({ pattern: DEVICE_ID }), {
  maxItems: 100,
  uniqueItems: true,
  description: "device ids on the edge; none: every inverter of the site",
});
const CreateBody = Type.Object(
  {
    type: Type.Union(COMMAND_TYPES.map((t) => Type.Literal(t))),
    devices: Type.Optional(Devices),
    limitPct: Type.Optional(
      Type.Number({ minimum: 0, maximum: 100, description: "power_limit: percent of the maximum active power" }),
    ),
    revertTimeoutS: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 86_400,
        description:
          "power_limit: the inverter falls back to its default after this many seconds unless the limit is set again (the inverter's profile may allow less)",
      }),
    ),
    configuration: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 262_144,
        description: "apply_configuration: the site configuration as YAML (the edge's file format)",
      }),
    ),
    baseVersion: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          "apply_configuration: the edge's configuration version the change was made to (GET …/configuration); the edge refuses it when it runs another",
      }),
    ),
    ttlSeconds: Type.Integer({
      minimum: 10,
      maximum: 30 * 86_400,
      default: 3600,
      description: "how long the edge may still execute it (from now; an edge that gets it later reports it expired)",
    }),
  },
  { additionalProperties: false },
);
const EdgeParams = Type.Object({ edgeId: Type.String({ pattern: EDGE_ID }) });
const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.Union(COMMAND_STATES.map((s) => Type.Literal(s)))),
    before: Type.Optional(Type.String({ format: "date-time", description: "createdAt of the last command seen" })),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  },
  { additionalProperties: false },
);
const tags = ["commands"];

/**
 * Commands to edges over HTTP: request one (`commands:write`, Idempotency-Key; a power limit or
 * its release waits for a second person's approval), list an edge's and show one with its history
 * (`commands:read`). Approving the request (`POST /approvals/{id}/approve`) queues the command.
 */
export const commandRoutes: FastifyPluginAsyncTypebox<{ pool: pg.Pool }> = async (app, { pool }) => {
  registerApprovalExecutor(POWER_LIMIT_OPERATION, (tx, work) => queueApproved(tx, work.subject.id));
  app.post(
    "/edges/:edgeId/commands",
    {
      config: { permission: "commands:write", idempotent: true, auditTags: [...tags, "request"] },
      schema: {
        summary: "Ask an edge to do something: a power limit, its release, a new site configuration, its diagnostics",
        description:
          "A power limit and its release wait for a second person's approval (operation edge.power_limit) as pending_approval; the rest is queued at once. The edge gets the command when it is connected, until ttlSeconds from now.",
        tags,
        params: EdgeParams,
        body: CreateBody,
        response: { 201: Command },
      },
    },
    async (req, reply) => {
      const { type, devices = [], limitPct, revertTimeoutS, ttlSeconds, configuration, baseVersion } = req.body;
      const configurable = type === "apply_configuration";
      if (configurable !== (configuration !== undefined) || configurable !== (baseVersion !== undefined)) {
        const path = configuration === undefined ? "/configuration" : "/baseVersion";
        throw fieldError("HUB_ERR_VALIDATION", [
          { path, message: configurable ? "a configuration needs configuration and baseVersion" : `not for ${type}` },
        ]);
      }
      if (type === "power_limit" && (limitPct === undefined || revertTimeoutS === undefined)) {
        const path = limitPct === undefined ? "/limitPct" : "/revertTimeoutS";
        throw fieldError("HUB_ERR_VALIDATION", [{ path, message: "a power limit needs limitPct and revertTimeoutS" }]);
      }
      if (type !== "power_limit" && (limitPct !== undefined || revertTimeoutS !== undefined)) {
        throw fieldError("HUB_ERR_VALIDATION", [
          { path: limitPct !== undefined ? "/limitPct" : "/revertTimeoutS", message: `not for ${type}` },
        ]);
      }
      if ((type === "diagnostics" || configurable) && devices.length > 0) {
        throw fieldError("HUB_ERR_VALIDATION", [{ path: "/devices", message: `not for ${type}` }]);
      }
      const payload =
        type === "power_limit"
          ? { devices, limitPct, revertTimeoutS }
          : type === "power_limit_release"
            ? { devices }
            : configurable
              ? { yaml: configuration, baseVersion }
              : {};
      const command = await createCommand(txOf(req), {
        edgeId: req.params.edgeId,
        type,
        payload,
        ttlMs: ttlSeconds * 1000,
        principal: req.principal as Principal,
      });
      reply.header("location", `/api/v1/commands/${command.id}`);
      return reply.code(201).send(command);
    },
  );
  app.get(
    "/edges/:edgeId/commands",
    {
      config: { permission: "commands:read" },
      schema: {
        summary: "An edge's commands, newest first",
        tags,
        params: EdgeParams,
        querystring: ListQuery,
        response: { 200: Type.Object({ items: Type.Array(Command) }) },
      },
    },
    async (req) => ({ items: await listCommands(pool, req.params.edgeId, req.query) }),
  );
  app.get(
    "/edges/:edgeId/configuration",
    {
      config: { permission: "commands:read" },
      schema: {
        summary: "What the edge runs: its configuration version and, when the hub pushed it, the YAML",
        tags,
        params: EdgeParams,
        response: {
          200: Type.Object({
            version: Type.Integer(),
            yaml: Type.Union([Type.String(), Type.Null()]),
            commandId: Type.Union([Type.String({ format: "uuid" }), Type.Null()]),
            updatedAt: at,
          }),
        },
      },
    },
    async (req) => {
      const found = await edgeConfiguration(pool, req.params.edgeId);
      if (!found) throw hubError("HUB_ERR_NOT_FOUND", `edge ${req.params.edgeId} has not told its configuration yet`);
      return found;
    },
  );
  app.get(
    "/commands/:id",
    {
      config: { permission: "commands:read" },
      schema: {
        summary: "One command with every state it was in",
        tags,
        params: Type.Object({ id: Type.String({ format: "uuid" }) }),
        response: { 200: Command },
      },
    },
    async (req) => getCommand(pool, req.params.id),
  );
};

import { type Static, Type } from "@sinclair/typebox";

const Json = Type.Unknown();

/** One audit record as the API and the export return it. */
export const AuditRecord = Type.Object({
  id: Type.Integer(),
  chain: Type.Integer({ description: "the hash chain (0-15) the record belongs to" }),
  at: Type.String({ description: "UTC, microseconds: 2026-01-02T03:04:05.123456Z" }),
  schema: Type.String(),
  table: Type.String(),
  entityId: Type.Union([Type.String(), Type.Null()]),
  op: Type.String({ description: "INSERT, UPDATE, DELETE, or an action: REDRIVE, DISCARD, READ, EXPORT, ..." }),
  actorId: Type.String(),
  actorName: Type.Union([Type.String(), Type.Null()]),
  requestId: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  tags: Type.Array(Type.String()),
  before: Json,
  after: Json,
  prevHash: Type.String(),
  hash: Type.String(),
});
export type AuditRecord = Static<typeof AuditRecord>;

const range = {
  from: Type.Optional(Type.String({ format: "date-time", description: "inclusive" })),
  to: Type.Optional(Type.String({ format: "date-time", description: "exclusive" })),
};

/** Query of GET /audit. */
export const AuditQuery = Type.Object(
  {
    ...range,
    entity: Type.Optional(
      Type.String({ pattern: "^[a-z_][a-z0-9_]*\\.[a-z_][a-z0-9_]*$", description: "table, e.g. erp.customers" }),
    ),
    entityId: Type.Optional(Type.String({ maxLength: 200 })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    cursor: Type.Optional(Type.String({ pattern: "^[0-9]{1,19}$", description: "nextCursor of the previous page" })),
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuery>;

/** Response of GET /audit, in chain order. */
export const AuditPage = Type.Object({
  items: Type.Array(AuditRecord),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

/** Query of GET /audit/export. */
export const AuditExportQuery = Type.Object(
  { ...range, format: Type.Union([Type.Literal("jsonl"), Type.Literal("csv")], { default: "jsonl" }) },
  { additionalProperties: false },
);
export type AuditExportQuery = Static<typeof AuditExportQuery>;

/** Query of GET /audit/verify. */
export const AuditVerifyQuery = Type.Object(range, { additionalProperties: false });

/** Result of verifying the hash chain. */
export const AuditVerifyResult = Type.Object({
  ok: Type.Boolean(),
  checked: Type.Integer({ description: "records checked" }),
  lastId: Type.Union([Type.Integer(), Type.Null()]),
  broken: Type.Optional(
    Type.Object({
      id: Type.Integer({ description: "the first record whose link does not hold" }),
      reason: Type.String(),
    }),
  ),
});
export type AuditVerifyResult = Static<typeof AuditVerifyResult>;

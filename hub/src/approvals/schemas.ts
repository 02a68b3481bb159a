import { type Static, type TSchema, Type } from "@sinclair/typebox";

const Time = Type.String({ format: "date-time" });
const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** A request's status (a pending one past its expiry reads as expired). */
export const ApprovalStatus = Type.Union(
  [
    Type.Literal("pending"),
    Type.Literal("approved"),
    Type.Literal("rejected"),
    Type.Literal("expired"),
    Type.Literal("executed"),
  ],
  { description: "pending → approved → executed, or rejected, or expired (after expiresAt)" },
);

/** An approval request as the API shows it. */
export const Approval = Type.Object({
  id: Type.String({ format: "uuid" }),
  operation: Type.String({ description: "e.g. invoice.finalise, invoice.cancel, stock.write_off" }),
  subject: Type.Object({
    entity: Type.String({ description: "what the operation acts on, e.g. invoices" }),
    id: Type.String(),
  }),
  payload: Type.Unknown({ description: "what will be carried out once approved" }),
  facts: Type.Unknown({ description: "what to decide on, e.g. the invoice's gross" }),
  status: ApprovalStatus,
  approverRoles: Type.Array(Type.String(), { description: "who may decide: one of these roles, not the requester" }),
  requestedBy: Type.String({ description: "the person who asked (user id)" }),
  requestedByName: Nullable(Type.String()),
  requestedAt: Time,
  expiresAt: Time,
  decidedBy: Nullable(Type.String()),
  decidedByName: Nullable(Type.String()),
  decidedAt: Nullable(Time),
  comment: Nullable(Type.String()),
  executedAt: Nullable(Time),
  result: Type.Unknown({ description: "what carrying it out returned (e.g. the credit note made); null before" }),
});

/** The answer (202) of an operation held until a second person approves it. */
export const ApprovalHeld = Type.Object(
  { approval: Approval },
  { description: "held for a second person's approval: nothing was done yet (Location: the request)" },
);

/** Query of GET /approvals. */
export const ApprovalQuery = Type.Object(
  {
    status: Type.Optional(ApprovalStatus),
    operation: Type.Optional(Type.String({ maxLength: 100 })),
    decidable: Type.Optional(
      Type.Boolean({ description: "only pending requests the caller may decide (not their own; one of the roles)" }),
    ),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
    cursor: Type.Optional(Type.String({ maxLength: 500, description: "nextCursor of the previous page" })),
  },
  { additionalProperties: false },
);
export type ApprovalQuery = Static<typeof ApprovalQuery>;

/** Response of GET /approvals, newest first. */
export const ApprovalPage = Type.Object({
  items: Type.Array(Approval),
  nextCursor: Nullable(Type.String()),
});

/** Path parameter. */
export const ApprovalParams = Type.Object({ id: Type.String({ format: "uuid" }) });

/** Body of approve (a comment is optional) and reject (a comment says why). */
export const ApproveBody = Type.Object(
  { comment: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })) },
  { additionalProperties: false },
);
export const RejectBody = Type.Object(
  { comment: Type.String({ minLength: 1, maxLength: 2000, description: "why: the requester reads it" }) },
  { additionalProperties: false },
);

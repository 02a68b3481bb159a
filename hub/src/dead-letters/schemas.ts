import { type Static, Type } from "@sinclair/typebox";

const Time = Type.String({ format: "date-time" });
const Status = Type.Union([Type.Literal("pending"), Type.Literal("redriven"), Type.Literal("discarded")]);

/** A dead letter without its payload (lists). */
export const DeadLetterSummary = Type.Object({
  id: Type.Integer(),
  source: Type.String({ description: "where it came from and which handler redrives it, e.g. sync.upload" }),
  errorCode: Type.String(),
  errorMessage: Type.String(),
  attempts: Type.Integer({ description: "failures so far: the first, repeats of the same payload, failed redrives" }),
  firstFailedAt: Time,
  lastFailedAt: Time,
  status: Status,
  resolvedAt: Type.Union([Time, Type.Null()]),
  resolvedBy: Type.Union([Type.String(), Type.Null()]),
  version: Type.Integer({ description: "also sent as ETag; redrive and discard need it in If-Match" }),
});
export type DeadLetterSummary = Static<typeof DeadLetterSummary>;

/** A dead letter with its payload (inspect). */
export const DeadLetter = Type.Intersect([
  DeadLetterSummary,
  Type.Object({
    payload: Type.Unknown({ description: "JSON payload (context such as the edge id for binary payloads)" }),
    payloadBase64: Type.Union([Type.String(), Type.Null()], { description: "binary payload, base64" }),
  }),
]);
export type DeadLetter = Static<typeof DeadLetter>;

/** Query of GET /dead-letters. */
export const DeadLetterQuery = Type.Object(
  {
    status: Type.Optional(Status),
    source: Type.Optional(Type.String({ maxLength: 100 })),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    cursor: Type.Optional(Type.String({ pattern: "^[0-9]{1,19}$", description: "nextCursor of the previous page" })),
  },
  { additionalProperties: false },
);
export type DeadLetterQuery = Static<typeof DeadLetterQuery>;

/** Response of GET /dead-letters, newest first. */
export const DeadLetterPage = Type.Object({
  items: Type.Array(DeadLetterSummary),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

/** Path parameter. */
export const DeadLetterParams = Type.Object({ id: Type.Integer({ minimum: 1 }) });

/** Response of a redrive: the dead letter afterwards and whether its handler succeeded. */
export const RedriveResult = Type.Object({
  deadLetter: DeadLetterSummary,
  ok: Type.Boolean(),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
});
export type RedriveResult = Static<typeof RedriveResult>;

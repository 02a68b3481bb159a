import { type Static, Type } from "@sinclair/typebox";

const Id = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$" });

/** Query of GET /api/v1/readings. */
export const ReadingsQuery = Type.Object(
  {
    edge: Type.Optional(Id),
    device: Type.Optional(Id),
    point: Type.Optional(Type.String({ pattern: "^[a-z][a-z0-9_]*$" })),
    from: Type.Optional(Type.String({ format: "date-time", description: "inclusive, ISO 8601" })),
    to: Type.Optional(Type.String({ format: "date-time", description: "exclusive, ISO 8601" })),
    limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 }),
    cursor: Type.Optional(Type.String({ description: "nextCursor of the previous page" })),
  },
  { additionalProperties: false },
);
export type ReadingsQuery = Static<typeof ReadingsQuery>;

/** One reading as the API returns it. */
export const ReadingItem = Type.Object({
  edgeId: Type.String(),
  seq: Type.Integer(),
  deviceId: Type.String(),
  point: Type.String(),
  ts: Type.String({ format: "date-time" }),
  value: Type.Union([Type.Number(), Type.Null()]),
  quality: Type.Union(["good", "not-implemented", "stale", "comm-error", "out-of-range"].map((q) => Type.Literal(q))),
  clockSynced: Type.Boolean(),
  receivedAt: Type.String({ format: "date-time" }),
});
export type ReadingItem = Static<typeof ReadingItem>;

/** Response of GET /api/v1/readings: ordered by (ts, edgeId, seq). */
export const ReadingsPage = Type.Object({
  items: Type.Array(ReadingItem),
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});

/** One edge as GET /api/v1/edges returns it. */
export const EdgeItem = Type.Object({
  edgeId: Type.String(),
  committedSeq: Type.Integer(),
  agentVersion: Type.Union([Type.String(), Type.Null()]),
  clockOffsetMs: Type.Union([Type.Integer(), Type.Null()]),
  firstSeenAt: Type.String({ format: "date-time" }),
  lastSeenAt: Type.String({ format: "date-time" }),
});
export type EdgeItem = Static<typeof EdgeItem>;

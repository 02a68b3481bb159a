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
  clockOffsetMs: Type.Union([Type.Integer(), Type.Null()], {
    description: "hub time minus edge time at the last hello (ms)",
  }),
  clockSkewed: Type.Boolean({ description: "|clockOffsetMs| beyond the hub's threshold at the last hello" }),
  clockSynced: Type.Union([Type.Boolean(), Type.Null()], { description: "the edge's NTP state at the last hello" }),
  firstSeenAt: Type.String({ format: "date-time" }),
  lastSeenAt: Type.String({ format: "date-time" }),
});
export type EdgeItem = Static<typeof EdgeItem>;

const SeqRangeItem = Type.Object({ first: Type.Integer(), last: Type.Integer() });

/** GET /api/v1/edges/:edgeId/sync: what was delivered, what the edge gave up, what is pending. */
export const EdgeSync = Type.Intersect([
  EdgeItem,
  Type.Object({
    committed: Type.Array(SeqRangeItem, { description: "seq ranges stored, ascending" }),
    gaps: Type.Array(
      Type.Object({
        firstSeq: Type.Integer(),
        lastSeq: Type.Integer(),
        count: Type.Integer({ description: "readings given up; 0 when the edge could not tell (lost buffer)" }),
        reason: Type.String({ description: "buffer-full, ttl, disk-low, rejected or buffer-corrupt" }),
        fromTs: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
        toTs: Type.Union([Type.String({ format: "date-time" }), Type.Null()]),
        reportedAt: Type.String({ format: "date-time" }),
      }),
      { description: "gap records as the edge reported them" },
    ),
    missingInGaps: Type.Array(SeqRangeItem, { description: "seqs inside reported gaps that are not stored" }),
    pending: Type.Array(SeqRangeItem, {
      description: "seqs below the highest known one that are neither stored nor reported as a gap",
    }),
  }),
]);
export type EdgeSync = Static<typeof EdgeSync>;

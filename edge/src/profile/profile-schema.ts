import { type Static, Type } from "@sinclair/typebox";
import { NUMERIC_TYPES } from "../acquisition/decode.js";

const Address = Type.Integer({ minimum: 0, maximum: 65535 });
const ByteOrder = Type.Union([Type.Literal("ABCD"), Type.Literal("CDAB"), Type.Literal("BADC"), Type.Literal("DCBA")]);
const Tier = Type.Union([Type.Literal("fast"), Type.Literal("slow")]);
const NumericType = Type.Union(Object.keys(NUMERIC_TYPES).map((t) => Type.Literal(t as keyof typeof NUMERIC_TYPES)));

/**
 * How a point may be written (absent: the point is read-only). Bounds and refused values are in the
 * point's unit, i.e. after scaling; see edge/src/acquisition/writes.ts.
 */
export const PointWriteSchema = Type.Object(
  {
    /**
     * "single": function 06 (write single register), "multiple": function 16 (write multiple registers).
     * Default: "single" for 1-register types, "multiple" otherwise.
     */
    function: Type.Optional(Type.Union([Type.Literal("single"), Type.Literal("multiple")])),
    /** Smallest value accepted, in the point's unit. */
    min: Type.Optional(Type.Number()),
    /** Largest value accepted, in the point's unit. */
    max: Type.Optional(Type.Number()),
    /** Values refused as unsafe for this device (e.g. a 0 % power limit that stops the inverter). */
    refuse: Type.Optional(Type.Array(Type.Number())),
    /** Read the point back after writing and compare (default true). */
    verify: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
/** Write metadata of a profile point. */
export type PointWrite = Static<typeof PointWriteSchema>;

/** One point of a profile: where its value lives and how to decode it. */
export const ProfilePointSchema = Type.Object(
  {
    /** Canonical point id from the class's nature. */
    id: Type.String({ pattern: "^[a-z][a-z0-9_]*$" }),
    address: Address,
    type: NumericType,
    /** Holding registers (function 03, default) or input registers (function 04). */
    function: Type.Optional(Type.Union([Type.Literal("holding"), Type.Literal("input")])),
    /** Byte/word order; the profile's default when absent. */
    order: Type.Optional(ByteOrder),
    /** Polling tier: "slow" points (energy counters, nameplate) are read every `slowEvery`-th cycle. */
    tier: Type.Optional(Tier),
    /** Fixed factor and/or a register holding a SunSpec scale factor (value × 10^sf × factor). */
    scale: Type.Optional(
      Type.Object(
        { factor: Type.Optional(Type.Number()), register: Type.Optional(Address) },
        { additionalProperties: false },
      ),
    ),
    /** Present when the point may be written (holding registers only). */
    write: Type.Optional(PointWriteSchema),
  },
  { additionalProperties: false },
);
export type ProfilePoint = Static<typeof ProfilePointSchema>;

/** Schema of `firmware-config/profiles/<class>/<id>.yaml`. */
export const ProfileSchema = Type.Object(
  {
    id: Type.String({ pattern: "^[a-z0-9]+(-[a-z0-9]+)*$" }),
    class: Type.String({ minLength: 1 }),
    brand: Type.String({ minLength: 1 }),
    product: Type.String({ minLength: 1 }),
    protocol: Type.Union([Type.Literal("modbus-tcp"), Type.Literal("modbus-rtu")]),
    defaults: Type.Object(
      {
        port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
        unitId: Type.Integer({ minimum: 0, maximum: 255 }),
        /** Some devices answer fewer than the 125 registers Modbus allows per read. */
        maxRegistersPerRead: Type.Integer({ minimum: 1, maximum: 125, default: 125 }),
      },
      { additionalProperties: false },
    ),
    /** Default byte/word order of multi-register values. */
    order: Type.Optional(ByteOrder),
    /** "sunspec": SunSpec's not-implemented values give no value; "none": every value counts. */
    sentinels: Type.Union([Type.Literal("sunspec"), Type.Literal("none")], { default: "sunspec" }),
    /**
     * SunSpec devices: discover the model chain at these bases and read every mapped point of the
     * first logical device of the profile's class (points listed below are read in addition).
     */
    sunspec: Type.Optional(
      Type.Object(
        {
          bases: Type.Array(Address, { minItems: 1, default: [40000, 0, 50000] }),
          /**
           * Discovered points that may be written, by canonical point id (e.g. `power_limit_pct`
           * of model 123), with their bounds; the address comes from discovery.
           */
          write: Type.Optional(Type.Record(Type.String({ pattern: "^[a-z][a-z0-9_]*$" }), PointWriteSchema)),
        },
        { additionalProperties: false },
      ),
    ),
    points: Type.Array(ProfilePointSchema, { default: [] }),
  },
  { additionalProperties: false },
);
/** A validated device profile, defaults applied. */
export type Profile = Static<typeof ProfileSchema>;

/** Schema of `firmware-config/natures/<class>.yaml`. */
export const NatureSchema = Type.Object(
  {
    class: Type.String({ minLength: 1 }),
    points: Type.Record(
      Type.String({ pattern: "^[a-z][a-z0-9_]*$" }),
      Type.Object(
        {
          unit: Type.String(),
          description: Type.String(),
          /** Default polling tier of the point ("fast" when absent). */
          tier: Type.Optional(Tier),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
/** A device class: its canonical points and their units. */
export type Nature = Static<typeof NatureSchema>;

/** The registers a point needs in one read: its value and, when it has one, its scale factor. */
export function pointSpan(point: ProfilePoint): { address: number; count: number } {
  const end = point.address + NUMERIC_TYPES[point.type];
  const sf = point.scale?.register;
  if (sf === undefined) return { address: point.address, count: end - point.address };
  const start = Math.min(point.address, sf);
  return { address: start, count: Math.max(end, sf + 1) - start };
}

import { type Static, Type } from "@sinclair/typebox";

/** Register data types a profile point can have (SunSpec names where they exist). */
export const PointType = Type.Union([
  Type.Literal("int16"),
  Type.Literal("uint16"),
  Type.Literal("int32"),
  Type.Literal("uint32"),
  Type.Literal("acc32"),
  Type.Literal("enum16"),
]);
export type PointType = Static<typeof PointType>;

/** Number of 16-bit registers each type occupies. */
export const POINT_TYPE_REGISTERS: Readonly<Record<PointType, number>> = {
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  acc32: 2,
  enum16: 1,
};

const Address = Type.Integer({ minimum: 0, maximum: 65535 });

/** Schema of `firmware-config/profiles/<class>/<id>.yaml`. */
export const ProfileSchema = Type.Object(
  {
    id: Type.String({ pattern: "^[a-z0-9]+(-[a-z0-9]+)*$" }),
    class: Type.String({ minLength: 1 }),
    brand: Type.String({ minLength: 1 }),
    product: Type.String({ minLength: 1 }),
    protocol: Type.Literal("modbus-tcp"),
    defaults: Type.Object(
      {
        port: Type.Integer({ minimum: 1, maximum: 65535 }),
        unitId: Type.Integer({ minimum: 0, maximum: 255 }),
      },
      { additionalProperties: false },
    ),
    blocks: Type.Array(
      Type.Object(
        { address: Address, count: Type.Integer({ minimum: 1, maximum: 125 }) },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
    points: Type.Array(
      Type.Object(
        {
          id: Type.String({ pattern: "^[a-z][a-z0-9_]*$" }),
          address: Address,
          type: PointType,
          /** Fixed scale (multiplied) and/or a register holding a SunSpec scale factor (10^sf). */
          scale: Type.Optional(
            Type.Object(
              { factor: Type.Optional(Type.Number()), register: Type.Optional(Address) },
              { additionalProperties: false },
            ),
          ),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
);
/** A validated device profile. */
export type Profile = Static<typeof ProfileSchema>;
/** One point of a profile. */
export type ProfilePoint = Profile["points"][number];

/** Schema of `firmware-config/natures/<class>.yaml`. */
export const NatureSchema = Type.Object(
  {
    class: Type.String({ minLength: 1 }),
    points: Type.Record(
      Type.String({ pattern: "^[a-z][a-z0-9_]*$" }),
      Type.Object({ unit: Type.String(), description: Type.String() }, { additionalProperties: false }),
    ),
  },
  { additionalProperties: false },
);
/** A device class: its canonical points and their units. */
export type Nature = Static<typeof NatureSchema>;

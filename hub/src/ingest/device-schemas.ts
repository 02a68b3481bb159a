import { type Static, Type } from "@sinclair/typebox";

const Id = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$" });
const Text = Type.Union([Type.String(), Type.Null()]);
const State = Type.Union([Type.Literal("ok"), Type.Literal("fault"), Type.Literal("unknown")], {
  description: "the device's state on the edge at its last report",
});

/** Params of GET /api/v1/edges/:edgeId/devices. */
export const EdgeParams = Type.Object({ edgeId: Id });

/** One device of an edge's inventory with its ERP link. */
export const EdgeDevice = Type.Object({
  deviceId: Type.String({ description: "device id as configured on the edge" }),
  profile: Type.String({ description: "the edge's profile, e.g. inverter/sunspec-inverter-tcp" }),
  deviceClass: Type.String({ description: "inverter, meter, battery, ..." }),
  manufacturer: Text,
  model: Text,
  serialNumber: Text,
  firmware: Text,
  state: State,
  stateSince: Type.Union([Type.String({ format: "date-time" }), Type.Null()], {
    description: "when the state began (edge clock)",
  }),
  lastErrorCode: Type.Union([Type.String(), Type.Null()], { description: "EDGE_ERR_* code while in fault" }),
  lastErrorMessage: Type.Union([Type.String(), Type.Null()], { description: "the device's own words while in fault" }),
  points: Type.Array(Type.String(), { description: "canonical point ids the device reports" }),
  reportedAt: Type.String({ format: "date-time" }),
  link: Type.Union(
    [
      Type.Object({ erpDeviceId: Type.String({ format: "uuid" }), siteId: Type.String({ format: "uuid" }) }),
      Type.Null(),
    ],
    { description: "the ERP device linked to it and its site; null when none" },
  ),
});
export type EdgeDevice = Static<typeof EdgeDevice>;

/** Query of GET /api/v1/device-inventory/unresolved. */
export const UnresolvedQuery = Type.Object(
  {
    edge: Type.Optional(Id),
    limit: Type.Integer({ minimum: 1, maximum: 5000, default: 1000 }),
  },
  { additionalProperties: false },
);

/** A reported device no ERP device accounts for. */
export const UnresolvedDevice = Type.Object({
  edgeId: Type.String(),
  deviceId: Type.String(),
  deviceClass: Type.String(),
  manufacturer: Text,
  model: Text,
  serialNumber: Text,
  reportedAt: Type.String({ format: "date-time" }),
});

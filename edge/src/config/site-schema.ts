import { type Static, Type } from "@sinclair/typebox";

const Id = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$" });

/** A Modbus TCP endpoint shared by every device (unit id) behind it. */
export const TcpConnectionSchema = Type.Object(
  {
    id: Id,
    type: Type.Literal("tcp"),
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    /** Time to wait for each answer. */
    timeoutMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
    /** Pause between two requests on this connection (some gateways need it). */
    delayBetweenRequestsMs: Type.Integer({ minimum: 0, maximum: 10_000, default: 0 }),
    /** Pause after the connection opened before the first request (slow gateways). */
    pauseAfterConnectMs: Type.Integer({ minimum: 0, maximum: 10_000, default: 0 }),
    /** Upper limit of registers per read for every device on this connection. */
    maxRegistersPerRead: Type.Integer({ minimum: 1, maximum: 125, default: 125 }),
    /** Largest gap of unneeded registers read to save a request (31 suits TCP). */
    maxGap: Type.Integer({ minimum: 0, maximum: 124, default: 31 }),
  },
  { additionalProperties: false },
);

/** A device polled through a connection with a profile. */
export const DeviceSchema = Type.Object(
  {
    id: Id,
    connection: Id,
    /** Modbus unit id; the profile's default when absent. */
    unitId: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
    /** `<class>/<profile id>` under firmware-config/profiles. */
    profile: Type.String({ pattern: "^[a-z0-9-]+/[a-z0-9-]+$" }),
    pollIntervalMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 1000 }),
  },
  { additionalProperties: false },
);

/** The site configuration file given with `--config`. */
export const SiteConfigSchema = Type.Object(
  {
    site: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
    hub: Type.Optional(
      Type.Object(
        { url: Type.Optional(Type.String({ pattern: "^[^\\s:]+:[0-9]{1,5}$" })) },
        { additionalProperties: false },
      ),
    ),
    connections: Type.Array(TcpConnectionSchema, { minItems: 1 }),
    devices: Type.Array(DeviceSchema, { minItems: 1 }),
  },
  { additionalProperties: false },
);

/** A validated site configuration, defaults applied. */
export type SiteConfig = Static<typeof SiteConfigSchema>;
export type ConnectionConfig = Static<typeof TcpConnectionSchema>;
export type DeviceConfig = Static<typeof DeviceSchema>;

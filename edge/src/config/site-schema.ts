import { type Static, Type } from "@sinclair/typebox";

const Id = Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$" });

/**
 * One physical connection, shared by every device on it: a Modbus TCP endpoint, an RS485 line
 * (`rtu`, a serial device), RTU frames through a transparent gateway (`rtu-over-tcp`), or an
 * MQTT broker (`mqtt`: an external one by `url`, or the edge's embedded one).
 */
export const ConnectionSchema = Type.Object(
  {
    id: Id,
    type: Type.Union([Type.Literal("tcp"), Type.Literal("rtu-over-tcp"), Type.Literal("rtu"), Type.Literal("mqtt")]),
    /** mqtt: an external broker (`mqtt://host:1883`, `mqtts://...`) with its credentials, or the embedded one. */
    url: Type.Optional(Type.String({ pattern: "^mqtts?://" })),
    username: Type.Optional(Type.String({ minLength: 1 })),
    password: Type.Optional(Type.String({ minLength: 1 })),
    embedded: Type.Optional(Type.Boolean()),
    /** tcp and rtu-over-tcp: the endpoint. */
    host: Type.Optional(Type.String({ minLength: 1 })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    /** rtu: the serial device and its line settings. */
    path: Type.Optional(Type.String({ minLength: 1 })),
    baudRate: Type.Optional(Type.Integer({ minimum: 1200, maximum: 921_600 })),
    parity: Type.Optional(Type.Union([Type.Literal("none"), Type.Literal("even"), Type.Literal("odd")])),
    stopBits: Type.Optional(Type.Union([Type.Literal(1), Type.Literal(2)])),
    /** Time to wait for each answer. */
    timeoutMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
    /** Pause between two requests on this connection (some gateways need it). */
    delayBetweenRequestsMs: Type.Integer({ minimum: 0, maximum: 10_000, default: 0 }),
    /** Pause after the connection opened before the first request (slow gateways). */
    pauseAfterConnectMs: Type.Integer({ minimum: 0, maximum: 10_000, default: 0 }),
    /** Upper limit of registers per read for every device on this connection. */
    maxRegistersPerRead: Type.Integer({ minimum: 1, maximum: 125, default: 125 }),
    /** Largest gap of unneeded registers read to save a request (default 31 over TCP, 7 for RTU framing). */
    maxGap: Type.Optional(Type.Integer({ minimum: 0, maximum: 124 })),
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
    /**
     * Meters: `grid` (default) measures the site's grid connection, `consumer` one load inside the
     * site (a heat pump, a wallbox): it is not counted as grid in the power flow.
     */
    role: Type.Optional(Type.Union([Type.Literal("grid"), Type.Literal("consumer")])),
    /** MQTT devices: values for the profile's `{variables}` (topic prefix, serial number, ...). */
    vars: Type.Optional(Type.Record(Type.String(), Type.String())),
    /** MQTT devices: no valid message for this long (default 60 s) puts the device in fault. */
    staleAfterMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 86_400_000 })),
    /** Slow-tier points (energy counters, nameplate) are read every this many cycles; 1 = always. */
    slowEvery: Type.Integer({ minimum: 1, maximum: 10_000, default: 10 }),
    /**
     * Commit a reading only when its value or quality changed (beyond `deadbandPct` of the last
     * committed value), plus a full snapshot of every point each `snapshotEveryMs`.
     */
    reportOnChange: Type.Optional(
      Type.Object(
        {
          deadbandPct: Type.Number({ minimum: 0, maximum: 100, default: 0 }),
          snapshotEveryMs: Type.Integer({ minimum: 1000, maximum: 86_400_000, default: 300_000 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** A size in bytes: a number, or a string with a unit such as "2GiB", "500MB", "100 MiB". */
const ByteSize = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ minLength: 1 })]);

/**
 * The reading buffer's budget and retention. What does not fit is given up by `policy` (the
 * oldest readings, or the new ones), counted, and reported to the hub as a gap.
 */
export const BufferSchema = Type.Object(
  {
    maxRows: Type.Integer({ minimum: 1, default: 10_000_000 }),
    maxBytes: Type.Union(ByteSize.anyOf, { default: "2GiB" }),
    ttlMs: Type.Integer({ minimum: 60_000, default: 30 * 86_400_000 }),
    /** Free space on the buffer's file system under which the file must not grow; 0 turns the guard off. */
    minFreeBytes: Type.Union(ByteSize.anyOf, { default: "100MiB" }),
    policy: Type.Union([Type.Literal("drop-oldest"), Type.Literal("reject-new")], { default: "drop-oldest" }),
    /** Days of local 1-minute and 15-minute rollups (charts of the local UI); 0 turns them off. */
    rollupDays: Type.Integer({ minimum: 0, maximum: 3660, default: 35 }),
  },
  { additionalProperties: false, default: {} },
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
    /** The embedded MQTT broker: off unless enabled; loopback unless opened to the LAN. */
    mqttBroker: Type.Optional(
      Type.Object(
        {
          enabled: Type.Boolean({ default: false }),
          host: Type.String({ default: "127.0.0.1" }),
          port: Type.Integer({ minimum: 0, maximum: 65535, default: 1883 }),
          /** Accounts for devices; password hashes from `npm run edge -- hash-password`. */
          users: Type.Array(
            Type.Object(
              { username: Type.String({ minLength: 1 }), passwordHash: Type.String({ pattern: "^scrypt\\$" }) },
              { additionalProperties: false },
            ),
            { default: [] },
          ),
        },
        { additionalProperties: false },
      ),
    ),
    /** Empty until the installer adds the first link (a fresh appliance saves `site.name` alone). */
    connections: Type.Array(ConnectionSchema, { minItems: 0, default: [] }),
    devices: Type.Array(DeviceSchema, { minItems: 0, default: [] }),
    buffer: Type.Optional(BufferSchema),
  },
  { additionalProperties: false },
);

/** A validated site configuration, defaults applied. */
export type SiteConfig = Static<typeof SiteConfigSchema>;
export type ConnectionConfig = Static<typeof ConnectionSchema>;
export type DeviceConfig = Static<typeof DeviceSchema>;
export type BufferConfig = Static<typeof BufferSchema>;

/**
 * The edge's error codes. Each code has a fixed meaning and says whether retrying
 * the same operation can help; README.md documents every code (a test checks that).
 */
export const EDGE_ERRORS = {
  EDGE_ERR_CONFIG_INVALID: { retryable: false, text: "site configuration is invalid" },
  EDGE_ERR_CONFIG_READ: { retryable: false, text: "site configuration file cannot be read" },
  EDGE_ERR_PROFILE_INVALID: { retryable: false, text: "device profile is invalid" },
  EDGE_ERR_MODBUS_EXCEPTION: { retryable: true, text: "device answered with a Modbus exception" },
  EDGE_ERR_MODBUS_TIMEOUT: { retryable: true, text: "device did not answer in time" },
  EDGE_ERR_MODBUS_CONNECT: { retryable: true, text: "connection to the device failed" },
  EDGE_ERR_SUNSPEC_NOT_FOUND: {
    retryable: true,
    text: "no SunSpec device of the profile's class answers at the configured bases",
  },
  EDGE_ERR_MQTT: { retryable: true, text: "the MQTT broker refused or lost the connection or a subscription" },
  EDGE_ERR_MQTT_STALE: { retryable: true, text: "an MQTT device sent no valid message for its stale interval" },
  EDGE_ERR_BUFFER: { retryable: false, text: "reading buffer (SQLite) failed" },
  EDGE_ERR_BUFFER_CORRUPT: {
    retryable: false,
    text: "reading buffer was corrupt or missing at start; moved aside and replaced, its unsent readings reported as a gap",
  },
  EDGE_ERR_HUB_UNAVAILABLE: { retryable: true, text: "hub is unreachable or closed the sync stream" },
  EDGE_ERR_LINK_INSECURE: {
    retryable: false,
    text: "the link to the hub needs EDGE_TLS_DIR (mutual TLS), or --insecure-dev for plaintext",
  },
  EDGE_ERR_TLS: {
    retryable: false,
    text: "the edge's TLS files (EDGE_TLS_DIR) are missing, unreadable or do not belong together",
  },
  EDGE_ERR_ENROLL: {
    retryable: false,
    text: "the hub refused the enrollment code (unknown, used, expired or for another edge) or answered out of protocol",
  },
  EDGE_ERR_HUB_PROTOCOL: { retryable: true, text: "hub answered out of protocol (unexpected acknowledgement)" },
  EDGE_ERR_HUB_REJECTED: { retryable: true, text: "hub refused a batch or gap report as invalid or too large" },
  EDGE_ERR_HUB_REFUSED: {
    retryable: true,
    text: "hub refused this edge's identity (certificate unknown, revoked or mismatched)",
  },
  EDGE_ERR_WRITE_REFUSED: {
    retryable: false,
    text: "write refused before it was sent (point not writable, value out of bounds, unsafe or not encodable)",
  },
  EDGE_ERR_COMMAND_REFUSED: {
    retryable: false,
    text: "a hub command was refused before anything was done (another edge's, an unknown action or device, no inverter, a value out of the profile's bounds)",
  },
  EDGE_ERR_COMMAND_EXPIRED: {
    retryable: false,
    text: "a hub command arrived after its not-after time and was not executed",
  },
  EDGE_ERR_WRITE_VERIFY: { retryable: true, text: "the value read back after a write differs from the value written" },
  EDGE_ERR_PUBLISH_REFUSED: {
    retryable: false,
    text: "a flow's computed reading was refused (device id not virtual.* or taken by a configured device, malformed point id, or not a finite number)",
  },
  EDGE_ERR_NODE_RED: {
    retryable: false,
    text: "the embedded Node-RED could not start (port in use, or already running in this process); acquisition and sync go on without it",
  },
  EDGE_ERR_CONFIG_CONFLICT: {
    retryable: false,
    text: "the site configuration changed since it was read (If-Match names an older version)",
  },
  EDGE_ERR_AUTH_REQUIRED: { retryable: false, text: "the request needs a logged-in session" },
  EDGE_ERR_AUTH_FAILED: { retryable: false, text: "user name or password is wrong" },
  EDGE_ERR_AUTH_RATE_LIMITED: { retryable: true, text: "too many failed logins; wait before trying again" },
  EDGE_ERR_FORBIDDEN: { retryable: false, text: "the user's role does not allow this request" },
  EDGE_ERR_CSRF: { retryable: false, text: "an unsafe request came without the session's CSRF token" },
  EDGE_ERR_SETUP_DONE: { retryable: false, text: "first-run setup was already done" },
  EDGE_ERR_REQUEST_INVALID: { retryable: false, text: "a request field is missing or invalid" },
  EDGE_ERR_NOT_FOUND: { retryable: false, text: "no such resource" },
  EDGE_ERR_INTERNAL: { retryable: true, text: "unexpected error inside the edge agent (logged)" },
} as const;

/** One of the codes in `EDGE_ERRORS`. */
export type EdgeErrorCode = keyof typeof EDGE_ERRORS;

/** An error with a stable code; `retryable` comes from the code's table entry. */
export class EdgeError extends Error {
  override readonly name = "EdgeError";
  readonly retryable: boolean;

  constructor(
    readonly code: EdgeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.retryable = EDGE_ERRORS[code].retryable;
  }
}

/** Modbus exception codes (Modbus Application Protocol v1.1b3, section 7). */
export const MODBUS_EXCEPTIONS: Readonly<Record<number, string>> = {
  1: "illegal function",
  2: "illegal data address",
  3: "illegal data value",
  4: "server device failure",
  5: "acknowledge",
  6: "server device busy",
  8: "memory parity error",
  10: "gateway path unavailable",
  11: "gateway target device failed to respond",
};

/** A Modbus exception answer, keeping the wire's exception code and the address read. */
export class ModbusExceptionError extends EdgeError {
  constructor(
    readonly exceptionCode: number,
    readonly address: number,
    options?: { cause?: unknown },
  ) {
    const text = MODBUS_EXCEPTIONS[exceptionCode] ?? "unknown exception";
    super("EDGE_ERR_MODBUS_EXCEPTION", `Modbus exception ${exceptionCode}: ${text} at ${address}`, options);
  }
}

/** A document that failed validation, with the path and problem of each field (`EDGE_ERR_CONFIG_INVALID`). */
export class ConfigInvalidError extends EdgeError {
  constructor(
    readonly problems: readonly { path: string; message: string }[],
    message: string,
  ) {
    super("EDGE_ERR_CONFIG_INVALID", message);
  }
}

/** Why a write was refused; nothing was sent to the device. */
export type WriteRefusal =
  | "not-writable"
  | "not-finite"
  | "below-min"
  | "above-max"
  | "refused-value"
  | "out-of-range"
  | "not-implemented"
  | "limited-by-hub";

/** A write refused before anything was sent (`EDGE_ERR_WRITE_REFUSED`, not retryable). */
export class WriteRefusedError extends EdgeError {
  constructor(
    readonly reason: WriteRefusal,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("EDGE_ERR_WRITE_REFUSED", message, options);
  }
}

/** A write the device accepted but whose read-back differs by more than one raw step (`EDGE_ERR_WRITE_VERIFY`). */
export class WriteVerifyError extends EdgeError {
  constructor(
    /** The value written, in the point's unit (after rounding to the register's resolution). */
    readonly expected: number,
    /** The value read back, in the point's unit; null when the device reports it as not implemented. */
    readonly actual: number | null,
    message: string,
  ) {
    super("EDGE_ERR_WRITE_VERIFY", message);
  }
}

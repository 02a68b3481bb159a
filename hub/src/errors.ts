import createError from "@fastify/error";

/**
 * The hub's error codes, each with its HTTP status (RFC 9457 problem+json at the HTTP
 * boundary; gRPC statuses are mapped in the gRPC service). README.md documents every code.
 */
export const HUB_ERRORS = {
  HUB_ERR_VALIDATION: { status: 400, retryable: false, text: "request does not match the API schema" },
  HUB_ERR_NOT_FOUND: { status: 404, retryable: false, text: "no such resource" },
  HUB_ERR_BAD_CURSOR: { status: 400, retryable: false, text: "paging cursor is malformed" },
  HUB_ERR_DB_UNAVAILABLE: { status: 503, retryable: true, text: "PostgreSQL is unreachable" },
  HUB_ERR_INTERNAL: { status: 500, retryable: true, text: "unexpected error" },
  HUB_ERR_MIGRATION_CHANGED: { status: 500, retryable: false, text: "an applied migration file was changed" },
  HUB_ERR_BATCH_INVALID: { status: 400, retryable: false, text: "a reading batch broke the columnar rules" },
  HUB_ERR_GAP_INVALID: { status: 400, retryable: false, text: "a gap report has an empty or inverted seq range" },
  HUB_ERR_EDGE_ID_INVALID: { status: 400, retryable: false, text: "edge id missing or malformed" },
  HUB_ERR_EDGE_CERT_MISSING: { status: 401, retryable: false, text: "the call carries no verified client certificate" },
  HUB_ERR_EDGE_UNKNOWN: {
    status: 401,
    retryable: false,
    text: "the client certificate names an edge the hub does not know",
  },
  HUB_ERR_EDGE_REVOKED: {
    status: 401,
    retryable: false,
    text: "the client certificate was revoked, superseded or never issued by this hub",
  },
  HUB_ERR_EDGE_ID_MISMATCH: {
    status: 403,
    retryable: false,
    text: "the call claims an edge id other than its certificate's",
  },
  HUB_ERR_PKI_EXISTS: { status: 409, retryable: false, text: "a hub CA exists already (pki init --force replaces it)" },
  HUB_ERR_PKI_MISSING: { status: 503, retryable: false, text: "the hub CA files are missing or unreadable" },
  HUB_ERR_ENROLL_CODE: {
    status: 403,
    retryable: false,
    text: "the enrollment code is unknown, used, expired or made for another edge",
  },
  HUB_ERR_RATE_LIMITED: {
    status: 429,
    retryable: true,
    text: "too many failed attempts from this address; wait before trying again",
  },
} as const;

/** One of the codes in `HUB_ERRORS`. */
export type HubErrorCode = keyof typeof HUB_ERRORS;

const classes = new Map<HubErrorCode, ReturnType<typeof createError>>();

/** Creates the typed error for `code` (a @fastify/error with the table's status code). */
export function hubError(code: HubErrorCode, message: string, cause?: unknown): Error & { code: HubErrorCode } {
  let Class = classes.get(code);
  if (!Class) {
    Class = createError(code, "%s", HUB_ERRORS[code].status);
    classes.set(code, Class);
  }
  const err = new Class(message) as Error & { code: HubErrorCode };
  if (cause !== undefined) err.cause = cause;
  return err;
}

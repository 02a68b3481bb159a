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
  HUB_ERR_LINK_INSECURE: {
    status: 500,
    retryable: false,
    text: "a plaintext gRPC listener needs --insecure-dev (mutual TLS is not available yet)",
  },
  HUB_ERR_BATCH_INVALID: { status: 400, retryable: false, text: "a reading batch broke the columnar rules" },
  HUB_ERR_EDGE_ID_INVALID: { status: 400, retryable: false, text: "edge id missing or malformed" },
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

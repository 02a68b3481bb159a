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
  HUB_ERR_MIGRATION_MISSING: {
    status: 500,
    retryable: false,
    text: "an applied migration has no down file (or no file at all): it cannot be rolled back",
  },
  HUB_ERR_POSTGRES_VERSION: {
    status: 500,
    retryable: false,
    text: "the PostgreSQL server's major version is not supported (15 to 18 are)",
  },
  HUB_ERR_AUTH_REQUIRED: { status: 401, retryable: false, text: "the request needs a session or an API token" },
  HUB_ERR_AUTH_FAILED: { status: 401, retryable: false, text: "e-mail or password wrong" },
  HUB_ERR_FORBIDDEN: { status: 403, retryable: false, text: "the caller's roles do not allow this" },
  HUB_ERR_CSRF: { status: 403, retryable: false, text: "the request lacks the session's x-csrf-token" },
  HUB_ERR_PASSWORD_WEAK: { status: 400, retryable: false, text: "the password is shorter than 12 characters" },
  HUB_ERR_USER_EXISTS: { status: 409, retryable: false, text: "a user with this e-mail exists already" },
  HUB_ERR_LAST_ADMIN: { status: 409, retryable: false, text: "the change would leave no enabled admin" },
  HUB_ERR_BATCH_INVALID: { status: 400, retryable: false, text: "a reading batch broke the columnar rules" },
  HUB_ERR_GAP_INVALID: { status: 400, retryable: false, text: "a gap report has an empty or inverted seq range" },
  HUB_ERR_INVENTORY_INVALID: {
    status: 400,
    retryable: false,
    text: "a device inventory report lists a malformed or duplicate device id, an oversized field or too many devices",
  },
  HUB_ERR_EDGE_ID_INVALID: { status: 400, retryable: false, text: "edge id missing or malformed" },
  HUB_ERR_EDGE_CERT_MISSING: { status: 401, retryable: false, text: "the call carries no verified client certificate" },
  HUB_ERR_EDGE_UNKNOWN: {
    status: 401,
    retryable: false,
    text: "the client certificate names an edge the hub does not know",
  },
  HUB_ERR_FENCED: {
    status: 409,
    retryable: false,
    text: "a change carried a fencing token older than one already seen: its owner lost its claim",
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
  HUB_ERR_IDEMPOTENCY_KEY_INVALID: {
    status: 400,
    retryable: false,
    text: "the Idempotency-Key header is malformed (1-255 printable ASCII characters)",
  },
  HUB_ERR_IDEMPOTENCY_MISMATCH: {
    status: 422,
    retryable: false,
    text: "the Idempotency-Key was used before for a different request",
  },
  HUB_ERR_IDEMPOTENCY_IN_FLIGHT: {
    status: 409,
    retryable: true,
    text: "a request with this Idempotency-Key is still being processed",
  },
  HUB_ERR_PRECONDITION_REQUIRED: { status: 428, retryable: false, text: "the request needs an If-Match header" },
  HUB_ERR_PRECONDITION_FAILED: {
    status: 412,
    retryable: false,
    text: "the resource changed since the version named in If-Match",
  },
  HUB_ERR_AUDIT_CHAIN_BROKEN: { status: 500, retryable: false, text: "the audit trail's hash chain is broken" },
  HUB_ERR_DLQ_NOT_PENDING: { status: 409, retryable: false, text: "the dead letter was already redriven or discarded" },
  HUB_ERR_DLQ_NO_HANDLER: { status: 409, retryable: false, text: "no redrive handler is registered for this source" },
  HUB_ERR_CIRCUIT_OPEN: {
    status: 503,
    retryable: true,
    text: "calls to a failing dependency are suspended for a while (circuit breaker open)",
  },
  HUB_ERR_SHUTTING_DOWN: { status: 503, retryable: true, text: "the hub is stopping" },
  HUB_ERR_REFERENCE_INVALID: { status: 400, retryable: false, text: "a referenced record does not exist" },
  HUB_ERR_DUPLICATE: { status: 409, retryable: false, text: "another record has this value already" },
  HUB_ERR_IN_USE: { status: 409, retryable: false, text: "the record is still used by others and cannot be deleted" },
  HUB_ERR_STOCK_INSUFFICIENT: {
    status: 409,
    retryable: false,
    text: "not enough stock (or not enough unreserved stock) for this movement",
  },
  HUB_ERR_SERIAL_CONFLICT: {
    status: 409,
    retryable: false,
    text: "the serial number is not where the movement takes it from",
  },
  HUB_ERR_PERIOD_CLOSED: {
    status: 409,
    retryable: false,
    text: "the period is closed; book a correction in an open one",
  },
  HUB_ERR_INVOICE_FINALISED: {
    status: 409,
    retryable: false,
    text: "the invoice is finalised and can no longer change; cancel it by a credit note",
  },
  HUB_ERR_HOLD_SUBJECT: {
    status: 400,
    retryable: false,
    text: "a legal hold names one record of a table under retention (table and id) or one customer",
  },
  HUB_ERR_HOLD_RELEASED: { status: 409, retryable: false, text: "the legal hold was released already" },
  HUB_ERR_ALREADY_CREDITED: {
    status: 409,
    retryable: false,
    text: "the credit note would credit more of a line than the invoice has left to credit",
  },
  HUB_ERR_OVERPAID: {
    status: 409,
    retryable: false,
    text: "the payment is more than the invoice has open (or a reversal more than was paid)",
  },
  HUB_ERR_SETTINGS_MISSING: {
    status: 409,
    retryable: false,
    text: "the company settings lack what this document or export needs (each missing field is named)",
  },
  HUB_ERR_XRECHNUNG_DATA: {
    status: 409,
    retryable: false,
    text: "the document lacks what an XRechnung needs (each missing field is named)",
  },
  HUB_ERR_DATEV_UNENCODABLE: {
    status: 422,
    retryable: false,
    text: "a text for the DATEV export has a character Windows-1252 cannot encode (document and field named)",
  },
  HUB_ERR_APPROVAL_SELF: {
    status: 409,
    retryable: false,
    text: "nobody decides their own approval request: a second person must",
  },
  HUB_ERR_APPROVAL_CLOSED: {
    status: 409,
    retryable: false,
    text: "the approval request is no longer pending (decided, carried out or expired)",
  },
  HUB_ERR_APPROVAL_PENDING: {
    status: 409,
    retryable: false,
    text: "another request for this operation on this subject awaits its decision",
  },
  HUB_ERR_APPROVAL_STALE: {
    status: 409,
    retryable: false,
    text: "what the approval request names changed since it was requested: reject it and request again",
  },
  HUB_ERR_TRANSITION_NOT_ALLOWED: {
    status: 409,
    retryable: false,
    text: "the status cannot change this way from the current one",
  },
} as const;

/** One of the codes in `HUB_ERRORS`. */
export type HubErrorCode = keyof typeof HUB_ERRORS;

const classes = new Map<HubErrorCode, ReturnType<typeof createError>>();

/** A field a request got wrong: its JSON pointer in the body or query (`/customerId`) and why. */
export interface FieldProblem {
  path: string;
  message: string;
}

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

/** A typed error about request fields: problem+json lists them as `problems` for forms to show at each field. */
export function fieldError(
  code: HubErrorCode,
  problems: FieldProblem[],
): Error & { code: HubErrorCode; problems: FieldProblem[] } {
  const err = hubError(code, problems.map((p) => `${p.path.slice(1)}: ${p.message}`).join("; ")) as Error & {
    code: HubErrorCode;
    problems: FieldProblem[];
  };
  err.problems = problems;
  return err;
}

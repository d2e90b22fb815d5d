'use strict';

/**
 * The catalogue of every `error.code` the bridge can answer with: the one
 * place a code is spelled. Code that raises an error names it through
 * `ErrorCode.<NAME>`, the OpenAPI error schema (schemas.js) declares `code`
 * with `enum: ERROR_CODES`, and the Python provider's outcome table is tested
 * against that enum through /openapi.json. A code missing here cannot be
 * raised (BridgeError refuses it), so a client can rely on the document
 * listing every code it may see.
 *
 * Each entry gives the HTTP statuses the code is answered with. They are not
 * needed at run time (each raise site picks its status); they are what the
 * README's catalogue table is checked against, so the table cannot drift.
 */
const ERROR_STATUSES = Object.freeze({
  // The request itself.
  VALIDATION_FAILED: Object.freeze([400]),
  INVALID_JSON: Object.freeze([400]),
  // Also the fallback for a 4xx the framework raises without a more specific
  // code (toBridgeError), hence "400 and other 4xx" in the README.
  BAD_REQUEST: Object.freeze([400]),
  UNAUTHORIZED: Object.freeze([401]),
  NOT_FOUND: Object.freeze([404]),
  METHOD_NOT_ALLOWED: Object.freeze([405]),
  NOT_ACCEPTABLE: Object.freeze([406]),
  REQUEST_TIMEOUT: Object.freeze([408]),
  LENGTH_REQUIRED: Object.freeze([411]),
  PAYLOAD_TOO_LARGE: Object.freeze([413]),
  URI_TOO_LONG: Object.freeze([414]),
  UNSUPPORTED_MEDIA_TYPE: Object.freeze([415]),
  HEADERS_TOO_LARGE: Object.freeze([431]),
  // Sends and their idempotency.
  IDEMPOTENCY_IN_FLIGHT: Object.freeze([409]),
  // The key's send was in progress when a previous bridge process died:
  // whether WhatsApp took it is unknown; never re-sent (store-sqlite.js).
  SEND_OUTCOME_UNKNOWN: Object.freeze([409]),
  MEDIA_TOO_LARGE: Object.freeze([413]),
  IDEMPOTENCY_KEY_MISMATCH: Object.freeze([422]),
  NOT_ON_WHATSAPP: Object.freeze([422]),
  QUEUE_FULL: Object.freeze([429]),
  RATE_LIMITED: Object.freeze([429]),
  // Only ever logged: the client is gone by the time it is raised.
  CLIENT_CLOSED_REQUEST: Object.freeze([499]),
  SEND_FAILED: Object.freeze([502]),
  SEND_UNCONFIRMED: Object.freeze([502]),
  SEND_TIMEOUT: Object.freeze([504]),
  // Lookups.
  MESSAGE_NOT_FOUND: Object.freeze([404]),
  NO_QR_PENDING: Object.freeze([404]),
  // The bridge's own condition.
  NOT_READY: Object.freeze([503]),
  INCOMING_BUSY: Object.freeze([503]),
  INTERNAL: Object.freeze([500]),
});

/**
 * Named constants, `ErrorCode.SEND_FAILED === 'SEND_FAILED'`: a misspelt
 * name is `undefined`, which BridgeError refuses, instead of a new code
 * nobody documented.
 */
const ErrorCode = Object.freeze(Object.fromEntries(Object.keys(ERROR_STATUSES).map((code) => [code, code])));

/** Every code, in catalogue order (the OpenAPI enum). */
const ERROR_CODES = Object.freeze(Object.keys(ERROR_STATUSES));

const KNOWN = new Set(ERROR_CODES);

/** True for a code of the catalogue. */
function isErrorCode(code) {
  return typeof code === 'string' && KNOWN.has(code);
}

module.exports = { ErrorCode, ERROR_CODES, ERROR_STATUSES, isErrorCode };

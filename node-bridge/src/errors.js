'use strict';

const http = require('node:http');
const { ErrorCode, isErrorCode } = require('./error-codes');

/**
 * An error that maps to one HTTP response of the contract. Everything the
 * bridge rejects on purpose is a BridgeError, so the error handler can tell
 * intended 4xx/5xx answers apart from bugs (which become 500 INTERNAL).
 *
 * `code` must be one of the catalogue (error-codes.js, `ErrorCode.<NAME>`):
 * a code outside it would reach clients without being in /openapi.json, so
 * it is refused here as the programming error it is (and surfaces as a 500
 * INTERNAL with a logged stack instead of an undocumented answer).
 *
 * `extra` carries contract fields that live inside the error object
 * (`field`, `retryAfter`, `state`). `paced: false` tells the send queue that
 * no WhatsApp call was made, so no pacing gap is owed after this job.
 */
class BridgeError extends Error {
  /**
   * `ambiguous` marks a failure after which the message may nevertheless have
   * reached WhatsApp (a send that timed out, or that returned without an id):
   * its Idempotency-Key is kept with this answer instead of being released, so a
   * retry replays the answer and never sends a second time.
   */
  constructor(statusCode, code, message, extra = {}, { paced = true, ambiguous = statusCode === 504 } = {}) {
    if (!isErrorCode(code)) throw new TypeError(`BridgeError code ${String(code)} is not in the catalogue (src/error-codes.js)`);
    super(message);
    this.name = 'BridgeError';
    this.statusCode = statusCode;
    this.code = code;
    this.extra = extra;
    this.paced = paced;
    this.ambiguous = ambiguous;
  }

  /** The JSON body every error response uses. */
  toBody() {
    return { error: { code: this.code, message: this.message, ...this.extra } };
  }
}

/** 400 VALIDATION_FAILED naming the offending field, as the Python side expects. */
function validationError(field, message) {
  return new BridgeError(400, ErrorCode.VALIDATION_FAILED, message, { field });
}

/**
 * 429 with the Retry-After contract: integer seconds, at least 1, repeated
 * inside the error body so clients that drop headers still see it.
 */
function tooManyRequests(code, message, retryAfterSeconds) {
  const retryAfter = Math.max(1, Math.ceil(Number(retryAfterSeconds) || 1));
  return new BridgeError(429, code, message, { retryAfter });
}

/** 503 NOT_READY carrying the session state that caused it. */
function notReady(state) {
  return new BridgeError(503, ErrorCode.NOT_READY, `WhatsApp session is not ready (state ${state})`, { state }, { paced: false });
}

/**
 * 503 INCOMING_BUSY: the bytes of request bodies in transfer already reach
 * BRIDGE_INCOMING_MAX_BYTES. Nothing of this request was read or sent, so it
 * is safe to retry shortly.
 */
function incomingBusy() {
  return new BridgeError(
    503,
    ErrorCode.INCOMING_BUSY,
    'Too many request bodies are being received at once (BRIDGE_INCOMING_MAX_BYTES); retry shortly',
    { retryAfter: 1 },
    { paced: false },
  );
}

/**
 * Turn one ajv error into a field path in the contract's notation:
 * `/media/data` -> `media.data`; a missing or unexpected property is named
 * itself; header errors name the (lower-case) header.
 */
function fieldOf(ajvError, context) {
  const segments = String(ajvError.instancePath || '')
    .split('/')
    .filter(Boolean)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = ajvError.params || {};
  if (ajvError.keyword === 'required' && params.missingProperty) segments.push(params.missingProperty);
  if (ajvError.keyword === 'additionalProperties' && params.additionalProperty) segments.push(params.additionalProperty);
  if (segments.length === 0) return context === 'body' ? 'body' : context;
  return segments.join('.');
}

/**
 * What a field's `pattern` means, for the fields whose rule a person cannot
 * guess from "has an invalid format". Keyed by the field path fieldOf()
 * produces.
 */
const FORMAT_RULES = Object.freeze({
  'media.data': 'must be valid base64 (standard alphabet, padded, no whitespace)',
  'media.mimetype': 'must be type/subtype with optional name=value parameters, without control characters (CR, LF, NUL, ...)',
  'media.filename': 'must be a file name without path separators (/ or \\) or control characters (CR, LF, NUL, ...), and not . or ..',
});

function describe(ajvError, field, errors) {
  const params = ajvError.params || {};
  switch (ajvError.keyword) {
    case 'required': {
      const anyOf = errors.find((e) => e.keyword === 'anyOf' && e.instancePath === ajvError.instancePath);
      if (anyOf) {
        const names = errors.filter((e) => e.keyword === 'required' && e.instancePath === ajvError.instancePath)
          .map((e) => e.params.missingProperty);
        return `${field} is required: the body must contain at least one of ${names.join(', ')}`;
      }
      return `${field} is required`;
    }
    case 'additionalProperties':
      return `${field} is not an allowed property`;
    case 'type':
      return `${field} must be of type ${params.type}`;
    case 'minLength':
      return `${field} must be at least ${params.limit} characters long`;
    case 'maxLength':
      return `${field} must be at most ${params.limit} characters long`;
    case 'pattern':
      return FORMAT_RULES[field] ? `${field} ${FORMAT_RULES[field]}` : `${field} has an invalid format`;
    case 'enum':
      return `${field} must be one of ${(params.allowedValues || []).join(', ')}`;
    default:
      return `${field} ${ajvError.message || 'is invalid'}`;
  }
}

/**
 * fastify `schemaErrorFormatter`: converts ajv output into a BridgeError so
 * schema failures use the same body shape and name the field.
 */
function schemaErrorFormatter(errors, context) {
  const list = Array.isArray(errors) && errors.length > 0 ? errors : [{ keyword: 'invalid', instancePath: '' }];
  const first = list[0];
  const field = fieldOf(first, context);
  return validationError(field, describe(first, field, list));
}

const FASTIFY_CODES = {
  FST_ERR_CTP_INVALID_JSON_BODY: [400, ErrorCode.INVALID_JSON, 'Request body is not valid JSON'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, ErrorCode.INVALID_JSON, 'Request body is empty but content-type is application/json'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, ErrorCode.PAYLOAD_TOO_LARGE, 'Request body is larger than the configured limit'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'Content-Type must be application/json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, ErrorCode.BAD_REQUEST, 'Content-Length does not match the body'],
  FST_ERR_MAX_PARAM_LENGTH: [414, ErrorCode.URI_TOO_LONG, 'A path parameter is too long'],
  FST_ERR_BAD_URL: [400, ErrorCode.BAD_REQUEST, 'Malformed URL'],
};

const GENERIC_CODES = {
  400: ErrorCode.BAD_REQUEST,
  404: ErrorCode.NOT_FOUND,
  405: ErrorCode.METHOD_NOT_ALLOWED,
  406: ErrorCode.NOT_ACCEPTABLE,
  408: ErrorCode.REQUEST_TIMEOUT,
  411: ErrorCode.LENGTH_REQUIRED,
  413: ErrorCode.PAYLOAD_TOO_LARGE,
  414: ErrorCode.URI_TOO_LONG,
  415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  431: ErrorCode.HEADERS_TOO_LARGE,
};

/**
 * Map any thrown value to a BridgeError. Framework errors about the client's
 * request keep their 4xx status under a stable code; anything else is a bug
 * and becomes 500 INTERNAL with a generic message (details go to the log).
 */
function toBridgeError(err) {
  if (err instanceof BridgeError) return err;
  if (err && err.validation) {
    return schemaErrorFormatter(err.validation, err.validationContext || 'body');
  }
  const known = err && FASTIFY_CODES[err.code];
  if (known) return new BridgeError(known[0], known[1], known[2]);
  const status = err && Number(err.statusCode);
  if (Number.isInteger(status) && status >= 400 && status < 500) {
    const message = err.message ? String(err.message) : 'Bad request';
    return new BridgeError(status, GENERIC_CODES[status] || ErrorCode.BAD_REQUEST, message);
  }
  return new BridgeError(500, ErrorCode.INTERNAL, 'Internal error');
}

/**
 * Install the JSON error handler and the JSON 404 handler on an app.
 * Internal errors are logged with their stack; client errors at debug only,
 * and never with request headers (which would include the API key).
 */
function sendError(err, request, reply) {
  const bridgeError = toBridgeError(err);
  if (bridgeError.statusCode >= 500 && bridgeError.code === ErrorCode.INTERNAL) {
    request.log.error({ err }, 'unhandled error');
  } else {
    request.log.debug({ code: bridgeError.code, status: bridgeError.statusCode }, 'request rejected');
  }
  if (bridgeError.extra && bridgeError.extra.retryAfter !== undefined) {
    reply.header('Retry-After', String(bridgeError.extra.retryAfter));
  }
  reply.code(bridgeError.statusCode).type('application/json; charset=utf-8').send(bridgeError.toBody());
}

/**
 * fastify `frameworkErrors` option: router-level failures (over-long path
 * parameters, malformed URLs) happen before any route exists and would
 * otherwise bypass the error handler and its body shape.
 */
function frameworkErrors(err, request, reply) {
  sendError(err, request, reply);
}

/**
 * Errors node's HTTP parser reports before any request object exists (so
 * before fastify's error handler could run), by parser error code.
 */
const PARSER_ERRORS = {
  HPE_HEADER_OVERFLOW: [431, ErrorCode.HEADERS_TOO_LARGE, 'Request headers are larger than the server accepts'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, ErrorCode.PAYLOAD_TOO_LARGE, 'Chunk extensions are larger than the server accepts'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, ErrorCode.REQUEST_TIMEOUT, 'The request was not received in time'],
};

/**
 * fastify `clientErrorHandler` option (bound to the fastify instance): node
 * emits 'clientError' for requests its parser rejects (oversized headers,
 * malformed request lines, timeouts). fastify's default answers those with
 * its own body shape; this writes the contract's error body instead, then
 * closes the connection as node does.
 *
 * Nothing can be answered when the peer already reset the connection, or
 * when a response on the same keep-alive connection has already started
 * (writing would corrupt it); then the socket is only closed.
 */
function clientErrorHandler(err, socket) {
  if ((err && err.code === 'ECONNRESET') || socket.destroyed) return;
  const [status, code, message] = PARSER_ERRORS[err && err.code] || [400, ErrorCode.BAD_REQUEST, 'Malformed HTTP request'];
  if (this && this.log) this.log.debug({ code, status, parserCode: err && err.code }, 'client error from the HTTP parser');
  const inFlight = socket._httpMessage;
  if (socket.writable && (!inFlight || !inFlight.headersSent)) {
    const body = JSON.stringify({ error: { code, message } });
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n`
      + 'Content-Type: application/json; charset=utf-8\r\n'
      + `Content-Length: ${Buffer.byteLength(body)}\r\n`
      + 'Connection: close\r\n\r\n'
      + body,
    );
  }
  socket.destroy(err);
}

function installErrorHandling(app) {
  app.setErrorHandler(sendError);

  app.setNotFoundHandler((request, reply) => {
    const pathOnly = String(request.url).split('?')[0];
    reply.code(404).type('application/json; charset=utf-8').send({
      error: { code: ErrorCode.NOT_FOUND, message: `Route ${request.method} ${pathOnly} not found` },
    });
  });
}

module.exports = {
  BridgeError,
  validationError,
  tooManyRequests,
  notReady,
  incomingBusy,
  schemaErrorFormatter,
  toBridgeError,
  frameworkErrors,
  clientErrorHandler,
  installErrorHandling,
};

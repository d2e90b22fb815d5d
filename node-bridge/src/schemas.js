'use strict';

const { ACK_VALUES } = require('./gateways/base');
const { ERROR_CODES } = require('./error-codes');
const { SESSION_STATES } = require('./session-state');
const { TO_PATTERN } = require('./recipient');
const { PauseReason } = require('./pacer');

const PAUSE_REASONS = Object.values(PauseReason);

/**
 * JSON schemas shared by the routes. They are the single source for both
 * request validation and the generated OpenAPI document, so what /openapi.json
 * promises is exactly what the server enforces.
 */

const errorBody = {
  type: 'object',
  description: 'Every error response has this shape.',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: ERROR_CODES, description: 'Stable machine-readable code from the catalogue (src/error-codes.js; the README lists what each means).' },
        message: { type: 'string', description: 'Human-readable explanation.' },
        field: { type: 'string', description: 'Offending field (JSON path) or header name; only for VALIDATION_FAILED.' },
        retryAfter: { type: 'integer', minimum: 1, description: 'Seconds to wait; only on 429 and 503 INCOMING_BUSY, equal to the Retry-After header.' },
        state: { type: 'string', enum: SESSION_STATES, description: 'Session state; only on 503 NOT_READY.' },
        pausedUntil: { type: 'string', format: 'date-time', description: 'When sends resume; only on 429 RATE_LIMITED from the pacer (a cap reached or a risk pause).' },
        pauseReason: { type: 'string', enum: PAUSE_REASONS, description: 'Why sends are held; only with pausedUntil.' },
      },
    },
  },
};

/** Response map entries for the given error statuses. */
function errors(...statuses) {
  const out = {};
  for (const status of statuses) out[status] = errorBody;
  return out;
}

const sessionState = { type: 'string', enum: SESSION_STATES, description: 'WhatsApp session state (src/session-state.js); only READY can send.' };
const isoTime = { type: 'string', format: 'date-time' };
const nullableText = { type: 'string', nullable: true };

const sendBody = {
  type: 'object',
  additionalProperties: false,
  required: ['to'],
  anyOf: [{ required: ['text'] }, { required: ['media'] }],
  properties: {
    to: {
      type: 'string',
      pattern: TO_PATTERN,
      description: 'Phone number (+15551234567 or 15551234567, 6..20 digits), a user id (15551234567@c.us) or a group id (<digits>-<digits>@g.us or <digits>@g.us).',
    },
    text: { type: 'string', minLength: 1, maxLength: 65536, description: 'Message text; the caption when media is given.' },
    media: {
      type: 'object',
      additionalProperties: false,
      required: ['data', 'mimetype', 'filename'],
      properties: {
        data: {
          type: 'string',
          minLength: 1,
          // The alphabet and trailing padding. "Length a multiple of 4" is
          // checked by the handler: the exact regular expression needs a
          // repeated group, which V8 cannot run over megabytes of base64.
          pattern: '^[A-Za-z0-9+/]*={0,2}$',
          description: 'Standard padded base64 of the file (alphabet A-Z a-z 0-9 + /, `=` padding, no whitespace, length a multiple of 4); decoded size limited by BRIDGE_MEDIA_MAX_BYTES.',
        },
        mimetype: {
          type: 'string',
          maxLength: 255,
          // Parameter values exclude control characters (CR, LF, NUL, DEL...):
          // the mimetype travels on into headers and file metadata.
          pattern: '^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(?: *; *[A-Za-z0-9!#$&^_.+-]+=[^;\\u0000-\\u001f\\u007f]+)*$',
          description: 'type/subtype, optionally with parameters, e.g. image/png or audio/ogg; codecs=opus. No control characters.',
        },
        filename: {
          type: 'string',
          minLength: 1,
          maxLength: 255,
          // No control characters either: the name travels on into a
          // Content-Disposition header and the recipient's file list.
          pattern: '^(?!\\.{1,2}$)[^/\\\\\\u0000-\\u001f\\u007f]+$',
          description: 'File name without path separators or control characters.',
        },
      },
    },
  },
};

const sendHeaders = {
  type: 'object',
  properties: {
    'idempotency-key': {
      type: 'string',
      minLength: 1,
      maxLength: 255,
      pattern: '^[A-Za-z0-9._:-]+$',
      description: 'Optional. Same key + same body within BRIDGE_IDEMPOTENCY_TTL_MS replays the stored result (the 201, or the 504 of a send whose outcome is unknown) instead of sending again.',
    },
  },
};

const sendResult = {
  type: 'object',
  required: ['id', 'to', 'ack'],
  properties: {
    id: { type: 'string', description: 'WhatsApp message id (serialized).' },
    to: { type: 'string', description: 'Chat id the message went to, e.g. 15551234567@c.us.' },
    ack: { type: 'string', enum: ACK_VALUES },
  },
};

const messageStatus = {
  type: 'object',
  required: ['id', 'to', 'ack', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    to: { type: 'string' },
    ack: { type: 'string', enum: ACK_VALUES },
    updatedAt: isoTime,
  },
};

const health = {
  type: 'object',
  required: ['status', 'state', 'ready', 'since', 'lastError', 'uptimeSeconds'],
  properties: {
    status: { type: 'string', enum: ['ok'] },
    state: sessionState,
    ready: { type: 'boolean' },
    since: isoTime,
    lastError: nullableText,
    uptimeSeconds: { type: 'number' },
  },
};

const session = {
  type: 'object',
  required: ['state', 'ready', 'since', 'lastError', 'qrPending'],
  properties: {
    state: sessionState,
    ready: { type: 'boolean' },
    since: isoTime,
    lastError: nullableText,
    qrPending: { type: 'boolean' },
    pacing: {
      type: 'object',
      description: 'The pacer: counters of the rolling windows, the caps in force, and whether (and why) sends are held.',
      required: ['enabled', 'sentLastHour', 'sentLast24h', 'hourlyCap', 'dailyCap', 'warmupDay', 'pausedUntil', 'pauseReason', 'riskPausedUntil'],
      properties: {
        enabled: { type: 'boolean', description: 'BRIDGE_PACING.' },
        sentLastHour: { type: 'integer', description: 'Sends that reached WhatsApp in the last 60 minutes.' },
        sentLast24h: { type: 'integer', description: 'Sends that reached WhatsApp in the last 24 hours.' },
        hourlyCap: { type: 'integer', nullable: true, description: 'BRIDGE_HOURLY_CAP; null when there is none.' },
        dailyCap: { type: 'integer', nullable: true, description: 'The daily cap in force now: BRIDGE_DAILY_CAP, or the warm-up day\'s cap when lower; null when there is none.' },
        warmupDay: { type: 'integer', nullable: true, description: 'Day of the warm-up (1 = BRIDGE_WARMUP_START; 0 before it); null without a warm-up.' },
        pausedUntil: { ...isoTime, nullable: true, description: 'When sends resume, while a cap or a risk pause holds them; null otherwise.' },
        pauseReason: { type: 'string', nullable: true, enum: [...PAUSE_REASONS, null], description: 'Why sends are held, with pausedUntil.' },
        riskPausedUntil: { ...isoTime, nullable: true, description: 'End of the pause after a risk signal (WhatsApp rate error, logged out by WhatsApp); null when none.' },
      },
    },
    info: {
      type: 'object',
      description: 'Present when READY.',
      properties: {
        wid: nullableText,
        pushname: nullableText,
        platform: nullableText,
        waState: { ...nullableText, description: 'Last connection state reported by the periodic getState() probe.' },
      },
    },
  },
};

const qr = {
  type: 'object',
  required: ['qr', 'dataUrl'],
  properties: {
    qr: { type: 'string', description: 'Raw QR payload.' },
    dataUrl: { type: 'string', description: 'data:image/png;base64,... rendering of the QR.' },
  },
};

/**
 * Body of action routes that take no input (logout, fake reset): no body at
 * all, or an empty JSON object. Anything else is a client bug worth a 400
 * rather than silently ignored input. fastify validates a missing body as
 * null, so the schema must admit null; routes/no-body.js refuses a literal
 * JSON `null`, which the schema cannot tell apart from "no body".
 */
const emptyBody = {
  type: 'object',
  nullable: true,
  additionalProperties: false,
  properties: {},
  description: 'No body, or an empty JSON object.',
};

module.exports = {
  emptyBody,
  errorBody,
  errors,
  sessionState,
  sendBody,
  sendHeaders,
  sendResult,
  messageStatus,
  health,
  session,
  qr,
};

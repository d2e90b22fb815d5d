'use strict';

const { BridgeError, validationError, tooManyRequests, notReady } = require('./errors');
const { errorText } = require('./gateways/base');
const { hashSendBody } = require('./idempotency-store');
const { parseRecipient } = require('./recipient');

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decoded byte length of a strict (RFC 4648, padded, no whitespace) base64
 * string, or -1 if it is not valid base64. Computed arithmetically so
 * oversized media can be rejected without allocating the decoded buffer.
 */
function decodedBase64Length(data) {
  if (typeof data !== 'string' || data.length === 0 || data.length % 4 !== 0 || !BASE64.test(data)) return -1;
  const padding = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
  return (data.length / 4) * 3 - padding;
}

/**
 * The POST /v1/messages use case, kept out of the route so its ordering rules
 * live in one place:
 *  1. content checks the JSON schema cannot express (400 / 413);
 *  2. Idempotency-Key claim (422 mismatch, 409 in flight, replay of a 201);
 *  3. readiness (503) and queue capacity (429 QUEUE_FULL) before enqueueing;
 *  4. in the queue: readiness again, then the gateway send, raced against
 *     BRIDGE_SEND_TIMEOUT_MS measured from the moment the job starts (504).
 * Idempotency bookkeeping is chained to the send itself, not to the HTTP
 * answer, so a send that finishes after a 504 still becomes a replayable 201
 * and a retry with the same key never sends twice.
 */
class SendService {
  constructor({ gateway, queue, idempotency, messages, sendTimeoutMs, mediaMaxBytes, logger, timers = globalThis }) {
    this._gateway = gateway;
    this._queue = queue;
    this._idempotency = idempotency;
    this._messages = messages;
    this._sendTimeoutMs = sendTimeoutMs;
    this._mediaMaxBytes = mediaMaxBytes;
    this._log = logger;
    this._timers = timers;
  }

  /**
   * Returns {statusCode, body, replay}; throws BridgeError for every non-2xx
   * outcome.
   */
  async send(body, idempotencyKey = null) {
    this._checkContent(body);
    parseRecipient(body.to);

    let record = null;
    if (idempotencyKey !== null && idempotencyKey !== undefined) {
      const claim = this._idempotency.begin(idempotencyKey, hashSendBody(body));
      if (claim.kind === 'mismatch') {
        throw new BridgeError(422, 'IDEMPOTENCY_KEY_MISMATCH', 'Idempotency-Key was already used with a different request body');
      }
      if (claim.kind === 'in_flight') {
        throw new BridgeError(409, 'IDEMPOTENCY_IN_FLIGHT', 'A request with this Idempotency-Key is still being processed');
      }
      if (claim.kind === 'replay') {
        return { statusCode: claim.response.statusCode, body: { ...claim.response.body }, replay: true };
      }
      record = claim.record;
    }

    const state = this._gateway.status().state;
    if (state !== 'READY') {
      if (record) this._idempotency.fail(record);
      throw notReady(state);
    }
    if (this._queue.isFull()) {
      if (record) this._idempotency.fail(record);
      throw tooManyRequests('QUEUE_FULL', 'Send queue is full; retry later', this._queue.retryAfterSeconds());
    }

    return new Promise((resolve, reject) => {
      let answered = false;
      let timer = null;
      const answer = (settle, value) => {
        if (answered) return;
        answered = true;
        if (timer) this._timers.clearTimeout(timer);
        settle(value);
      };

      const job = () => {
        timer = this._timers.setTimeout(() => {
          answer(reject, new BridgeError(504, 'SEND_TIMEOUT', `Send did not finish within ${this._sendTimeoutMs} ms; it may still be delivered`));
        }, this._sendTimeoutMs);

        const attempt = Promise.resolve().then(() => {
          if (!this._gateway.isReady()) throw notReady(this._gateway.status().state);
          return this._gateway.send({ to: body.to, text: body.text ?? null, media: body.media ?? null, idempotencyKey: idempotencyKey ?? null });
        });

        return attempt.then(
          (result) => {
            const response = { statusCode: 201, body: { id: result.id, to: result.to, ack: result.ack } };
            this._messages.add(result);
            if (record) this._idempotency.complete(record, response);
            if (answered) this._log.info({ event: 'late_send_completed', id: result.id }, 'send finished after its request timed out');
            answer(resolve, { ...response, body: { ...response.body }, replay: false });
          },
          (err) => {
            if (record) this._idempotency.fail(record);
            const bridgeError = err instanceof BridgeError ? err : new BridgeError(502, 'SEND_FAILED', errorText(err));
            if (answered) this._log.warn({ event: 'late_send_failed', code: bridgeError.code }, 'send failed after its request timed out');
            answer(reject, bridgeError);
            throw bridgeError;
          },
        );
      };

      try {
        this._queue.enqueue(job).catch(() => {});
      } catch (err) {
        if (record) this._idempotency.fail(record);
        answer(reject, tooManyRequests('QUEUE_FULL', 'Send queue is full; retry later', this._queue.retryAfterSeconds()));
      }
    });
  }

  _checkContent(body) {
    const hasText = typeof body.text === 'string';
    const hasMedia = body.media !== undefined && body.media !== null;
    if (!hasText && !hasMedia) {
      throw validationError('text', 'text is required: the body must contain at least one of text, media');
    }
    if (hasMedia) {
      const size = decodedBase64Length(body.media.data);
      if (size < 0) throw validationError('media.data', 'media.data must be valid base64 (standard alphabet, padded, no whitespace)');
      if (size > this._mediaMaxBytes) {
        throw new BridgeError(413, 'MEDIA_TOO_LARGE', `media is ${size} bytes after decoding; the limit is ${this._mediaMaxBytes} bytes`);
      }
    }
  }
}

module.exports = { SendService, decodedBase64Length };

'use strict';

const { BridgeError, validationError, tooManyRequests, notReady } = require('./errors');
const { errorText } = require('./gateways/base');
const { ErrorCode } = require('./error-codes');
const { SessionState } = require('./session-state');
const { hashSendBody } = require('./idempotency-store');
const { parseRecipient } = require('./recipient');
const { NO_METRICS, SENT } = require('./metrics');
const { Pacer, PauseReason } = require('./pacer');

/** A pacer that never holds anything back: pacing off. */
const NO_PACING = new Pacer({ enabled: false });

/** The words of a 429 RATE_LIMITED answer for each reason the pacer holds sends. */
const HOLD_TEXT = Object.freeze({
  [PauseReason.HOURLY_CAP]: (hold) => `the hourly cap of ${hold.limit} sends is reached (BRIDGE_HOURLY_CAP)`,
  [PauseReason.DAILY_CAP]: (hold) => `the daily cap of ${hold.limit} sends is reached (BRIDGE_DAILY_CAP)`,
  [PauseReason.WARMUP_CAP]: (hold) => `today's warm-up cap of ${hold.limit} sends is reached (BRIDGE_WARMUP_CAPS)`,
  [PauseReason.RATE_LIMITED]: () => 'sends are paused after WhatsApp answered with a rate limit (BRIDGE_RISK_PAUSE_MS)',
  [PauseReason.LOGGED_OUT]: () => 'sends are paused after WhatsApp logged the session out (BRIDGE_RISK_PAUSE_MS)',
});

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
 * 499-style rejection for a request whose client disconnected before its
 * send started. Nobody receives it (the socket is gone); it exists so the
 * request settles and the log says what happened.
 */
function clientGone() {
  return new BridgeError(499, ErrorCode.CLIENT_CLOSED_REQUEST, 'The client closed the connection before the send started; nothing was sent', {}, { paced: false });
}

/**
 * The POST /v1/messages use case, kept out of the route so its ordering rules
 * live in one place:
 *  1. content checks the JSON schema cannot express (400 / 413);
 *  2. Idempotency-Key claim (422 mismatch, replay of a stored 201 or 504);
 *     a key still in flight is waited for, up to BRIDGE_SEND_TIMEOUT_MS, and
 *     then claimed again: its stored answer is replayed, or a released key
 *     is sent anew; 409 only if the wait runs out;
 *  3. readiness (503), the pacer's caps and risk pause (429 RATE_LIMITED
 *     with the time sends resume) and queue capacity, by count and by media
 *     bytes (429 QUEUE_FULL), before enqueueing;
 *  4. in the queue: readiness and the pacer again, then the send is counted
 *     against the caps and handed to the gateway, raced against
 *     BRIDGE_SEND_TIMEOUT_MS measured from the moment the job starts (504).
 *     WhatsApp's own rate error pauses the pacer (a risk signal).
 *
 * Idempotency bookkeeping is chained to the send itself, not to the HTTP
 * answer, so a send that finishes after a 504 still becomes a replayable 201
 * and a retry with the same key never sends twice. A send that itself ends
 * in a 504 (the gateway's own sendMessage timeout) is just as ambiguous: the
 * message may be out. Its key is completed with that 504, which is replayed
 * for the TTL, instead of being released for a second attempt. Only outcomes
 * where nothing can have been sent release the key.
 *
 * `signal` aborts when the HTTP client disconnects. A send still waiting in
 * the queue is then dropped (slot freed, key released, nothing sent); a send
 * that already started runs to completion and is recorded as usual.
 *
 * `metrics` (metrics.js) is told how each send ended: SENT or the error code,
 * once per send, when the send itself ends (so a send that finishes after
 * its request's 504 counts as sent), or when it is refused before it could
 * start (NOT_READY, QUEUE_FULL, a client gone while queued); replays are
 * counted apart. Requests refused for their content or key (400, 413, 422,
 * 409) are not sends and only show in the HTTP request metrics.
 *
 * `atomically(fn)` is the store's (store.js): a sent message and its key's
 * stored answer are written as one transaction, one commit per send. If that
 * write fails after WhatsApp took the message, the request is still answered
 * at once: 502 SEND_UNCONFIRMED, kept as the key's answer (_sentButUnrecorded).
 */
class SendService {
  constructor({ gateway, queue, idempotency, messages, sendTimeoutMs, mediaMaxBytes, logger, timers = globalThis, metrics = NO_METRICS, pacer = NO_PACING, now = Date.now, atomically = (fn) => fn() }) {
    this._pacer = pacer;
    this._now = now;
    this._atomically = atomically;
    this._gateway = gateway;
    this._queue = queue;
    this._idempotency = idempotency;
    this._messages = messages;
    this._sendTimeoutMs = sendTimeoutMs;
    this._mediaMaxBytes = mediaMaxBytes;
    this._log = logger;
    this._timers = timers;
    this._metrics = metrics;
  }

  /**
   * Returns {statusCode, body, replay}; throws BridgeError for every non-2xx
   * outcome.
   */
  async send(body, idempotencyKey = null, { signal = null } = {}) {
    const mediaBytes = this._checkContent(body);
    parseRecipient(body.to);

    let record = null;
    if (idempotencyKey !== null && idempotencyKey !== undefined) {
      const claim = await this._claim(idempotencyKey, hashSendBody(body), signal);
      if (claim.kind === 'mismatch') {
        throw new BridgeError(422, ErrorCode.IDEMPOTENCY_KEY_MISMATCH, 'Idempotency-Key was already used with a different request body');
      }
      if (claim.kind === 'replay') {
        this._metrics.replayed(claim.response.statusCode);
        return { statusCode: claim.response.statusCode, body: structuredClone(claim.response.body), replay: true };
      }
      record = claim.record;
    }

    const state = this._gateway.status().state;
    if (state !== SessionState.READY) {
      if (record) this._idempotency.fail(record);
      this._metrics.sendFinished(ErrorCode.NOT_READY);
      throw notReady(state);
    }

    // A cap reached or a risk pause: refused before queueing, with the time
    // the window reopens, so the client falls back or pauses instead of
    // holding a connection open for hours.
    const hold = this._pacer.check();
    if (hold) {
      if (record) this._idempotency.fail(record);
      this._metrics.sendFinished(ErrorCode.RATE_LIMITED);
      throw this._held(hold);
    }

    // Capacity (count and media bytes) and a client that is already gone are
    // the queue's business: enqueue() refuses the first and drops the second.
    return new Promise((resolve, reject) => {
      let answered = false;
      let timer = null;
      const answer = (settle, value) => {
        if (answered) return;
        answered = true;
        if (timer) this._timers.clearTimeout(timer);
        settle(value);
      };

      let started = false;
      const job = () => {
        // The queue never starts a job whose signal aborted while it waited.
        started = true;
        timer = this._timers.setTimeout(() => {
          answer(reject, new BridgeError(504, ErrorCode.SEND_TIMEOUT, `Send did not finish within ${this._sendTimeoutMs} ms; it may still be delivered`));
        }, this._sendTimeoutMs);

        const attempt = Promise.resolve().then(() => {
          if (!this._gateway.isReady()) throw notReady(this._gateway.status().state);
          // Checked again at the start: sends queued before a cap was
          // reached must not go past it.
          const heldNow = this._pacer.check();
          if (heldNow) throw this._held(heldNow, { paced: false });
          this._pacer.recordSend();
          return this._gateway.send({ to: body.to, text: body.text ?? null, media: body.media ?? null, idempotencyKey: idempotencyKey ?? null });
        });

        return attempt.then(
          (result) => {
            const response = { statusCode: 201, body: { id: result.id, to: result.to, ack: result.ack } };
            // One write for both: the message and the key's stored answer.
            try {
              this._atomically(() => {
                this._messages.add(result);
                if (record) this._idempotency.complete(record, response);
              });
            } catch (storeError) {
              const unrecorded = this._sentButUnrecorded(result, record, storeError);
              if (answered) this._log.warn({ event: 'late_send_unrecorded', id: result.id }, 'send finished after its request timed out, and could not be recorded');
              answer(reject, unrecorded);
              return;
            }
            this._metrics.sendFinished(SENT);
            if (answered) this._log.info({ event: 'late_send_completed', id: result.id }, 'send finished after its request timed out');
            answer(resolve, { ...response, body: { ...response.body }, replay: false });
          },
          (err) => {
            let bridgeError = err instanceof BridgeError ? err : new BridgeError(502, ErrorCode.SEND_FAILED, errorText(err));
            if (bridgeError.code === ErrorCode.RATE_LIMITED && !bridgeError.extra.pauseReason) {
              bridgeError = this._whatsappPushedBack(bridgeError);
            }
            this._metrics.sendFinished(bridgeError.code);
            if (record && bridgeError.ambiguous) {
              this._idempotency.complete(record, { statusCode: bridgeError.statusCode, body: bridgeError.toBody() });
            } else if (record) {
              this._idempotency.fail(record);
            }
            if (answered) this._log.warn({ event: 'late_send_failed', code: bridgeError.code }, 'send failed after its request timed out');
            answer(reject, bridgeError);
            throw bridgeError;
          },
        );
      };

      try {
        this._queue.enqueue(job, { bytes: mediaBytes, signal }).catch((err) => {
          // A job that ran did its own bookkeeping; one that never ran was
          // abandoned by its client while waiting.
          if (started) return;
          if (record) this._idempotency.fail(record);
          this._metrics.sendFinished(ErrorCode.CLIENT_CLOSED_REQUEST);
          this._log.info({ event: 'send_abandoned', code: err && err.code }, 'client disconnected while the send was queued; nothing was sent');
          answer(reject, clientGone());
        });
      } catch (err) {
        if (record) this._idempotency.fail(record);
        this._metrics.sendFinished(ErrorCode.QUEUE_FULL);
        answer(reject, this._queueFull());
      }
    });
  }

  /**
   * Claim the key, waiting while another request holds it in flight. A client
   * that resumes after losing its first connection (its send still running)
   * then gets that send's answer, replayed, instead of a 409 that would leave
   * it not knowing whether the message went out. The wait is bounded by
   * BRIDGE_SEND_TIMEOUT_MS (then 409 IDEMPOTENCY_IN_FLIGHT, as before) and is
   * dropped if this request's own client goes away.
   */
  async _claim(key, bodyHash, signal) {
    let claim = this._idempotency.begin(key, bodyHash);
    if (claim.kind !== 'in_flight') return claim;

    let timer = null;
    let onAbort = null;
    const timedOut = new Promise((resolve) => {
      timer = this._timers.setTimeout(() => resolve('timeout'), this._sendTimeoutMs);
    });
    const aborted = new Promise((resolve) => {
      if (!signal) return;
      if (signal.aborted) resolve('aborted');
      onAbort = () => resolve('aborted');
      signal.addEventListener('abort', onAbort, { once: true });
    });
    this._log.debug({ event: 'idempotency_wait' }, 'waiting for the in-flight request with this Idempotency-Key');
    try {
      while (claim.kind === 'in_flight') {
        const outcome = await Promise.race([claim.record.settled.then(() => 'settled'), timedOut, aborted]);
        if (outcome === 'timeout') {
          this._log.info({ event: 'idempotency_wait_expired', waitedMs: this._sendTimeoutMs }, 'the in-flight request with this Idempotency-Key did not finish in time');
          throw new BridgeError(409, ErrorCode.IDEMPOTENCY_IN_FLIGHT, `A request with this Idempotency-Key is still being processed after waiting ${this._sendTimeoutMs} ms; retry later with the same key`);
        }
        if (outcome === 'aborted') throw clientGone();
        claim = this._idempotency.begin(key, bodyHash);
      }
      return claim;
    } finally {
      this._timers.clearTimeout(timer);
      if (signal && onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * WhatsApp took the message (it has an id) but the store could not write it
   * or its key's answer (disk full, database busy). The client cannot be told
   * 201 for a message the bridge will not know (no receipts, no replay), nor
   * that nothing was sent: the answer is the ambiguous 502 SEND_UNCONFIRMED,
   * which the Python provider reads as a TIMEOUT. The key is settled with
   * that answer, in memory when the disk still refuses (its row then stays
   * in flight on disk, which the next start answers SEND_OUTCOME_UNKNOWN),
   * so a retry is answered, never sent again, and no waiter hangs.
   */
  _sentButUnrecorded(result, record, storeError) {
    const error = new BridgeError(
      502,
      ErrorCode.SEND_UNCONFIRMED,
      `WhatsApp accepted the send (message id ${result.id}) but the bridge could not record it (${errorText(storeError)}); it was probably delivered and is not sent again with this Idempotency-Key`,
      {},
      { ambiguous: true },
    );
    this._log.error({ event: 'send_unrecorded', id: result.id, err: errorText(storeError) }, 'WhatsApp accepted a send that the bridge store could not record; answered 502 SEND_UNCONFIRMED');
    this._metrics.sendFinished(ErrorCode.SEND_UNCONFIRMED);
    if (record) {
      const written = this._idempotency.settleAmbiguous(record, { statusCode: error.statusCode, body: error.toBody() });
      if (!written) this._log.warn({ event: 'idempotency_answer_unwritten' }, 'the Idempotency-Key answer is kept in memory only; after a restart the key answers SEND_OUTCOME_UNKNOWN');
    }
    return error;
  }

  /**
   * WhatsApp's own rate error is a risk signal: every send is held for
   * BRIDGE_RISK_PAUSE_MS (or WhatsApp's Retry-After, if longer), and the
   * client is told that wait rather than WhatsApp's shorter one.
   */
  _whatsappPushedBack(bridgeError) {
    const retryAfterMs = (Number(bridgeError.extra.retryAfter) || 0) * 1000;
    const pause = this._pacer.pause(PauseReason.RATE_LIMITED, { atLeastMs: retryAfterMs });
    if (!pause) return bridgeError;
    this._log.warn({ event: 'pacing_paused', reason: pause.reason, pausedUntil: new Date(pause.until).toISOString() }, 'WhatsApp answered with a rate limit; sends are paused');
    return this._held({ reason: pause.reason, until: pause.until, limit: null });
  }

  /** 429 RATE_LIMITED for a pacer hold: Retry-After until it ends, and when that is. */
  _held(hold, { paced = true } = {}) {
    const waitSeconds = Math.max(1, Math.ceil((hold.until - this._now()) / 1000));
    const pausedUntil = new Date(hold.until).toISOString();
    const text = HOLD_TEXT[hold.reason] ? HOLD_TEXT[hold.reason](hold) : 'sends are paused';
    return new BridgeError(
      429,
      ErrorCode.RATE_LIMITED,
      `Not sent: ${text}; sends resume at ${pausedUntil}`,
      { retryAfter: waitSeconds, pausedUntil, pauseReason: hold.reason },
      { paced },
    );
  }

  _queueFull() {
    return tooManyRequests(ErrorCode.QUEUE_FULL, 'Send queue is full; retry later', this._queue.retryAfterSeconds());
  }

  /** Validates what the schema cannot; returns the decoded media size (0 without media). */
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
        throw new BridgeError(413, ErrorCode.MEDIA_TOO_LARGE, `media is ${size} bytes after decoding; the limit is ${this._mediaMaxBytes} bytes`);
      }
      return size;
    }
    return 0;
  }
}

module.exports = { SendService, decodedBase64Length };

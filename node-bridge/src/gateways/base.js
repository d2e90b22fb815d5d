'use strict';

const { EventEmitter } = require('node:events');
const { SessionState, SESSION_STATES } = require('../session-state');

const ACK_NAMES = Object.freeze({ '-1': 'ERROR', 0: 'PENDING', 1: 'SERVER', 2: 'DEVICE', 3: 'READ', 4: 'PLAYED' });

/** Names accepted wherever an ack is given by name. */
const ACK_VALUES = Object.freeze(['ERROR', 'PENDING', 'SERVER', 'DEVICE', 'READ', 'PLAYED']);

/**
 * whatsapp-web.js reports acks as numbers (MessageAck); the HTTP contract
 * uses names. Unknown numbers map to PENDING rather than failing a send.
 */
function ackName(ack) {
  const name = ACK_NAMES[String(ack)];
  return name || 'PENDING';
}

/**
 * Text for lastError from anything a library may throw or reject with;
 * whatsapp-web.js rejects with plain strings such as 'auth timeout'.
 */
function errorText(err) {
  if (err === undefined || err === null) return 'unknown error';
  if (typeof err === 'string') return err;
  if (err instanceof Error) return err.message || err.name || 'error';
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}

/**
 * Common state machine for gateways. Subclasses call `_setState()`; it only
 * records a transition (new `since`; `lastError` set to the given text, kept
 * otherwise, cleared on READY) when the state actually changes, which is what
 * makes duplicate library events harmless. Emits:
 *  - 'state' {state, since, lastError} on every transition,
 *  - 'ack'   {id, ack} when a sent message's delivery state changes.
 */
class BaseGateway extends EventEmitter {
  constructor({ now = Date.now } = {}) {
    super();
    this._now = now;
    this._state = SessionState.STARTING;
    this._since = now();
    this._lastError = null;
    this._qr = null;
    this._info = null;
    this._numberCache = null;
  }

  /** Snapshot for /health and /v1/session. */
  status() {
    return {
      state: this._state,
      since: new Date(this._since).toISOString(),
      lastError: this._lastError,
      qr: this._state === SessionState.QR ? this._qr : null,
      info: this._state === SessionState.READY && this._info ? { ...this._info } : null,
    };
  }

  /**
   * Answer getNumberId lookups from `cache` (store.js: durable with the
   * SQLite store) from now on. The services plugin hands every gateway the
   * app's cache, so a broadcast looks each number up once, and a resume,
   * even after a restart, not again.
   */
  useNumberCache(cache) {
    this._numberCache = cache;
  }

  /**
   * `lookup()` (getNumberId semantics: an id, or null for "not on
   * WhatsApp") for `digits`, through the number cache when there is one.
   * Only answers are cached; a lookup that throws (timeout, page trouble)
   * is asked again next time. Returns the serialized chat id or null.
   */
  async lookupNumberId(digits, lookup) {
    const cache = this._numberCache || null;
    if (cache) {
      const hit = cache.get(digits);
      if (hit !== undefined) return hit.chatId;
    }
    const numberId = await lookup();
    const chatId = !numberId ? null : typeof numberId === 'string' ? numberId : numberId._serialized;
    if (chatId !== null && (typeof chatId !== 'string' || chatId === '')) return numberId;
    if (cache) cache.put(digits, chatId);
    return chatId;
  }

  /** True when sends may be attempted. */
  isReady() {
    return this._state === SessionState.READY;
  }

  _setState(state, { error = null } = {}) {
    if (!SESSION_STATES.includes(state)) throw new Error(`unknown state ${state}`);
    if (state === this._state) {
      // Same state: keep `since`, but a new explicit error text is news.
      if (error !== null) this._lastError = errorText(error);
      return false;
    }
    this._state = state;
    this._since = this._now();
    // lastError explains the most recent trouble: it survives the
    // FAILED -> STARTING -> QR path of a restart and is cleared on READY.
    if (error !== null) this._lastError = errorText(error);
    else if (state === SessionState.READY) this._lastError = null;
    if (state !== SessionState.QR) this._qr = null;
    if (state !== SessionState.READY) this._info = null;
    this.emit('state', { state, since: new Date(this._since).toISOString(), lastError: this._lastError });
    return true;
  }
}

module.exports = { BaseGateway, ACK_VALUES, ackName, errorText };

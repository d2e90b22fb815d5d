'use strict';

const crypto = require('node:crypto');
const { setTimeout: sleepMs } = require('node:timers/promises');
const { BaseGateway } = require('./base');
const { BridgeError, tooManyRequests, notReady } = require('../errors');
const { ErrorCode } = require('../error-codes');
const { SessionState, SESSION_STATES } = require('../session-state');
const { parseRecipient, resolveChatId } = require('../recipient');
const { printQr: defaultPrintQr } = require('../qr');
const { MemorySentLog } = require('../store');

const OUTCOME_TYPES = Object.freeze(['rate_limited', 'send_failed', 'not_on_whatsapp', 'timeout', 'delay']);

/**
 * In-process stand-in for WhatsApp (BRIDGE_DRIVER=fake). It lets the Python
 * provider and this package's tests drive every branch of the HTTP contract
 * without a phone: it records what it "delivers", and a FIFO of scripted
 * outcomes (one consumed per send that reaches the gateway) forces rate
 * limits, failures, unknown numbers, timeouts and delays.
 *
 * The record of deliveries lives in a sent log (store.js) that the services
 * plugin replaces with the app store's (useSentLog): with the SQLite store
 * it is a table next to the idempotency keys, so it outlives a killed
 * bridge and a crash test can count every delivery across the restart. A
 * delivery is recorded before the send returns, as WhatsApp would have the
 * message by then. Each getNumberId that reached the fake (not answered
 * from the number cache) is counted in `lookups`.
 */
class FakeGateway extends BaseGateway {
  constructor({ sendTimeoutMs = 30000, now = Date.now, sleep = (ms) => sleepMs(ms), printQr = defaultPrintQr, maxSent = 10000 } = {}) {
    super({ now });
    this._sendTimeoutMs = sendTimeoutMs;
    this._sleep = sleep;
    this._printQr = printQr;
    this._sentLog = new MemorySentLog({ maxEntries: maxSent });
    this._lookups = [];
    this._script = [];
    this._unregistered = new Set();
  }

  /** Record deliveries in `sentLog` ({append, list, clear}) from now on. */
  useSentLog(sentLog) {
    this._sentLog = sentLog;
  }

  /** The fake is logged in from the start. */
  async start() {
    this._setState(SessionState.READY);
    this._info = { wid: '15550001111@c.us', pushname: 'Fake WhatsApp', platform: 'fake' };
  }

  async stop() {}

  /** Same lookup contract as whatsapp-web.js getNumberId: null if unknown. */
  async getNumberId(digits, outcome = null) {
    this._lookups.push(digits);
    if ((outcome && outcome.type === 'not_on_whatsapp') || this._unregistered.has(digits)) return null;
    return { server: 'c.us', user: digits, _serialized: `${digits}@c.us` };
  }

  /** Deliver (record) a message, honouring the next scripted outcome. */
  async send({ to, text = null, media = null, idempotencyKey = null }) {
    if (!this.isReady()) throw notReady(this._state);
    const outcome = this._script.shift() || { type: 'ok' };
    if (outcome.type === 'rate_limited') {
      throw tooManyRequests(ErrorCode.RATE_LIMITED, 'WhatsApp rate limit hit (scripted)', outcome.retryAfter);
    }
    if (outcome.type === 'send_failed') {
      throw new BridgeError(502, ErrorCode.SEND_FAILED, outcome.message || 'send failed (scripted)');
    }
    // A scripted not_on_whatsapp is about this one send only: it bypasses
    // the number cache, neither answered from it nor remembered in it.
    const lookup = (digits) => (outcome.type === 'not_on_whatsapp'
      ? this.getNumberId(digits, outcome)
      : this.lookupNumberId(digits, () => this.getNumberId(digits, outcome)));
    const chatId = await resolveChatId(parseRecipient(to), lookup);
    if (outcome.type === 'delay') {
      await this._sleep(outcome.ms);
      return this._deliver(chatId, text, media, idempotencyKey);
    }
    const result = this._deliver(chatId, text, media, idempotencyKey);
    if (outcome.type === 'timeout') await this._sleep(this._sendTimeoutMs + 100);
    return result;
  }

  /** Resets the fake session to a new QR, like a logged-out device. */
  async logout() {
    this.setState(SessionState.QR);
    return this.status();
  }

  /** Test control: force a state; QR gets a fresh code that is printed. */
  setState(state, error = null) {
    if (!SESSION_STATES.includes(state)) throw new Error(`unknown state ${state}`);
    if (state === SessionState.QR) {
      // Like a rotating WhatsApp QR: a repeated request swaps the code
      // without a state change.
      this._setState(SessionState.QR, { error });
      this._qr = `fake-qr:${crypto.randomBytes(12).toString('hex')}`;
      this._printQr(this._qr);
      return;
    }
    this._setState(state, { error });
    if (state === SessionState.READY && !this._info) {
      this._info = { wid: '15550001111@c.us', pushname: 'Fake WhatsApp', platform: 'fake' };
    }
  }

  /** Test control: append outcomes (validated by the route schema). */
  addOutcomes(outcomes) {
    for (const outcome of outcomes) {
      if (!OUTCOME_TYPES.includes(outcome.type)) throw new Error(`unknown outcome ${outcome.type}`);
      this._script.push({ ...outcome });
    }
    return this._script.length;
  }

  /** Test control: numbers getNumberId reports as not on WhatsApp. */
  addUnregistered(numbers) {
    for (const n of numbers) {
      const digits = String(n).replace(/^\+/, '').replace(/@c\.us$/, '');
      this._unregistered.add(digits);
      // The number left WhatsApp: a cached id for it is stale now.
      if (this._numberCache) this._numberCache.delete(digits);
    }
    return this._unregistered.size;
  }

  /** Test control: the digits of every getNumberId that reached the fake. */
  lookups() {
    return [...this._lookups];
  }

  /** Test control: simulate a delivery receipt for a delivered message. */
  emitAck(id, ack) {
    if (!this._sentLog.list().some((m) => m.id === id)) return false;
    this.emit('ack', { id, ack });
    return true;
  }

  /** Copies of everything delivered, oldest first. */
  sentMessages() {
    return this._sentLog.list();
  }

  /** Back to a fresh READY fake. */
  reset() {
    this._sentLog.clear();
    this._lookups = [];
    this._script = [];
    this._unregistered.clear();
    this.setState(SessionState.READY);
  }

  _deliver(chatId, text, media, idempotencyKey) {
    const id = `true_${chatId}_3EB0${crypto.randomBytes(8).toString('hex').toUpperCase()}`;
    let mediaInfo = null;
    if (media) {
      const bytes = Buffer.from(media.data, 'base64');
      mediaInfo = {
        filename: media.filename,
        mimetype: media.mimetype,
        size: bytes.length,
        sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
      };
    }
    this._sentLog.append({ id, to: chatId, text: text ?? null, media: mediaInfo, idempotencyKey: idempotencyKey ?? null, at: new Date(this._now()).toISOString() });
    return { id, to: chatId, ack: 'PENDING' };
  }
}

module.exports = { FakeGateway, OUTCOME_TYPES };

'use strict';

/**
 * Bounded record of messages this bridge sent, so clients can poll delivery
 * state via GET /v1/messages/:id. Map insertion order doubles as age order:
 * once `maxEntries` is exceeded the oldest entries are evicted.
 *
 * WhatsApp may report an ack before sendMessage() has returned the message id
 * to us, so acks for unknown ids are parked in a small bounded map and applied
 * when the message is added. Acks for messages we did not send (e.g. typed on
 * the phone) also land there and simply age out.
 */
class MessageStore {
  constructor({ maxEntries = 10000, maxEarlyAcks = 1000, now = Date.now } = {}) {
    this._maxEntries = maxEntries;
    this._maxEarlyAcks = maxEarlyAcks;
    this._now = now;
    this._messages = new Map();
    this._earlyAcks = new Map();
  }

  /** Record a sent message; an ack that arrived earlier wins over `ack`. */
  add({ id, to, ack }) {
    const early = this._earlyAcks.get(id);
    if (early !== undefined) this._earlyAcks.delete(id);
    const entry = { id, to, ack: early !== undefined ? early : ack, updatedAt: new Date(this._now()).toISOString() };
    this._messages.delete(id);
    this._messages.set(id, entry);
    while (this._messages.size > this._maxEntries) {
      this._messages.delete(this._messages.keys().next().value);
    }
    return { ...entry };
  }

  /** Apply an ack update (ack is a name such as 'SERVER'). */
  updateAck(id, ack) {
    const entry = this._messages.get(id);
    if (!entry) {
      this._earlyAcks.delete(id);
      this._earlyAcks.set(id, ack);
      while (this._earlyAcks.size > this._maxEarlyAcks) {
        this._earlyAcks.delete(this._earlyAcks.keys().next().value);
      }
      return false;
    }
    entry.ack = ack;
    entry.updatedAt = new Date(this._now()).toISOString();
    return true;
  }

  /** A copy of the entry, or null. */
  get(id) {
    const entry = this._messages.get(id);
    return entry ? { ...entry } : null;
  }

  get size() {
    return this._messages.size;
  }

  clear() {
    this._messages.clear();
    this._earlyAcks.clear();
  }
}

module.exports = { MessageStore };

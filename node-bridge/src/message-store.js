'use strict';

const { EventEmitter } = require('node:events');

/**
 * Order of the delivery states a message moves through. WhatsApp reports
 * them as separate events that can arrive out of order (a DEVICE after the
 * READ it precedes), so the current state only ever moves forward.
 */
const ACK_RANK = Object.freeze({ PENDING: 0, SERVER: 1, DEVICE: 2, READ: 3, PLAYED: 4 });

/**
 * The state a message is in after `incoming` arrives while it is in
 * `current`. A state never moves back (a late DEVICE does not undo READ);
 * ERROR replaces only PENDING and SERVER, because a message that reached the
 * recipient's device was delivered whatever fails afterwards; and a message
 * in ERROR that is then reported on the device (or read) was delivered after
 * all. Both stores use this one rule, so memory and SQLite agree.
 */
function nextAck(current, incoming) {
  if (incoming === current) return current;
  if (incoming === 'ERROR') return current === 'PENDING' || current === 'SERVER' ? 'ERROR' : current;
  if (current === 'ERROR') return ACK_RANK[incoming] >= ACK_RANK.DEVICE ? incoming : current;
  if (ACK_RANK[incoming] === undefined) return current;
  return ACK_RANK[incoming] > (ACK_RANK[current] ?? -1) ? incoming : current;
}

/**
 * Bounded in-memory record of messages this bridge sent (BRIDGE_STORE=memory),
 * so clients can poll delivery state via GET /v1/messages/:id and the batch
 * receipts route. Map insertion order doubles as age order: once
 * `maxEntries` is exceeded the oldest entries are evicted. Lost on restart;
 * store-sqlite.js is the durable twin with the same interface.
 *
 * Every ack a message reaches is kept with the time it first arrived
 * (`acks`), next to the current state (`ack`, see nextAck) and when that
 * last changed (`updatedAt`).
 *
 * WhatsApp may report an ack before sendMessage() has returned the message id
 * to us, so acks for unknown ids are parked in a small bounded map and applied
 * when the message is added. Acks for messages we did not send (e.g. typed on
 * the phone) also land there and simply age out.
 *
 * Emits 'ack' {id, to, ack, previous, at} once per change of a known
 * message's current state (also for a parked ack applied by add()), after the
 * change is stored: the hook for receipt webhooks.
 */
class MessageStore extends EventEmitter {
  constructor({ maxEntries = 10000, maxEarlyAcks = 1000, now = Date.now } = {}) {
    super();
    this._maxEntries = maxEntries;
    this._maxEarlyAcks = maxEarlyAcks;
    this._now = now;
    this._messages = new Map();
    this._earlyAcks = new Map();
  }

  /** Record a sent message; acks that arrived earlier are applied to it. */
  add({ id, to, ack }) {
    const at = this._now();
    const entry = { id, to, ack, sentAt: at, updatedAt: at, acks: { [ack]: at } };
    const early = this._earlyAcks.get(id) || [];
    this._earlyAcks.delete(id);
    const changes = [];
    for (const parked of early) {
      if (entry.acks[parked.ack] === undefined) entry.acks[parked.ack] = parked.at;
      const next = nextAck(entry.ack, parked.ack);
      if (next !== entry.ack) {
        changes.push({ previous: entry.ack, ack: next, at: parked.at });
        entry.ack = next;
        entry.updatedAt = parked.at;
      }
    }
    this._messages.delete(id);
    this._messages.set(id, entry);
    while (this._messages.size > this._maxEntries) {
      this._messages.delete(this._messages.keys().next().value);
    }
    for (const change of changes) this._emitChange(entry, change);
    return present(entry);
  }

  /** Apply an ack update (ack is a name such as 'SERVER'); false for an unknown id. */
  updateAck(id, ack) {
    const at = this._now();
    const entry = this._messages.get(id);
    if (!entry) {
      const parked = this._earlyAcks.get(id) || [];
      this._earlyAcks.delete(id);
      this._earlyAcks.set(id, [...parked, { ack, at }]);
      while (this._earlyAcks.size > this._maxEarlyAcks) {
        this._earlyAcks.delete(this._earlyAcks.keys().next().value);
      }
      return false;
    }
    if (entry.acks[ack] === undefined) entry.acks[ack] = at;
    const next = nextAck(entry.ack, ack);
    if (next !== entry.ack) {
      const previous = entry.ack;
      entry.ack = next;
      entry.updatedAt = at;
      this._emitChange(entry, { previous, ack: next, at });
    }
    return true;
  }

  /** A copy of the entry ({id, to, ack, updatedAt, sentAt, acks}), or null. */
  get(id) {
    const entry = this._messages.get(id);
    return entry ? present(entry) : null;
  }

  /** Entries for many ids, in the order given (null for an unknown id). */
  getMany(ids) {
    return ids.map((id) => this.get(id));
  }

  get size() {
    return this._messages.size;
  }

  clear() {
    this._messages.clear();
    this._earlyAcks.clear();
  }

  /** Nothing to release; here so both stores close the same way. */
  close() {}

  _emitChange(entry, { previous, ack, at }) {
    this.emit('ack', { id: entry.id, to: entry.to, ack, previous, at: new Date(at).toISOString() });
  }
}

/** The public shape of an entry: times as ISO strings, a fresh acks object. */
function present(entry) {
  const acks = {};
  for (const [ack, at] of Object.entries(entry.acks)) acks[ack] = new Date(at).toISOString();
  return {
    id: entry.id,
    to: entry.to,
    ack: entry.ack,
    updatedAt: new Date(entry.updatedAt).toISOString(),
    sentAt: new Date(entry.sentAt).toISOString(),
    acks,
  };
}

module.exports = { MessageStore, nextAck, ACK_RANK };

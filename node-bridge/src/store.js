'use strict';

const path = require('node:path');
const { IdempotencyStore } = require('./idempotency-store');
const { MessageStore } = require('./message-store');

/** File name of the durable store inside BRIDGE_DATA_DIR. */
const STORE_FILE = 'bridge-state.sqlite';

/**
 * Raised when the durable store cannot be opened (directory not writable,
 * file not a database, a schema from a newer bridge). The server entry
 * prints `message` as one line and exits 2, like a configuration error: it
 * is the operator's environment, not a bug.
 */
class StoreOpenError extends Error {
  constructor(message) {
    super(message);
    this.name = 'StoreOpenError';
  }
}

/**
 * Cache of getNumberId answers in memory, bounded by `maxEntries` (oldest
 * first out). `get(digits)` is undefined for a miss or an expired entry,
 * else `{chatId}` where chatId is null for "not on WhatsApp"; `put` keeps a
 * found id for `ttlMs` and a "not on WhatsApp" answer for `missTtlMs`.
 */
class MemoryNumberCache {
  constructor({ ttlMs, missTtlMs, now = Date.now, maxEntries = 100000 }) {
    this._ttlMs = ttlMs;
    this._missTtlMs = missTtlMs;
    this._now = now;
    this._maxEntries = maxEntries;
    this._entries = new Map();
  }

  get(digits) {
    const entry = this._entries.get(digits);
    if (!entry) return undefined;
    if (entry.expiresAt <= this._now()) {
      this._entries.delete(digits);
      return undefined;
    }
    return { chatId: entry.chatId };
  }

  put(digits, chatId) {
    const ttl = chatId === null ? this._missTtlMs : this._ttlMs;
    this._entries.delete(digits);
    if (ttl <= 0) return;
    this._entries.set(digits, { chatId, expiresAt: this._now() + ttl });
    while (this._entries.size > this._maxEntries) this._entries.delete(this._entries.keys().next().value);
  }

  delete(digits) {
    this._entries.delete(digits);
  }

  clear() {
    this._entries.clear();
  }
}

/** The fake driver's record of deliveries, in memory, newest `maxEntries` kept. */
class MemorySentLog {
  constructor({ maxEntries = 10000 } = {}) {
    this._maxEntries = maxEntries;
    this._entries = [];
  }

  append(entry) {
    this._entries.push(structuredClone(entry));
    if (this._entries.length > this._maxEntries) this._entries.shift();
  }

  list() {
    return this._entries.map((entry) => structuredClone(entry));
  }

  clear() {
    this._entries = [];
  }
}

/**
 * The bridge's state behind one object with four parts, whichever kind it is:
 *  - `idempotency`: Idempotency-Key records (IdempotencyStore's interface);
 *  - `messages`: sent messages and their acks (MessageStore's interface);
 *  - `numbers`: the getNumberId cache (MemoryNumberCache's interface);
 *  - `sentLog`: the fake driver's record of deliveries;
 * plus `kind` ('memory' or 'sqlite'), `path` (the database file or null),
 * `interrupted` (keys whose send was in progress when a previous process
 * died, now answered SEND_OUTCOME_UNKNOWN), `atomically(fn)` (runs `fn`'s
 * writes as one transaction: one commit instead of several), `sweep()` and
 * `close()`.
 */
function createMemoryStore({ config, now = Date.now }) {
  const idempotency = new IdempotencyStore({ ttlMs: config.idempotencyTtlMs, now });
  const messages = new MessageStore({ now });
  return {
    kind: 'memory',
    path: null,
    interrupted: 0,
    idempotency,
    messages,
    numbers: new MemoryNumberCache({ ttlMs: config.numberCacheTtlMs, missTtlMs: config.numberMissTtlMs, now }),
    sentLog: new MemorySentLog(),
    atomically: (fn) => fn(),
    sweep() {
      idempotency.sweep();
    },
    close() {
      idempotency.close();
      messages.close();
    },
  };
}

/**
 * Open the store BRIDGE_STORE asks for: SQLite in BRIDGE_DATA_DIR, or
 * memory. The SQLite module is loaded only when used, so a memory bridge
 * starts even where the native module could not be built.
 */
function openStore({ config, now = Date.now }) {
  if (config.store === 'memory') return createMemoryStore({ config, now });
  const { openSqliteStore } = require('./store-sqlite');
  return openSqliteStore({ file: path.join(config.dataDir, STORE_FILE), config, now });
}

module.exports = { openStore, createMemoryStore, MemoryNumberCache, MemorySentLog, StoreOpenError, STORE_FILE };

'use strict';

const crypto = require('node:crypto');

/** Strings are fed to the hash in slices of this many UTF-16 code units. */
const HASH_CHUNK = 1 << 20;

/**
 * Feed one optional string field into `hash` in an unambiguous framing:
 * a tag byte, the encoded byte length, a separator, then the bytes.
 * - 'N': absent or null (text and media are optional; both mean "none");
 * - 'U': well-formed string, UTF-8;
 * - 'W': string with lone surrogates, which UTF-8 would replace with U+FFFD
 *   (so two different texts could collide); hashed losslessly as UTF-16LE.
 * Length prefixes keep field boundaries unambiguous ('ab'+'c' vs 'a'+'bc').
 * Large strings (base64 media up to ~22 MB) are hashed in slices, so no full
 * encoded copy of the body is ever built.
 */
function updateField(hash, value) {
  if (value === undefined || value === null) {
    hash.update('N;');
    return;
  }
  const text = String(value);
  const encoding = text.isWellFormed() ? 'utf8' : 'utf16le';
  hash.update(`${encoding === 'utf8' ? 'U' : 'W'}${Buffer.byteLength(text, encoding)}:`);
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + HASH_CHUNK);
    // A slice must not end between the two halves of a surrogate pair, or
    // UTF-8 would encode each half as U+FFFD.
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end += 1;
    hash.update(text.slice(start, end), encoding);
    start = end;
  }
  hash.update(';');
}

/**
 * sha256 identifying a send: exactly the fields that define it (to, text,
 * media.data, media.mimetype, media.filename), in this fixed order, so key
 * order in the client's JSON and unrelated additions never change it. The
 * hash is computed incrementally over the fields rather than over a
 * canonical JSON copy of a body that can be tens of megabytes.
 */
function hashSendBody(body) {
  const hash = crypto.createHash('sha256');
  hash.update('send-v2;');
  updateField(hash, body.to);
  updateField(hash, body.text);
  const media = body.media;
  if (media === undefined || media === null) {
    hash.update('N;');
  } else {
    hash.update('M;');
    updateField(hash, media.data);
    updateField(hash, media.mimetype);
    updateField(hash, media.filename);
  }
  return hash.digest('hex');
}

/**
 * Cap on stored records. At the default pacing (one send per 1-1.5 s) a 24 h
 * TTL expires records long before 200 000 accumulate (at most ~86 400 a
 * day); the cap only bounds memory when pacing is turned off. A record costs
 * a few hundred bytes, so the cap is in the order of 100 MB at worst.
 */
const DEFAULT_MAX_ENTRIES = 200000;

/**
 * In-memory Idempotency-Key records. A record is in_flight while its send is
 * unresolved and done once its response is known: a 201, or a 504 when the
 * send's outcome is unknown (replaying the 504 keeps a retry from sending
 * twice). Failures where nothing was sent delete it so a retry can send. Records are owned by the caller that created them: complete() and
 * fail() only act if the stored record is still that same object, so a reset
 * or a newer record is never clobbered by a late-settling send.
 *
 * Expiry is TTL-based from the last transition. In-flight records never
 * expire (dropping one would let a retry double-send); done records are swept
 * lazily on access and by an unref'd timer, and the oldest done records are
 * evicted beyond `maxEntries` to bound memory.
 */
class IdempotencyStore {
  constructor({ ttlMs, now = Date.now, maxEntries = DEFAULT_MAX_ENTRIES, sweepIntervalMs = 60000, timers = globalThis } = {}) {
    this._ttlMs = ttlMs;
    this._now = now;
    this._maxEntries = maxEntries;
    this._records = new Map();
    this._timers = timers;
    this._sweepTimer = null;
    if (sweepIntervalMs > 0) {
      this._sweepTimer = timers.setInterval(() => this.sweep(), sweepIntervalMs);
      if (this._sweepTimer && typeof this._sweepTimer.unref === 'function') this._sweepTimer.unref();
    }
  }

  /**
   * Claim `key` for a body. Returns one of
   * {kind:'new', record} | {kind:'mismatch'} | {kind:'in_flight', record} |
   * {kind:'replay', response}. An in-flight record's `settled` promise
   * resolves once it is completed, released or cleared, so a second request
   * with the key can wait for the first one's outcome instead of giving up.
   */
  begin(key, bodyHash) {
    const existing = this._live(key);
    if (existing) {
      if (existing.bodyHash !== bodyHash) return { kind: 'mismatch' };
      if (existing.state === 'in_flight') return { kind: 'in_flight', record: existing };
      return { kind: 'replay', response: existing.response };
    }
    let settle = null;
    const settled = new Promise((resolve) => {
      settle = resolve;
    });
    const record = { key, bodyHash, state: 'in_flight', response: null, expiresAt: Infinity, settled, settle };
    this._records.set(key, record);
    this._evictIfNeeded();
    return { kind: 'new', record };
  }

  /** Mark a record done with the response to replay for the next TTL. */
  complete(record, response) {
    if (this._records.get(record.key) !== record) return false;
    record.settle();
    record.state = 'done';
    record.response = response;
    record.expiresAt = this._now() + this._ttlMs;
    // Re-insert so Map order reflects completion time for eviction.
    this._records.delete(record.key);
    this._records.set(record.key, record);
    return true;
  }

  /**
   * Settle `record` with an ambiguous `response` after its send reached
   * WhatsApp but could not be recorded (send-service.js): like complete(),
   * and also over a 201 that complete() stored inside the failed write.
   * Returns true: memory holds every answer it is given (store-sqlite.js
   * returns false when its disk refused).
   */
  settleAmbiguous(record, response) {
    if (this._records.get(record.key) !== record) return true;
    if (record.state === 'in_flight') return this.complete(record, response);
    record.response = response;
    return true;
  }

  /** Forget a record after a definitive failure so the client may retry. */
  fail(record) {
    if (this._records.get(record.key) !== record) return false;
    record.settle();
    this._records.delete(record.key);
    return true;
  }

  /** Number of stored records (in flight and done). */
  get size() {
    return this._records.size;
  }

  /** Remove expired done records. */
  sweep() {
    const now = this._now();
    for (const [key, record] of this._records) {
      if (record.state === 'done' && record.expiresAt <= now) this._records.delete(key);
    }
  }

  /** Drop everything (fake-mode reset). */
  clear() {
    // Whoever waits on a cleared record looks the key up again and finds it free.
    for (const record of this._records.values()) record.settle();
    this._records.clear();
  }

  /** Stop the sweep timer. */
  close() {
    if (this._sweepTimer) this._timers.clearInterval(this._sweepTimer);
    this._sweepTimer = null;
  }

  _live(key) {
    const record = this._records.get(key);
    if (!record) return null;
    if (record.state === 'done' && record.expiresAt <= this._now()) {
      this._records.delete(key);
      return null;
    }
    return record;
  }

  _evictIfNeeded() {
    if (this._records.size <= this._maxEntries) return;
    for (const [key, record] of this._records) {
      if (this._records.size <= this._maxEntries) break;
      if (record.state === 'done') this._records.delete(key);
    }
  }
}

module.exports = { IdempotencyStore, hashSendBody, DEFAULT_MAX_ENTRIES };

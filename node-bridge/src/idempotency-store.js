'use strict';

const crypto = require('node:crypto');

/**
 * JSON with object keys sorted at every level, so two bodies that differ only
 * in key order hash the same and a client's serializer cannot cause spurious
 * IDEMPOTENCY_KEY_MISMATCH answers.
 */
function canonicalJson(value) {
  if (value === null || typeof value !== 'object') return JSON.stringify(value === undefined ? null : value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
}

/**
 * sha256 over the canonical form of exactly the fields that define a send
 * (to, text, media), so unrelated additions never change the identity.
 */
function hashSendBody(body) {
  const relevant = { to: body.to, text: body.text ?? null, media: body.media ?? null };
  return crypto.createHash('sha256').update(canonicalJson(relevant)).digest('hex');
}

/**
 * In-memory Idempotency-Key records. A record is in_flight while its send is
 * unresolved and done once a 201 is known; failures delete it so a retry can
 * send. Records are owned by the caller that created them: complete() and
 * fail() only act if the stored record is still that same object, so a reset
 * or a newer record is never clobbered by a late-settling send.
 *
 * Expiry is TTL-based from the last transition. In-flight records never
 * expire (dropping one would let a retry double-send); done records are swept
 * lazily on access and by an unref'd timer, and the oldest done records are
 * evicted beyond `maxEntries` to bound memory.
 */
class IdempotencyStore {
  constructor({ ttlMs, now = Date.now, maxEntries = 50000, sweepIntervalMs = 60000, timers = globalThis } = {}) {
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
   * {kind:'new', record} | {kind:'mismatch'} | {kind:'in_flight'} |
   * {kind:'replay', response}.
   */
  begin(key, bodyHash) {
    const existing = this._live(key);
    if (existing) {
      if (existing.bodyHash !== bodyHash) return { kind: 'mismatch' };
      if (existing.state === 'in_flight') return { kind: 'in_flight' };
      return { kind: 'replay', response: existing.response };
    }
    const record = { key, bodyHash, state: 'in_flight', response: null, expiresAt: Infinity };
    this._records.set(key, record);
    this._evictIfNeeded();
    return { kind: 'new', record };
  }

  /** Mark a record done with the response to replay for the next TTL. */
  complete(record, response) {
    if (this._records.get(record.key) !== record) return false;
    record.state = 'done';
    record.response = response;
    record.expiresAt = this._now() + this._ttlMs;
    // Re-insert so Map order reflects completion time for eviction.
    this._records.delete(record.key);
    this._records.set(record.key, record);
    return true;
  }

  /** Forget a record after a definitive failure so the client may retry. */
  fail(record) {
    if (this._records.get(record.key) !== record) return false;
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

module.exports = { IdempotencyStore, hashSendBody, canonicalJson };

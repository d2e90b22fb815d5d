'use strict';

const { setTimeout: sleepMs } = require('node:timers/promises');
const { ErrorCode } = require('./error-codes');

/** Rejection for a job whose caller went away before it started. */
function abandonedError() {
  const err = new Error('the job was abandoned before it started');
  err.code = 'ABANDONED';
  err.paced = false;
  return err;
}

/**
 * Strictly serial job queue that paces WhatsApp sends. Sending in bursts is
 * the fastest way to get a number banned, so:
 *  - at most one job runs at a time;
 *  - after a job that touched WhatsApp ends, the next one may start only
 *    after `minIntervalMs + random(0..jitterMs)` has elapsed;
 *  - waiting + running jobs are capped at `maxSize`, and their declared
 *    `bytes` (decoded media sizes) at `maxBytes`, so callers get a fast
 *    QUEUE_FULL instead of unbounded latency or memory;
 *  - with `maxWaitMs`, a job that could wait longer than that before it
 *    starts (every job ahead costing a full gap, `minIntervalMs + jitterMs`,
 *    plus an average send) is refused the same way: with the long random
 *    gaps of account-protecting pacing, a client with a few requests in
 *    flight would otherwise give up (its read timeout) while its request
 *    still waits, and be left not knowing whether it was sent.
 *
 * A job is a function returning a promise; the queue waits for that promise
 * to settle (even after the HTTP caller has given up on it) before pacing and
 * starting the next one. A job that rejects with `paced === false` made no
 * WhatsApp call, so no gap is owed after it. A job enqueued with an
 * AbortSignal that aborts while it is still waiting is removed at once (its
 * slot and bytes are freed, it never runs, no gap is owed) and its promise
 * rejects with `code === 'ABANDONED'`; once running, a job is never
 * interrupted.
 *
 * Durations of jobs that touched WhatsApp feed an exponentially weighted
 * moving average used for the Retry-After estimate. `onJobStart(waitedMs)`
 * is told how long each job waited before it started (the metrics' queue
 * wait histogram); abandoned jobs never start and are not reported. Clock,
 * sleep and randomness are injectable for tests.
 */
class SendQueue {
  constructor({
    minIntervalMs = 0,
    jitterMs = 0,
    maxSize = 100,
    maxBytes = Infinity,
    maxWaitMs = 0,
    initialSendEstimateMs = 0,
    averageWeight = 0.2,
    now = Date.now,
    sleep = (ms) => sleepMs(ms),
    random = Math.random,
    onJobStart = () => {},
  } = {}) {
    this._minIntervalMs = minIntervalMs;
    this._jitterMs = jitterMs;
    this._maxSize = maxSize;
    this._maxBytes = maxBytes;
    this._maxWaitMs = maxWaitMs;
    this._averageSendMs = initialSendEstimateMs;
    this._averageWeight = averageWeight;
    this._now = now;
    this._sleep = sleep;
    this._random = random;
    this._onJobStart = onJobStart;
    this._waiting = [];
    this._active = null;
    this._bytes = 0;
    this._draining = false;
    this._nextStartAt = 0;
  }

  /** Waiting plus running jobs. */
  get size() {
    return this._waiting.length + (this._active ? 1 : 0);
  }

  /** Declared bytes of waiting plus running jobs. */
  get bytes() {
    return this._bytes;
  }

  /** Current moving average of send durations, in ms. */
  get averageSendMs() {
    return this._averageSendMs;
  }

  /**
   * The longest a job enqueued now could wait before it starts: what is
   * left of the current gap, then for every job ahead a whole gap at its
   * longest and an average send.
   */
  worstWaitMs() {
    const gapLeft = this.size === 0 ? Math.max(0, this._nextStartAt - this._now()) : 0;
    const perJobMs = this._minIntervalMs + this._jitterMs + this._averageSendMs;
    return gapLeft + this.size * perJobMs;
  }

  /** True when a job declaring `bytes` would exceed a cap (count, bytes, wait). */
  isFull(bytes = 0) {
    if (this.size >= this._maxSize || this._bytes + bytes > this._maxBytes) return true;
    return this._maxWaitMs > 0 && this.worstWaitMs() > this._maxWaitMs;
  }

  /**
   * Seconds a client should wait before retrying after QUEUE_FULL: every job
   * in the queue still costs a pacing gap (interval plus average jitter) and
   * an average send, so ceil(size x (interval + jitter/2 + average) / 1000),
   * at least 1.
   */
  retryAfterSeconds() {
    const perJobMs = this._minIntervalMs + this._jitterMs / 2 + this._averageSendMs;
    return Math.max(1, Math.ceil((this.size * perJobMs) / 1000));
  }

  /**
   * Add a job. Resolves/rejects with the job's own result. Throws
   * synchronously with `code` ErrorCode.QUEUE_FULL when a cap would be exceeded,
   * so the caller decides how to answer.
   */
  enqueue(job, { bytes = 0, signal = null } = {}) {
    if (this.isFull(bytes)) {
      const err = new Error('send queue is full');
      err.code = ErrorCode.QUEUE_FULL;
      throw err;
    }
    if (signal && signal.aborted) return Promise.reject(abandonedError());
    return new Promise((resolve, reject) => {
      const item = { job, resolve, reject, bytes, signal, onAbort: null, enqueuedAt: this._now() };
      if (signal) {
        item.onAbort = () => this._abandon(item);
        signal.addEventListener('abort', item.onAbort, { once: true });
      }
      this._waiting.push(item);
      this._bytes += bytes;
      this._drain();
    });
  }

  _abandon(item) {
    const index = this._waiting.indexOf(item);
    if (index < 0) return; // already running: it finishes normally
    this._waiting.splice(index, 1);
    this._bytes -= item.bytes;
    item.reject(abandonedError());
  }

  _gapMs() {
    const jitter = this._jitterMs > 0 ? Math.floor(this._random() * (this._jitterMs + 1)) : 0;
    return this._minIntervalMs + jitter;
  }

  _recordDuration(ms) {
    this._averageSendMs += this._averageWeight * (Math.max(0, ms) - this._averageSendMs);
  }

  async _drain() {
    if (this._draining) return;
    this._draining = true;
    try {
      while (this._waiting.length > 0) {
        const wait = this._nextStartAt - this._now();
        if (wait > 0) await this._sleep(wait);
        // Jobs may have been abandoned while we slept.
        const item = this._waiting.shift();
        if (!item) break;
        if (item.signal) item.signal.removeEventListener('abort', item.onAbort);
        this._active = item;
        const startedAt = this._now();
        this._onJobStart(startedAt - item.enqueuedAt);
        let paced = true;
        try {
          item.resolve(await item.job());
        } catch (err) {
          if (err && err.paced === false) paced = false;
          item.reject(err);
        } finally {
          this._active = null;
          this._bytes -= item.bytes;
        }
        if (paced) {
          this._recordDuration(this._now() - startedAt);
          this._nextStartAt = this._now() + this._gapMs();
        }
      }
    } finally {
      this._draining = false;
    }
  }
}

module.exports = { SendQueue };

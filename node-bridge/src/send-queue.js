'use strict';

const { setTimeout: sleepMs } = require('node:timers/promises');

/**
 * Strictly serial job queue that paces WhatsApp sends. Sending in bursts is
 * the fastest way to get a number banned, so:
 *  - at most one job runs at a time;
 *  - after a job that touched WhatsApp ends, the next one may start only
 *    after `minIntervalMs + random(0..jitterMs)` has elapsed;
 *  - waiting + running jobs are capped at `maxSize` so callers get a fast
 *    QUEUE_FULL instead of unbounded latency.
 *
 * A job is a function returning a promise; the queue waits for that promise
 * to settle (even after the HTTP caller has given up on it) before pacing and
 * starting the next one. A job that rejects with `paced === false` made no
 * WhatsApp call, so no gap is owed after it. Clock, sleep and randomness are
 * injectable for tests.
 */
class SendQueue {
  constructor({ minIntervalMs = 0, jitterMs = 0, maxSize = 100, now = Date.now, sleep = (ms) => sleepMs(ms), random = Math.random } = {}) {
    this._minIntervalMs = minIntervalMs;
    this._jitterMs = jitterMs;
    this._maxSize = maxSize;
    this._now = now;
    this._sleep = sleep;
    this._random = random;
    this._waiting = [];
    this._active = false;
    this._draining = false;
    this._nextStartAt = 0;
  }

  /** Waiting plus running jobs. */
  get size() {
    return this._waiting.length + (this._active ? 1 : 0);
  }

  /** True when another job would exceed the cap. */
  isFull() {
    return this.size >= this._maxSize;
  }

  /**
   * Seconds a client should wait before retrying after QUEUE_FULL: the time
   * to work through the current backlog at the average pace, at least 1.
   */
  retryAfterSeconds() {
    const perJobMs = this._minIntervalMs + this._jitterMs / 2;
    const backlogMs = Math.max(0, this._nextStartAt - this._now()) + this.size * perJobMs;
    return Math.max(1, Math.ceil(backlogMs / 1000));
  }

  /**
   * Add a job. Resolves/rejects with the job's own result. Throws
   * synchronously with `code === 'QUEUE_FULL'` when the cap is reached, so the
   * caller decides how to answer.
   */
  enqueue(job) {
    if (this.isFull()) {
      const err = new Error('send queue is full');
      err.code = 'QUEUE_FULL';
      throw err;
    }
    return new Promise((resolve, reject) => {
      this._waiting.push({ job, resolve, reject });
      this._drain();
    });
  }

  _gapMs() {
    const jitter = this._jitterMs > 0 ? Math.floor(this._random() * (this._jitterMs + 1)) : 0;
    return this._minIntervalMs + jitter;
  }

  async _drain() {
    if (this._draining) return;
    this._draining = true;
    try {
      while (this._waiting.length > 0) {
        const wait = this._nextStartAt - this._now();
        if (wait > 0) await this._sleep(wait);
        const item = this._waiting.shift();
        this._active = true;
        let paced = true;
        try {
          item.resolve(await item.job());
        } catch (err) {
          if (err && err.paced === false) paced = false;
          item.reject(err);
        } finally {
          this._active = false;
        }
        if (paced) this._nextStartAt = this._now() + this._gapMs();
      }
    } finally {
      this._draining = false;
    }
  }
}

module.exports = { SendQueue };

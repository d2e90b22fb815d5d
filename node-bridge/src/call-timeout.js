'use strict';

/** Rejection used when a bounded call does not settle in time. */
class CallTimeoutError extends Error {
  constructor(label, ms) {
    super(`${label} timed out after ${ms} ms`);
    this.name = 'CallTimeoutError';
    this.label = label;
  }
}

/**
 * Settle with `promise`, or reject with CallTimeoutError after `ms`. The
 * original promise keeps running (JavaScript cannot cancel it) but its outcome
 * is always observed, so a late rejection never becomes an unhandled one.
 * `timers` is injectable ({setTimeout, clearTimeout}) for deterministic tests.
 */
function withTimeout(promise, ms, label, timers = globalThis) {
  return new Promise((resolve, reject) => {
    const timer = timers.setTimeout(() => reject(new CallTimeoutError(label, ms)), ms);
    promise.then(
      (value) => {
        timers.clearTimeout(timer);
        resolve(value);
      },
      (err) => {
        timers.clearTimeout(timer);
        reject(err);
      },
    );
  });
}

module.exports = { CallTimeoutError, withTimeout };

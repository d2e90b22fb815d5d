'use strict';

/**
 * A promise chain that runs async sections one after another. The gateway's
 * lifecycle operations (start, stop, logout, restart, failure clean-up) all
 * replace or destroy the current client; interleaving them at their `await`
 * points is what used to leave two browsers alive or relaunch after a stop.
 * Running them through one SerialLock makes each section see the state the
 * previous one left behind.
 *
 * A section must never wait for another section of the same lock (that would
 * deadlock); it may queue one and return without awaiting it. A failing
 * section rejects only its own caller; the chain continues.
 */
class SerialLock {
  constructor() {
    this._tail = Promise.resolve();
    this._pending = 0;
  }

  /** Run `fn` after every section queued before it; resolves with its result. */
  run(fn) {
    this._pending += 1;
    const result = this._tail.then(() => fn());
    this._tail = result.then(
      () => { this._pending -= 1; },
      () => { this._pending -= 1; },
    );
    return result;
  }

  /** Sections queued or running (for diagnostics and tests). */
  get pending() {
    return this._pending;
  }
}

module.exports = { SerialLock };

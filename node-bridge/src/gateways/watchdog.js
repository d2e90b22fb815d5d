'use strict';

const { errorText } = require('./base');

/**
 * Periodic liveness probe for a READY session. whatsapp-web.js does not
 * always notice a page that stopped responding, so the gateway probes it
 * (client.getState()) every `intervalMs`. Each result is reported through
 * `onResult`; after `maxFailures` consecutive failures `onGiveUp(err)` is
 * called once and the watchdog stops. Probes never overlap: the next one is
 * armed only after the previous one settled. Timers are unref'd so the probe
 * never keeps the process alive by itself.
 */
class Watchdog {
  constructor({ intervalMs, maxFailures, probe, onResult, onGiveUp, logger, timers = globalThis }) {
    this._intervalMs = intervalMs;
    this._maxFailures = maxFailures;
    this._probe = probe;
    this._onResult = onResult;
    this._onGiveUp = onGiveUp;
    this._log = logger;
    this._timers = timers;
    this._timer = null;
    this._failures = 0;
    this._running = false;
  }

  start() {
    if (!(this._intervalMs > 0)) return;
    this._running = true;
    this._failures = 0;
    this._arm();
  }

  stop() {
    this._running = false;
    if (this._timer) this._timers.clearTimeout(this._timer);
    this._timer = null;
  }

  _arm() {
    this._timer = this._timers.setTimeout(() => this._tick(), this._intervalMs);
    if (this._timer && typeof this._timer.unref === 'function') this._timer.unref();
  }

  async _tick() {
    this._timer = null;
    if (!this._running) return;
    try {
      const result = await this._probe();
      this._failures = 0;
      if (this._running) this._onResult(result);
    } catch (err) {
      if (!this._running) return;
      this._failures += 1;
      this._log.warn({ event: 'watchdog_failed', failures: this._failures, error: errorText(err) }, 'getState probe failed');
      if (this._failures >= this._maxFailures) {
        this.stop();
        await this._onGiveUp(err);
        return;
      }
    }
    if (this._running) this._arm();
  }
}

module.exports = { Watchdog };

'use strict';

const { errorText } = require('./base');
const { Watchdog } = require('./watchdog');
const { SessionState } = require('../session-state');

/**
 * Liveness guards for the gateway's current whatsapp-web.js client. Each one
 * turns a silent failure into a call to `onFail(client, state, reason)`:
 *  - browser watch: Chromium's `disconnected` (crash, OOM kill) at any stage,
 *    including while a QR is shown, where whatsapp-web.js itself emits
 *    nothing;
 *  - auth timeout: a session that reaches AUTHENTICATED but never READY
 *    (whatsapp-web.js is known to stall there);
 *  - getState watchdog: a READY page that stopped answering.
 * `onFail` is expected to ignore clients that are no longer current, so a
 * guard firing late for an abandoned client is harmless. Timers are
 * injectable and unref'd.
 */
class ClientGuards {
  constructor({ onFail, call, timers, logger, authTimeoutMs, watchdogIntervalMs, watchdogMaxFailures }) {
    this._onFail = onFail;
    this._call = call;
    this._timers = timers;
    this._log = logger;
    this._authTimeoutMs = authTimeoutMs;
    this._watchdogIntervalMs = watchdogIntervalMs;
    this._watchdogMaxFailures = watchdogMaxFailures;
    this._watchedBrowsers = new WeakSet();
    this._authTimer = null;
    this._watchdog = null;
  }

  /**
   * Arm the browser watch once per browser. whatsapp-web.js assigns
   * `pupBrowser` inside initialize() without an event, before WhatsApp Web
   * loads; the gateway calls this on every qr/authenticated/ready event and
   * when initialize() resolves, the earliest points where it is visible.
   * (A crash before that makes initialize() itself reject.)
   */
  watchBrowser(client) {
    const browser = client.pupBrowser;
    if (!browser || typeof browser.once !== 'function' || this._watchedBrowsers.has(browser)) return;
    this._watchedBrowsers.add(browser);
    browser.once('disconnected', () => this._onFail(client, SessionState.DISCONNECTED, 'browser disconnected'));
    if (typeof browser.isConnected === 'function' && !browser.isConnected()) {
      this._onFail(client, SessionState.DISCONNECTED, 'browser disconnected');
    }
  }

  /** Start the AUTHENTICATED deadline; `stillAuthenticating()` re-checks when it fires. */
  armAuthTimeout(client, stillAuthenticating) {
    this.clearAuthTimeout();
    if (!(this._authTimeoutMs > 0)) return;
    const ms = this._authTimeoutMs;
    this._authTimer = this._timers.setTimeout(() => {
      this._authTimer = null;
      if (stillAuthenticating()) this._onFail(client, SessionState.FAILED, `stuck in AUTHENTICATED for ${ms} ms; WhatsApp Web never became ready`);
    }, ms);
    if (this._authTimer && typeof this._authTimer.unref === 'function') this._authTimer.unref();
  }

  clearAuthTimeout() {
    if (this._authTimer) this._timers.clearTimeout(this._authTimer);
    this._authTimer = null;
  }

  /** Probe a READY client with getState(); `onResult` receives each answer. */
  startWatchdog(client, onResult) {
    this.stopWatchdog();
    if (typeof client.getState !== 'function') return;
    this._watchdog = new Watchdog({
      intervalMs: this._watchdogIntervalMs,
      maxFailures: this._watchdogMaxFailures,
      timers: this._timers,
      logger: this._log,
      probe: () => this._call('getState', () => client.getState()),
      onResult,
      onGiveUp: (err) => this._onFail(client, SessionState.DISCONNECTED, `session probe failed: ${errorText(err)}`),
    });
    this._watchdog.start();
  }

  stopWatchdog() {
    if (this._watchdog) this._watchdog.stop();
    this._watchdog = null;
  }

  /** Disarm the timers (the browser watch is per browser and needs no reset). */
  clear() {
    this.stopWatchdog();
    this.clearAuthTimeout();
  }
}

module.exports = { ClientGuards };

'use strict';

const { BaseGateway, ackName, errorText } = require('./base');
const { ClientGuards } = require('./client-guards');
const { SerialLock } = require('./serial-lock');
const { sendViaClient } = require('./wwebjs-send');
const { CHROMIUM_ARGS, DEFAULT_CALL_TIMEOUTS, PUPPETEER_SIGNAL_OPTIONS, createWwebjsClient, createWwebjsMedia, describeInfo, destroyClient, logoutClient } = require('./wwebjs-client');
const { notReady } = require('../errors');
const { SessionState } = require('../session-state');
const { CallTimeoutError, withTimeout } = require('../call-timeout');
const { printQr: defaultPrintQr } = require('../qr');

const NOOP_LOGGER = { info() {}, warn() {}, error() {}, debug() {} };

/**
 * Gateway over a real whatsapp-web.js Client. It owns the client's
 * lifecycle: maps library events onto the shared state machine, restarts
 * after failures with exponential backoff (2 s doubling to 60 s, reset once
 * READY), makes sure a failed or abandoned client's browser is destroyed,
 * and probes a READY session with getState() so a silently dead page is
 * noticed. The client factory, timers and per-call timeouts are injectable so
 * all of this is testable without Chromium.
 *
 * Invariants:
 *  - start, stop, logout, scheduled restarts and failure clean-up run one at
 *    a time through `_lock`, and `_launch` destroys any client it replaces,
 *    so at most one client (and browser) is ever alive;
 *  - events from a client that has been replaced or destroyed are ignored by
 *    identity, so late callbacks can never move the state of the current one;
 *  - the browser's `disconnected` event is watched from the first moment the
 *    client exposes its browser, not only once READY, so a Chromium crash
 *    while a QR is shown (or during sync) is noticed and restarted;
 *  - a session stuck in AUTHENTICATED for `authTimeoutMs` is restarted
 *    (whatsapp-web.js is known to stall there without any event).
 */
class WwebjsGateway extends BaseGateway {
  constructor({
    dataDir = './.wwebjs_auth',
    chromiumPath = '/usr/bin/chromium',
    createClient = createWwebjsClient,
    createMedia = createWwebjsMedia,
    printQr = defaultPrintQr,
    logger = NOOP_LOGGER,
    timers = globalThis,
    now = Date.now,
    callTimeouts = {},
    backoffInitialMs = 2000,
    backoffMaxMs = 60000,
    watchdogIntervalMs = 60000,
    watchdogMaxFailures = 3,
    authTimeoutMs = 180000,
  } = {}) {
    super({ now });
    this._dataDir = dataDir;
    this._chromiumPath = chromiumPath;
    this._createClient = createClient;
    this._createMedia = createMedia;
    this._printQr = printQr;
    this._log = logger;
    this._timers = timers;
    this._callTimeouts = { ...DEFAULT_CALL_TIMEOUTS, ...callTimeouts };
    this._backoffInitialMs = backoffInitialMs;
    this._backoffMaxMs = backoffMaxMs;
    this._backoffMs = backoffInitialMs;
    this._guards = new ClientGuards({
      onFail: (client, state, reason) => this._failAndRestart(client, state, reason),
      call: (label, fn) => this._call(label, fn),
      timers,
      logger,
      authTimeoutMs,
      watchdogIntervalMs,
      watchdogMaxFailures,
    });
    this._client = null;
    this._restartTimer = null;
    this._stopped = true;
    this._lock = new SerialLock();
    this._logoutPromise = null;
  }

  /** Launch the client; resolves once it was created, progress is reported via state. */
  start() {
    return this._lock.run(async () => {
      if (!this._stopped) return;
      this._stopped = false;
      await this._launch();
    });
  }

  /**
   * Cancel pending restarts and destroy the client (and its browser). The
   * state leaves READY at once, so /health and sends stop treating the
   * session as usable while the browser is being closed. Both parts are
   * repeated under the lock because a start() queued before this stop() may
   * have run in between.
   */
  stop() {
    const halt = () => {
      this._stopped = true;
      this._cancelRestart();
      this._setState(SessionState.DISCONNECTED, { error: 'stopping' });
    };
    halt();
    return this._lock.run(async () => {
      halt();
      const client = this._release();
      if (client) await this._destroy(client);
    });
  }

  /** Delay the next restart will wait (exposed for diagnostics and tests). */
  get nextBackoffMs() {
    return this._backoffMs;
  }

  /** Send text or media to a number (looked up first) or a group id. */
  async send({ to, text = null, media = null }) {
    const client = this._client;
    if (!client || !this.isReady()) throw notReady(this._state);
    return sendViaClient({
      client,
      call: (label, fn) => this._call(label, fn),
      createMedia: this._createMedia,
      to,
      text,
      media,
      lookupNumberId: (digits, lookup) => this.lookupNumberId(digits, lookup),
    });
  }

  /**
   * Log the WhatsApp session out (unlinks this device), then start a fresh
   * client so a new QR appears. If the remote logout fails, the local session
   * data is removed anyway, so the next start cannot silently log back in.
   * Concurrent calls share one logout: the second caller wants exactly what
   * the first one is already doing, and a second round would only unlink and
   * relaunch the brand-new client.
   */
  logout() {
    if (this._logoutPromise) return this._logoutPromise;
    if (!this._stopped) this._setState(SessionState.DISCONNECTED, { error: 'logging out' });
    const run = this._lock.run(() => this._logoutLocked());
    this._logoutPromise = run;
    const clear = () => { if (this._logoutPromise === run) this._logoutPromise = null; };
    run.then(clear, clear);
    return run;
  }

  async _logoutLocked() {
    this._cancelRestart();
    const client = this._release();
    if (client) await logoutClient(client, { call: (label, fn) => this._call(label, fn), logger: this._log });
    this._backoffMs = this._backoffInitialMs;
    await this._launch();
    return this.status();
  }

  /** Create and initialize a new client. Only called under `_lock`. */
  async _launch() {
    const previous = this._release();
    if (previous) await this._destroy(previous);
    if (this._stopped) return;
    let client;
    try {
      client = this._createClient({ dataDir: this._dataDir, chromiumPath: this._chromiumPath });
    } catch (err) {
      this._setState(SessionState.FAILED, { error: `could not create client: ${errorText(err)}` });
      this._scheduleRestart();
      return;
    }
    this._client = client;
    this._setState(SessionState.STARTING);
    this._attach(client);
    this._log.info({ event: 'client_starting' }, 'starting WhatsApp client');
    const init = Promise.resolve().then(() => client.initialize());
    this._withTimeout('initialize', init).then(
      () => {
        this._log.debug({ event: 'client_initialized' }, 'client initialize() resolved');
        if (client === this._client) this._guards.watchBrowser(client);
      },
      (err) => {
        // A timed-out initialize may still launch a browser later: destroy it
        // once the original promise settles, since nobody owns it any more.
        if (err instanceof CallTimeoutError) {
          init.then(() => this._destroyIfAbandoned(client), () => this._destroyIfAbandoned(client));
        }
        return this._failAndRestart(client, SessionState.FAILED, err);
      },
    );
  }

  _attach(client) {
    const current = () => client === this._client && !this._stopped;
    // Arming the browser watch may fail the client on the spot (its browser
    // is already gone), so handlers re-check before acting on the event.
    const watchedAndCurrent = () => {
      this._guards.watchBrowser(client);
      return current();
    };
    client.on('qr', (qr) => {
      if (!current() || !watchedAndCurrent()) return;
      if (this._state === SessionState.QR && this._qr === qr) return;
      this._setState(SessionState.QR);
      this._qr = String(qr);
      this._log.info({ event: 'qr' }, 'new login QR code (printed to stderr, also at GET /v1/session/qr)');
      this._printQr(this._qr);
    });
    client.on('authenticated', () => {
      // After READY a page re-inject replays 'authenticated' then 'ready';
      // that is a duplicate, not a demotion.
      if (!current() || this._state === SessionState.READY || !watchedAndCurrent()) return;
      if (this._setState(SessionState.AUTHENTICATED)) {
        this._guards.armAuthTimeout(client, () => client === this._client && this._state === SessionState.AUTHENTICATED);
        this._log.info({ event: 'authenticated' }, 'WhatsApp authenticated');
      }
    });
    client.on('ready', () => {
      if (!current() || this._state === SessionState.READY || !watchedAndCurrent()) return;
      this._guards.clearAuthTimeout();
      this._setState(SessionState.READY);
      this._info = describeInfo(client.info);
      this._backoffMs = this._backoffInitialMs;
      this._guards.startWatchdog(client, (waState) => {
        if (client === this._client && this._info) this._info.waState = waState === null || waState === undefined ? null : String(waState);
      });
      this._log.info({ event: 'ready', wid: this._info.wid }, 'WhatsApp client ready');
    });
    client.on('auth_failure', (message) => {
      if (!current()) return;
      this._failAndRestart(client, SessionState.FAILED, `auth failure: ${errorText(message)}`);
    });
    client.on('disconnected', (reason) => {
      if (!current()) return;
      this._failAndRestart(client, SessionState.DISCONNECTED, `disconnected: ${errorText(reason)}`);
    });
    client.on('message_ack', (message, ack) => {
      const id = message && message.id && message.id._serialized;
      if (typeof id === 'string') this.emit('ack', { id, ack: ackName(ack) });
    });
    client.on('change_state', (waState) => {
      if (!current()) return;
      this._log.info({ event: 'change_state', waState: errorText(waState) }, 'WhatsApp connection state changed');
    });
  }

  /**
   * Abandon a failed client: state and restart are decided at once (so
   * /health reflects the failure immediately and later events from this
   * client are ignored); destroying it and scheduling the restart happen
   * under the lock. The `_client === null` check is defensive: with every
   * launch serialized no newer client should exist at that point, and if
   * one ever did, a restart would needlessly replace it.
   */
  _failAndRestart(client, state, err) {
    if (client !== this._client || this._stopped) return Promise.resolve();
    this._release();
    const text = errorText(err);
    this._setState(state, { error: text });
    this._log.warn({ event: 'client_failed', state, error: text }, 'WhatsApp client failed');
    return this._lock.run(async () => {
      await this._destroy(client);
      if (this._client === null) this._scheduleRestart();
    });
  }

  /** Detach the current client (if any) from the gateway and return it. */
  _release() {
    const client = this._client;
    this._client = null;
    this._guards.clear();
    return client;
  }

  _scheduleRestart() {
    if (this._stopped || this._restartTimer) return;
    const delay = this._backoffMs;
    this._backoffMs = Math.min(this._backoffMs * 2, this._backoffMaxMs);
    this._log.info({ event: 'restart_scheduled', delayMs: delay }, 'restarting WhatsApp client after backoff');
    this._restartTimer = this._timers.setTimeout(() => {
      this._restartTimer = null;
      this._lock.run(() => this._launch()).catch((err) => {
        this._log.error({ event: 'restart_failed', error: errorText(err) }, 'could not restart the WhatsApp client');
      });
    }, delay);
  }

  _cancelRestart() {
    if (this._restartTimer) this._timers.clearTimeout(this._restartTimer);
    this._restartTimer = null;
  }

  async _destroyIfAbandoned(client) {
    if (client !== this._client) await this._destroy(client);
  }

  _destroy(client) {
    return destroyClient(client, { call: (label, fn) => this._call(label, fn), logger: this._log });
  }

  _call(label, fn) {
    return this._withTimeout(label, Promise.resolve().then(fn));
  }

  _withTimeout(label, promise) {
    return withTimeout(promise, this._callTimeouts[label], label, this._timers);
  }
}

module.exports = { WwebjsGateway, CallTimeoutError, CHROMIUM_ARGS, DEFAULT_CALL_TIMEOUTS, PUPPETEER_SIGNAL_OPTIONS };

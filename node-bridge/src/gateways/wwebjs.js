'use strict';

const { BaseGateway, ackName, errorText } = require('./base');
const { Watchdog } = require('./watchdog');
const { CHROMIUM_ARGS, DEFAULT_CALL_TIMEOUTS, createWwebjsClient, createWwebjsMedia, describeInfo } = require('./wwebjs-client');
const { BridgeError, notReady } = require('../errors');
const { CallTimeoutError, withTimeout } = require('../call-timeout');
const { parseRecipient, resolveChatId } = require('../recipient');
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
 * Events from a client that has been replaced or destroyed are ignored by
 * identity, so late callbacks can never move the state of the current one.
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
    this._watchdogIntervalMs = watchdogIntervalMs;
    this._watchdogMaxFailures = watchdogMaxFailures;
    this._watchdog = null;
    this._client = null;
    this._restartTimer = null;
    this._stopped = true;
  }

  /** Launch the client; resolves at once, progress is reported via state. */
  async start() {
    if (!this._stopped) return;
    this._stopped = false;
    this._launch();
  }

  /** Cancel pending restarts and destroy the client (and its browser). */
  async stop() {
    this._stopped = true;
    this._cancelRestart();
    this._stopWatchdog();
    const client = this._client;
    this._client = null;
    if (client) await this._destroy(client);
  }

  /** Delay the next restart will wait (exposed for diagnostics and tests). */
  get nextBackoffMs() {
    return this._backoffMs;
  }

  /** Send text or media to a number (looked up first) or a group id. */
  async send({ to, text = null, media = null }) {
    const client = this._client;
    if (!client || !this.isReady()) throw notReady(this._state);
    try {
      const chatId = await resolveChatId(parseRecipient(to), (digits) => this._call('getNumberId', () => client.getNumberId(digits)));
      let content = text;
      const options = {};
      if (media) {
        content = this._createMedia(media);
        if (text) options.caption = text;
      }
      const message = await this._call('sendMessage', () => client.sendMessage(chatId, content, options));
      const id = message && message.id && message.id._serialized;
      if (typeof id !== 'string' || id === '') {
        throw new BridgeError(502, 'SEND_FAILED', 'WhatsApp did not return a message id');
      }
      return { id, to: chatId, ack: ackName(message.ack ?? 0) };
    } catch (err) {
      if (err instanceof BridgeError) throw err;
      throw new BridgeError(502, 'SEND_FAILED', errorText(err));
    }
  }

  /**
   * Log the WhatsApp session out (unlinks this device), then start a fresh
   * client so a new QR appears. If the remote logout fails, the local session
   * data is removed anyway, so the next start cannot silently log back in.
   */
  async logout() {
    this._cancelRestart();
    this._stopWatchdog();
    const client = this._client;
    this._client = null;
    if (client) {
      try {
        await this._call('logout', () => client.logout());
        this._log.info({ event: 'logout' }, 'WhatsApp session logged out');
        await this._destroy(client);
      } catch (err) {
        this._log.warn({ event: 'logout_failed', error: errorText(err) }, 'remote logout failed; removing local session data');
        // The browser holds the session files open: close it before removing them.
        await this._destroy(client);
        const strategy = client.authStrategy;
        if (strategy && typeof strategy.logout === 'function') {
          try {
            await this._call('logout', () => strategy.logout());
          } catch (cleanupErr) {
            this._log.warn({ event: 'logout_cleanup_failed', error: errorText(cleanupErr) }, 'could not remove local session data');
          }
        }
      }
    }
    this._backoffMs = this._backoffInitialMs;
    if (!this._stopped) this._launch();
    return this.status();
  }

  _launch() {
    if (this._stopped) return;
    let client;
    try {
      client = this._createClient({ dataDir: this._dataDir, chromiumPath: this._chromiumPath });
    } catch (err) {
      this._setState('FAILED', { error: `could not create client: ${errorText(err)}` });
      this._scheduleRestart();
      return;
    }
    this._client = client;
    this._setState('STARTING');
    this._attach(client);
    this._log.info({ event: 'client_starting' }, 'starting WhatsApp client');
    const init = Promise.resolve().then(() => client.initialize());
    this._withTimeout('initialize', init).then(
      () => this._log.debug({ event: 'client_initialized' }, 'client initialize() resolved'),
      (err) => {
        // A timed-out initialize may still launch a browser later: destroy it
        // once the original promise settles, since nobody owns it any more.
        if (err instanceof CallTimeoutError) {
          init.then(() => this._destroyIfAbandoned(client), () => this._destroyIfAbandoned(client));
        }
        return this._failAndRestart(client, 'FAILED', err);
      },
    );
  }

  _attach(client) {
    const current = () => client === this._client && !this._stopped;
    client.on('qr', (qr) => {
      if (!current()) return;
      if (this._state === 'QR' && this._qr === qr) return;
      this._setState('QR');
      this._qr = String(qr);
      this._log.info({ event: 'qr' }, 'new login QR code (printed to stderr, also at GET /v1/session/qr)');
      this._printQr(this._qr);
    });
    client.on('authenticated', () => {
      // After READY a page re-inject replays 'authenticated' then 'ready';
      // that is a duplicate, not a demotion.
      if (!current() || this._state === 'READY') return;
      if (this._setState('AUTHENTICATED')) this._log.info({ event: 'authenticated' }, 'WhatsApp authenticated');
    });
    client.on('ready', () => {
      if (!current() || this._state === 'READY') return;
      this._setState('READY');
      this._info = describeInfo(client.info);
      this._backoffMs = this._backoffInitialMs;
      this._watchBrowser(client);
      this._startWatchdog(client);
      this._log.info({ event: 'ready', wid: this._info.wid }, 'WhatsApp client ready');
    });
    client.on('auth_failure', (message) => {
      if (!current()) return;
      this._failAndRestart(client, 'FAILED', `auth failure: ${errorText(message)}`);
    });
    client.on('disconnected', (reason) => {
      if (!current()) return;
      this._failAndRestart(client, 'DISCONNECTED', `disconnected: ${errorText(reason)}`);
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

  _watchBrowser(client) {
    const browser = client.pupBrowser;
    if (!browser || typeof browser.once !== 'function') return;
    browser.once('disconnected', () => {
      if (client === this._client && !this._stopped) this._failAndRestart(client, 'DISCONNECTED', 'browser disconnected');
    });
  }

  async _failAndRestart(client, state, err) {
    if (client !== this._client || this._stopped) return;
    this._client = null;
    this._stopWatchdog();
    const text = errorText(err);
    this._setState(state, { error: text });
    this._log.warn({ event: 'client_failed', state, error: text }, 'WhatsApp client failed');
    await this._destroy(client);
    this._scheduleRestart();
  }

  _scheduleRestart() {
    if (this._stopped || this._restartTimer) return;
    const delay = this._backoffMs;
    this._backoffMs = Math.min(this._backoffMs * 2, this._backoffMaxMs);
    this._log.info({ event: 'restart_scheduled', delayMs: delay }, 'restarting WhatsApp client after backoff');
    this._restartTimer = this._timers.setTimeout(() => {
      this._restartTimer = null;
      this._launch();
    }, delay);
  }

  _cancelRestart() {
    if (this._restartTimer) this._timers.clearTimeout(this._restartTimer);
    this._restartTimer = null;
  }

  _startWatchdog(client) {
    this._stopWatchdog();
    if (typeof client.getState !== 'function') return;
    this._watchdog = new Watchdog({
      intervalMs: this._watchdogIntervalMs,
      maxFailures: this._watchdogMaxFailures,
      timers: this._timers,
      logger: this._log,
      probe: () => this._call('getState', () => client.getState()),
      onResult: (waState) => {
        if (client === this._client && this._info) this._info.waState = waState === null || waState === undefined ? null : String(waState);
      },
      onGiveUp: (err) => this._failAndRestart(client, 'DISCONNECTED', `session probe failed: ${errorText(err)}`),
    });
    this._watchdog.start();
  }

  _stopWatchdog() {
    if (this._watchdog) this._watchdog.stop();
    this._watchdog = null;
  }

  async _destroyIfAbandoned(client) {
    if (client !== this._client) await this._destroy(client);
  }

  /**
   * destroy() with its own timeout; errors are logged, never thrown. If the
   * browser process is still alive afterwards it is killed, so a wedged
   * Chromium cannot outlive its client.
   */
  async _destroy(client) {
    try {
      await this._call('destroy', () => client.destroy());
    } catch (err) {
      this._log.warn({ event: 'destroy_failed', error: errorText(err) }, 'client destroy() failed');
    }
    try {
      const browser = client.pupBrowser;
      const proc = browser && typeof browser.process === 'function' ? browser.process() : null;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        this._log.warn({ event: 'browser_killed', pid: proc.pid }, 'killed leftover Chromium process');
      }
    } catch (err) {
      this._log.warn({ event: 'browser_kill_failed', error: errorText(err) }, 'could not kill Chromium');
    }
  }

  _call(label, fn) {
    return this._withTimeout(label, Promise.resolve().then(fn));
  }

  _withTimeout(label, promise) {
    return withTimeout(promise, this._callTimeouts[label], label, this._timers);
  }
}

module.exports = { WwebjsGateway, CallTimeoutError, CHROMIUM_ARGS, DEFAULT_CALL_TIMEOUTS };

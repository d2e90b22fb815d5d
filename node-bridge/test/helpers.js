'use strict';

const { EventEmitter } = require('node:events');
const { Writable } = require('node:stream');
const { buildApp } = require('../src/app');
const { WwebjsGateway } = require('../src/gateways/wwebjs');
const { FakeGateway } = require('../src/gateways/fake');
const { loadConfig } = require('../src/config');

const API_KEY = 'test-key-4f9a1c0e7b2d';

/** Writable that keeps everything written, for log assertions. */
function captureStream() {
  const chunks = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  stream.text = () => chunks.join('');
  stream.lines = () => stream.text().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return stream;
}

/**
 * A started fake-driver app. `env` overrides the defaults; the logger writes
 * into `logs` (a capture stream) so tests can inspect it.
 */
async function fakeApp(env = {}) {
  const config = loadConfig({
    BRIDGE_DRIVER: 'fake',
    BRIDGE_API_KEY: API_KEY,
    BRIDGE_LOG_LEVEL: 'warn',
    ...env,
  });
  const logs = captureStream();
  const printedQrs = [];
  const gateway = new FakeGateway({ sendTimeoutMs: config.sendTimeoutMs, printQr: (qr) => printedQrs.push(qr) });
  const app = buildApp({ config, gateway, logStream: logs });
  await app.ready();
  await app.gateway.start();
  return { app, config, logs, printedQrs };
}

/** Headers with the API key plus extras. */
function auth(extra = {}) {
  return { 'x-api-key': API_KEY, ...extra };
}

/** POST /v1/messages through inject. */
function send(app, payload, { key = null, headers = {} } = {}) {
  const h = auth(headers);
  if (key !== null) h['idempotency-key'] = key;
  return app.inject({ method: 'POST', url: '/v1/messages', headers: h, payload });
}

/** Deliveries recorded by the fake gateway. */
async function sent(app) {
  const res = await app.inject({ url: '/__fake/sent' });
  return res.json().messages;
}

function script(app, outcomes) {
  return app.inject({ method: 'POST', url: '/__fake/script', payload: { outcomes } });
}

/** Give pending promise callbacks and immediates a chance to run. */
async function flush(rounds = 5) {
  for (let i = 0; i < rounds; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Deterministic replacement for setTimeout/clearTimeout: time only moves in
 * advance(), which fires due callbacks in order and lets promise chains
 * settle between them.
 */
class FakeTimers {
  constructor() {
    this.now = 0;
    this._pending = new Set();
  }

  setTimeout(fn, ms) {
    const handle = { at: this.now + ms, ms, fn, unref() { return this; } };
    this._pending.add(handle);
    return handle;
  }

  clearTimeout(handle) {
    this._pending.delete(handle);
  }

  /** Delays of timers still pending, in ms. */
  pendingDelays() {
    return [...this._pending].map((h) => h.ms);
  }

  async advance(ms) {
    const target = this.now + ms;
    await flush();
    for (;;) {
      let next = null;
      for (const h of this._pending) if (h.at <= target && (!next || h.at < next.at)) next = h;
      if (!next) break;
      this._pending.delete(next);
      this.now = next.at;
      next.fn();
      await flush();
    }
    this.now = target;
    await flush();
  }
}

/**
 * Stand-in for whatsapp-web.js Client: an EventEmitter with the methods the
 * gateway calls. Each method's behaviour can be replaced per test; calls are
 * counted.
 */
class FakeClient extends EventEmitter {
  constructor(overrides = {}) {
    super();
    this.calls = { initialize: 0, destroy: 0, logout: 0, getNumberId: [], sendMessage: [], getState: 0 };
    this.info = { wid: { _serialized: '15550009999@c.us' }, pushname: 'Bridge Test', platform: 'android' };
    this.overrides = overrides;
  }

  initialize() {
    this.calls.initialize += 1;
    return this.overrides.initialize ? this.overrides.initialize(this) : Promise.resolve();
  }

  destroy() {
    this.calls.destroy += 1;
    return this.overrides.destroy ? this.overrides.destroy(this) : Promise.resolve();
  }

  logout() {
    this.calls.logout += 1;
    return this.overrides.logout ? this.overrides.logout(this) : Promise.resolve();
  }

  getNumberId(number) {
    this.calls.getNumberId.push(number);
    if (this.overrides.getNumberId) return this.overrides.getNumberId(number);
    return Promise.resolve({ server: 'c.us', user: number, _serialized: `${number}@c.us` });
  }

  sendMessage(chatId, content, options) {
    this.calls.sendMessage.push({ chatId, content, options });
    if (this.overrides.sendMessage) return this.overrides.sendMessage(chatId, content, options);
    return Promise.resolve({ id: { _serialized: `true_${chatId}_ABC${this.calls.sendMessage.length}` }, ack: 0 });
  }

  getState() {
    this.calls.getState += 1;
    return this.overrides.getState ? this.overrides.getState() : Promise.resolve('CONNECTED');
  }
}

/** Logger that records structured events for assertions. */
function recordingLogger() {
  const entries = [];
  const log = (level) => (obj, msg) => entries.push({ level, ...(typeof obj === 'object' ? obj : { msg: obj }), msg });
  return { entries, info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug'), events: (name) => entries.filter((e) => e.event === name) };
}

/**
 * A gateway wired to fake clients and fake timers. `plans` gives the
 * overrides for each successive client (the last one repeats).
 */
function wwebjsSetup({ plans = [{}], callTimeouts = {}, watchdogIntervalMs = 0, ...rest } = {}) {
  const timers = new FakeTimers();
  const logger = recordingLogger();
  const clients = [];
  const printed = [];
  const created = [];
  const gateway = new WwebjsGateway({
    dataDir: '/data/auth',
    chromiumPath: '/opt/chromium',
    timers,
    now: () => timers.now,
    logger,
    printQr: (qr) => printed.push(qr),
    createClient: (opts) => {
      created.push(opts);
      const c = new FakeClient(plans[Math.min(clients.length, plans.length - 1)]);
      clients.push(c);
      return c;
    },
    createMedia: (media) => ({ kind: 'MessageMedia', ...media }),
    callTimeouts,
    watchdogIntervalMs,
    ...rest,
  });
  const restarts = () => logger.events('restart_scheduled').map((e) => e.delayMs);
  return { gateway, timers, logger, clients, printed, created, restarts };
}

module.exports = { API_KEY, captureStream, fakeApp, auth, send, sent, script, flush, FakeTimers, FakeClient, recordingLogger, wwebjsSetup };

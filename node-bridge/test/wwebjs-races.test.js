'use strict';

/**
 * Lifecycle races and early failures of the real gateway, with injected fake
 * clients and fake timers: at most one live client at any time, none after
 * stop(), browser crashes before READY, a stalled AUTHENTICATED, and the
 * state reported while logging out or stopping.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { EventEmitter } = require('node:events');
const { flush, wwebjsSetup: setup, FakeClient, API_KEY, auth, send } = require('./helpers');
const { WwebjsGateway } = require('../src/gateways/wwebjs');
const { buildApp } = require('../src/app');
const { loadConfig } = require('../src/config');

/** Clients whose destroy() was never called. */
const live = (clients) => clients.filter((c) => c.calls.destroy === 0);

/** A fake puppeteer Browser: an emitter with isConnected(). */
function fakeBrowser() {
  const browser = new EventEmitter();
  browser.connected = true;
  browser.isConnected = () => browser.connected;
  browser.crash = () => {
    browser.connected = false;
    browser.emit('disconnected');
  };
  return browser;
}

/** Client plan whose initialize() exposes a browser, as whatsapp-web.js does. */
const withBrowser = (extra = {}) => ({
  initialize: (c) => {
    c.pupBrowser = fakeBrowser();
    return Promise.resolve();
  },
  ...extra,
});

test('concurrent logouts share one logout and leave exactly one live client', async () => {
  const { gateway, timers, clients } = setup({ plans: [{}] });
  await gateway.start();
  await flush();
  clients[0].emit('ready');
  clients[0].overrides.logout = () => new Promise((resolve) => timers.setTimeout(resolve, 50));

  const both = Promise.all([gateway.logout(), gateway.logout(), gateway.logout()]);
  await timers.advance(50);
  const results = await both;
  assert.deepEqual(results.map((s) => s.state), ['STARTING', 'STARTING', 'STARTING']);
  assert.equal(clients[0].calls.logout, 1, 'the device was logged out once');
  assert.equal(clients.length, 2);
  assert.deepEqual(live(clients), [gateway._client]);

  await gateway.stop();
  assert.deepEqual(live(clients), [], 'stop() leaves no client');
});

test('a logout while _failAndRestart awaits destroy ends with one live client and no stray restart', async () => {
  const { gateway, timers, clients, restarts } = setup({
    plans: [{ destroy: () => new Promise((resolve) => timers.setTimeout(resolve, 100)) }, {}],
  });
  await gateway.start();
  await flush();
  clients[0].emit('ready');
  clients[0].emit('disconnected', 'NAVIGATION');
  assert.equal(gateway.status().state, 'DISCONNECTED');
  const loggedOut = gateway.logout();
  await timers.advance(100);
  await loggedOut;
  await timers.advance(120000);
  assert.equal(clients.length, 2, 'no restart launched a third client');
  assert.deepEqual(live(clients), [gateway._client]);
  assert.deepEqual(restarts(), [2000], 'the failure scheduled a restart...');
  assert.deepEqual(timers.pendingDelays(), [], '...which the logout cancelled');
  await gateway.stop();
  assert.deepEqual(live(clients), []);
});

test('a logout while a failure restart is pending replaces it', async () => {
  const { gateway, timers, clients } = setup({ plans: [{ initialize: () => Promise.reject('boom') }, {}] });
  await gateway.start();
  await flush();
  assert.equal(gateway.status().state, 'FAILED');
  assert.deepEqual(timers.pendingDelays(), [2000]);
  await gateway.logout();
  assert.equal(clients.length, 2);
  await timers.advance(60000);
  assert.equal(clients.length, 2, 'the old restart never fired');
  assert.deepEqual(live(clients), [gateway._client]);
  await gateway.stop();
  assert.deepEqual(live(clients), []);
});

test('stop() during a logout waits for it and prevents the relaunch', async () => {
  const { gateway, timers, clients } = setup({ plans: [{ logout: () => new Promise((resolve) => timers.setTimeout(resolve, 50)) }, {}] });
  await gateway.start();
  await flush();
  clients[0].emit('ready');
  const loggedOut = gateway.logout();
  const stopped = gateway.stop();
  await timers.advance(50);
  await Promise.all([loggedOut, stopped]);
  assert.equal(clients.length, 1, 'no client launched after stop');
  assert.deepEqual(live(clients), []);
  assert.equal(gateway._client, null);
});

test('start() and stop() called back to back: stop wins, and a later start works', async () => {
  const { gateway, clients } = setup();
  const started = gateway.start();
  const stopped = gateway.stop();
  await Promise.all([started, stopped]);
  assert.deepEqual(live(clients), []);
  assert.equal(gateway.status().state, 'DISCONNECTED');
  assert.equal(gateway.status().lastError, 'stopping');
  await gateway.start();
  await flush();
  assert.equal(clients.length, 2);
  assert.equal(gateway.status().state, 'STARTING');
  await gateway.stop();
  assert.deepEqual(live(clients), []);
});

test('_launch destroys a client it replaces', async () => {
  const { gateway, clients } = setup();
  await gateway.start();
  await flush();
  await gateway._lock.run(() => gateway._launch());
  assert.equal(clients.length, 2);
  assert.equal(clients[0].calls.destroy, 1);
  assert.deepEqual(live(clients), [gateway._client]);
  await gateway.stop();
});

for (const stage of ['QR', 'AUTHENTICATED']) {
  test(`a browser crash in ${stage} goes DISCONNECTED with lastError, drops the QR and restarts`, async () => {
    const { gateway, timers, clients, restarts } = setup({ plans: [withBrowser(), {}] });
    await gateway.start();
    await flush();
    const c = clients[0];
    c.emit('qr', 'qr-1');
    if (stage === 'AUTHENTICATED') c.emit('authenticated');
    assert.equal(gateway.status().state, stage);
    assert.equal(c.pupBrowser.listenerCount('disconnected'), 1, 'watched once, however many events arrived');

    c.pupBrowser.crash();
    await flush();
    const status = gateway.status();
    assert.equal(status.state, 'DISCONNECTED');
    assert.equal(status.lastError, 'browser disconnected');
    assert.equal(status.qr, null, 'a QR from a dead browser is not served');
    assert.equal(c.calls.destroy, 1);
    assert.deepEqual(restarts(), [2000]);
    await timers.advance(2000);
    assert.equal(clients.length, 2);
    assert.equal(gateway.status().state, 'STARTING');
    await gateway.stop();
  });
}

test('the browser is watched as soon as initialize() resolves, before any event', async () => {
  const { gateway, clients } = setup({ plans: [withBrowser(), {}] });
  await gateway.start();
  await flush();
  clients[0].pupBrowser.crash();
  await flush();
  assert.equal(gateway.status().state, 'DISCONNECTED');
  assert.equal(gateway.status().lastError, 'browser disconnected');
  await gateway.stop();
});

test('a browser already disconnected when first seen fails the client at once', async () => {
  const { gateway, clients } = setup({ plans: [{ initialize: () => new Promise(() => {}) }, {}] });
  await gateway.start();
  await flush();
  const browser = fakeBrowser();
  browser.connected = false;
  clients[0].pupBrowser = browser;
  clients[0].emit('qr', 'qr-1');
  await flush();
  assert.equal(gateway.status().state, 'DISCONNECTED');
  assert.equal(gateway.status().lastError, 'browser disconnected');
  await gateway.stop();
});

test('stuck in AUTHENTICATED beyond authTimeoutMs: FAILED and restarted; READY in time cancels it', async () => {
  const { gateway, timers, clients, restarts } = setup({ authTimeoutMs: 180000, plans: [{}, {}] });
  await gateway.start();
  await flush();
  clients[0].emit('authenticated');
  await timers.advance(179999);
  assert.equal(gateway.status().state, 'AUTHENTICATED');
  await timers.advance(1);
  assert.equal(gateway.status().state, 'FAILED');
  assert.equal(gateway.status().lastError, 'stuck in AUTHENTICATED for 180000 ms; WhatsApp Web never became ready');
  assert.equal(clients[0].calls.destroy, 1);
  assert.deepEqual(restarts(), [2000]);

  await timers.advance(2000);
  clients[1].emit('authenticated');
  await timers.advance(1000);
  clients[1].emit('ready');
  await timers.advance(600000);
  assert.equal(gateway.status().state, 'READY', 'the deadline is cancelled by READY');
  assert.equal(clients[1].calls.destroy, 0);
  await gateway.stop();
});

test('while logging out the state is DISCONNECTED "logging out" and sends get 503', async () => {
  const { gateway, timers, clients } = setup({ plans: [{ logout: () => new Promise((resolve) => timers.setTimeout(resolve, 500)) }, {}] });
  await gateway.start();
  await flush();
  clients[0].emit('ready');
  assert.equal(gateway.isReady(), true);
  const loggedOut = gateway.logout();
  assert.equal(gateway.status().state, 'DISCONNECTED');
  assert.equal(gateway.status().lastError, 'logging out');
  assert.equal(gateway.isReady(), false);
  await assert.rejects(gateway.send({ to: '15551234567', text: 'x' }), (e) => e.statusCode === 503 && e.extra.state === 'DISCONNECTED');
  await timers.advance(500);
  assert.equal((await loggedOut).state, 'STARTING');
  await gateway.stop();
});

test('while stopping the state is DISCONNECTED "stopping" before the browser is gone', async () => {
  const { gateway, timers, clients } = setup({ plans: [{ destroy: () => new Promise((resolve) => timers.setTimeout(resolve, 500)) }] });
  await gateway.start();
  await flush();
  clients[0].emit('ready');
  const stopped = gateway.stop();
  assert.equal(gateway.status().state, 'DISCONNECTED');
  assert.equal(gateway.status().lastError, 'stopping');
  assert.equal(gateway.isReady(), false);
  await timers.advance(500);
  await stopped;
  clients[0].emit('ready');
  assert.equal(gateway.status().state, 'DISCONNECTED', 'late events from the stopped client are ignored');
});

test('wwebjs driver: /health is not ready and sends are 503 while logging out or stopping', async () => {
  const clients = [];
  const gateway = new WwebjsGateway({
    createClient: () => {
      const c = new FakeClient({
        logout: () => new Promise((resolve) => setTimeout(resolve, 150)),
        destroy: () => new Promise((resolve) => setTimeout(resolve, clients.length > 1 ? 150 : 0)),
      });
      clients.push(c);
      return c;
    },
    printQr: () => {},
    watchdogIntervalMs: 0,
  });
  const config = loadConfig({ BRIDGE_API_KEY: API_KEY, BRIDGE_LOG_LEVEL: 'silent', BRIDGE_MIN_INTERVAL_MS: '0', BRIDGE_JITTER_MS: '0', BRIDGE_STORE: 'memory', BRIDGE_PACING: '0' });
  const app = buildApp({ config, gateway });
  await app.ready();
  await gateway.start();
  try {
    clients[0].emit('ready');
    assert.equal((await app.inject({ url: '/health' })).json().ready, true);

    const logout = app.inject({ method: 'POST', url: '/v1/session/logout', headers: auth() });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const during = (await app.inject({ url: '/health' })).json();
    assert.equal(during.ready, false);
    assert.equal(during.state, 'DISCONNECTED');
    assert.equal(during.lastError, 'logging out');
    const blocked = await send(app, { to: '15551234567', text: 'x' });
    assert.equal(blocked.statusCode, 503);
    assert.equal(blocked.json().error.state, 'DISCONNECTED');
    const done = await logout;
    assert.equal(done.statusCode, 200);
    assert.deepEqual(done.json(), { state: 'STARTING' });

    clients[1].emit('ready');
    assert.equal((await app.inject({ url: '/health' })).json().ready, true);
    const stopping = gateway.stop();
    const health = (await app.inject({ url: '/health' })).json();
    assert.equal(health.ready, false);
    assert.equal(health.state, 'DISCONNECTED');
    assert.equal(health.lastError, 'stopping');
    await stopping;
  } finally {
    await app.close();
  }
});

'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { flush, wwebjsSetup: setup } = require('./helpers');

const never = () => new Promise(() => {});

test('event-driven state machine: STARTING -> QR -> AUTHENTICATED -> READY, duplicates are no-ops', async () => {
  const { gateway, timers, clients, printed, created, logger } = setup();
  const states = [];
  gateway.on('state', (s) => states.push(s.state));
  await gateway.start();
  await flush();
  assert.deepEqual(created, [{ dataDir: '/data/auth', chromiumPath: '/opt/chromium' }]);
  assert.equal(gateway.status().state, 'STARTING');
  const c = clients[0];

  await timers.advance(10);
  c.emit('qr', 'qr-1');
  assert.equal(gateway.status().state, 'QR');
  assert.equal(gateway.status().qr, 'qr-1');
  const qrSince = gateway.status().since;
  await timers.advance(10);
  c.emit('qr', 'qr-1');
  assert.deepEqual(printed, ['qr-1'], 'identical QR is not printed twice');
  c.emit('qr', 'qr-2');
  assert.deepEqual(printed, ['qr-1', 'qr-2']);
  assert.equal(gateway.status().qr, 'qr-2');
  assert.equal(gateway.status().since, qrSince, 'a refreshed QR is not a state change');

  c.emit('authenticated');
  assert.equal(gateway.status().state, 'AUTHENTICATED');
  assert.equal(gateway.status().qr, null);

  await timers.advance(10);
  c.emit('ready');
  const ready = gateway.status();
  assert.equal(ready.state, 'READY');
  assert.equal(gateway.isReady(), true);
  assert.deepEqual(ready.info, { wid: '15550009999@c.us', pushname: 'Bridge Test', platform: 'android' });

  await timers.advance(1000);
  c.emit('ready');
  c.emit('authenticated');
  c.emit('ready');
  assert.equal(gateway.status().state, 'READY');
  assert.equal(gateway.status().since, ready.since, 'replayed authenticated/ready keep since');
  assert.equal(logger.events('ready').length, 1, 'ready side effects ran once');
  assert.equal(logger.events('authenticated').length, 1);

  c.emit('qr', 'qr-3');
  assert.equal(gateway.status().state, 'QR', 'a QR after READY (logged out from the phone) is a real transition');
  c.emit('authenticated');
  c.emit('ready');
  assert.equal(logger.events('ready').length, 2);
  assert.deepEqual(states, ['QR', 'AUTHENTICATED', 'READY', 'QR', 'AUTHENTICATED', 'READY']);
  assert.equal(c.calls.initialize, 1);
  await gateway.stop();
});

test('initialize rejecting with a plain string: FAILED with that text, destroy, restart 2 s doubling to 60 s', async () => {
  const { gateway, timers, clients, restarts } = setup({ plans: [{ initialize: () => Promise.reject('auth timeout') }] });
  await gateway.start();
  await flush();
  assert.equal(clients.length, 1);
  assert.equal(gateway.status().state, 'FAILED');
  assert.equal(gateway.status().lastError, 'auth timeout');
  assert.equal(clients[0].calls.destroy, 1);
  assert.deepEqual(restarts(), [2000]);

  await timers.advance(1999);
  assert.equal(clients.length, 1, 'no restart before the backoff elapsed');
  await timers.advance(1);
  assert.equal(clients.length, 2);
  assert.equal(clients[1].calls.initialize, 1);
  assert.equal(clients[1].calls.destroy, 1);
  assert.equal(gateway.status().lastError, 'auth timeout');

  for (const wait of [4000, 8000, 16000, 32000, 60000, 60000]) await timers.advance(wait);
  assert.deepEqual(restarts(), [2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  assert.equal(clients.length, 8);
  assert.ok(clients.every((c) => c.calls.destroy === 1), 'every failed client was destroyed once');
  await gateway.stop();
});

test('an Error rejection uses its message; errors thrown by destroy are swallowed', async () => {
  const { gateway, clients, logger } = setup({
    plans: [{ initialize: () => Promise.reject(new Error('net::ERR_NAME_NOT_RESOLVED')), destroy: () => Promise.reject('Target closed') }],
  });
  await gateway.start();
  await flush();
  assert.equal(gateway.status().state, 'FAILED');
  assert.equal(gateway.status().lastError, 'net::ERR_NAME_NOT_RESOLVED');
  assert.equal(clients[0].calls.destroy, 1);
  assert.equal(logger.events('destroy_failed')[0].error, 'Target closed');
  await gateway.stop();
});

test('backoff resets after READY; disconnected goes DISCONNECTED then restarts', async () => {
  let attempt = 0;
  const { gateway, timers, clients, restarts } = setup({
    plans: [{ initialize: () => (++attempt <= 2 ? Promise.reject(`fail ${attempt}`) : Promise.resolve()) }],
  });
  await gateway.start();
  await flush();
  await timers.advance(2000);
  await timers.advance(4000);
  assert.equal(clients.length, 3);
  assert.deepEqual(restarts(), [2000, 4000]);
  assert.equal(gateway.nextBackoffMs, 8000);
  clients[2].emit('ready');
  assert.equal(gateway.status().state, 'READY');
  assert.equal(gateway.status().lastError, null);
  assert.equal(gateway.nextBackoffMs, 2000);

  clients[2].emit('disconnected', 'NAVIGATION');
  await flush();
  assert.equal(gateway.status().state, 'DISCONNECTED');
  assert.equal(gateway.status().lastError, 'disconnected: NAVIGATION');
  assert.equal(clients[2].calls.destroy, 1);
  assert.deepEqual(restarts(), [2000, 4000, 2000]);
  await timers.advance(2000);
  assert.equal(clients.length, 4);
  assert.equal(gateway.status().state, 'STARTING');
  await gateway.stop();
});

test('auth_failure goes FAILED and restarts; events from a replaced client are ignored', async () => {
  const { gateway, timers, clients, printed } = setup();
  await gateway.start();
  await flush();
  clients[0].emit('auth_failure', 'session restore failed');
  await flush();
  assert.equal(gateway.status().state, 'FAILED');
  assert.equal(gateway.status().lastError, 'auth failure: session restore failed');
  await timers.advance(2000);
  assert.equal(clients.length, 2);
  clients[0].emit('ready');
  clients[0].emit('qr', 'stale');
  clients[0].emit('disconnected', 'LOGOUT');
  await flush();
  assert.equal(gateway.status().state, 'STARTING');
  assert.deepEqual(printed, []);
  assert.equal(clients[1].calls.destroy, 0);
  await gateway.stop();
});

test('stop() cancels a pending restart and destroys the current client', async () => {
  const { gateway, timers, clients } = setup({ plans: [{ initialize: () => Promise.reject('boom') }] });
  await gateway.start();
  await flush();
  assert.deepEqual(timers.pendingDelays(), [2000]);
  await gateway.stop();
  await timers.advance(120000);
  assert.equal(clients.length, 1, 'no restart after stop');
  assert.deepEqual(timers.pendingDelays(), []);

  const second = setup();
  await second.gateway.start();
  await flush();
  second.clients[0].emit('ready');
  await second.gateway.stop();
  assert.equal(second.clients[0].calls.destroy, 1);
  second.clients[0].emit('disconnected', 'whatever');
  await second.timers.advance(120000);
  assert.equal(second.clients.length, 1);
});

test('per-call timeouts: initialize, destroy, getNumberId and sendMessage cannot hang', async () => {
  const callTimeouts = { initialize: 5000, destroy: 1000, getNumberId: 700, sendMessage: 900 };
  const { gateway, timers, clients, logger } = setup({ callTimeouts, plans: [{ initialize: never, destroy: never }, { getNumberId: never }] });
  await gateway.start();
  await timers.advance(4999);
  assert.equal(gateway.status().state, 'STARTING');
  await timers.advance(1);
  assert.equal(gateway.status().state, 'FAILED');
  assert.equal(gateway.status().lastError, 'initialize timed out after 5000 ms');
  assert.equal(clients[0].calls.destroy, 1);
  await timers.advance(1000);
  assert.equal(logger.events('destroy_failed')[0].error, 'destroy timed out after 1000 ms');
  assert.deepEqual(logger.events('restart_scheduled').map((e) => e.delayMs), [2000]);

  await timers.advance(2000);
  const c = clients[1];
  c.emit('ready');
  let outcome = null;
  gateway.send({ to: '15551234567', text: 'x' }).then((v) => { outcome = v; }, (e) => { outcome = e; });
  await timers.advance(699);
  assert.equal(outcome, null);
  await timers.advance(1);
  assert.equal(outcome.statusCode, 502, 'a lookup timeout sent nothing');
  assert.equal(outcome.code, 'SEND_FAILED');
  assert.equal(outcome.message, 'getNumberId timed out after 700 ms');

  c.overrides.getNumberId = undefined;
  c.overrides.sendMessage = never;
  outcome = null;
  gateway.send({ to: '15551234567', text: 'x' }).then((v) => { outcome = v; }, (e) => { outcome = e; });
  await timers.advance(900);
  assert.equal(outcome.statusCode, 504, 'a sendMessage timeout is ambiguous: the message may be out');
  assert.equal(outcome.code, 'SEND_TIMEOUT');
  assert.equal(outcome.message, 'sendMessage timed out after 900 ms; the message may have been delivered');

  let stopped = false;
  c.overrides.destroy = never;
  gateway.stop().then(() => { stopped = true; });
  await timers.advance(999);
  assert.equal(stopped, false);
  await timers.advance(1);
  assert.equal(stopped, true, 'stop() finishes even if destroy() hangs');
});

test('a timed-out initialize that resolves later has its client destroyed', async () => {
  let finishInit;
  const { gateway, timers, clients } = setup({ callTimeouts: { initialize: 100 }, plans: [{ initialize: () => new Promise((r) => { finishInit = r; }) }, {}] });
  await gateway.start();
  await timers.advance(100);
  assert.equal(gateway.status().state, 'FAILED');
  assert.equal(clients[0].calls.destroy, 1);
  await timers.advance(2000);
  finishInit();
  await flush();
  assert.equal(clients[0].calls.destroy, 2, 'the browser launched late is destroyed too');
  assert.equal(clients[1].calls.destroy, 0);
  await gateway.stop();
});

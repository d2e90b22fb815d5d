'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { WwebjsGateway, CHROMIUM_ARGS, PUPPETEER_SIGNAL_OPTIONS } = require('../src/gateways/wwebjs');
const { flush, wwebjsSetup: setup } = require('./helpers');

const never = () => new Promise(() => {});

test('send: NOT_READY before READY, number lookup, NOT_ON_WHATSAPP, media with caption, groups skip the lookup', async () => {
  const { gateway, clients } = setup();
  await gateway.start();
  await flush();
  await assert.rejects(gateway.send({ to: '15551234567', text: 'x' }), (e) => e.code === 'NOT_READY' && e.extra.state === 'STARTING');
  const c = clients[0];
  c.emit('ready');

  const text = await gateway.send({ to: '+15551234567', text: 'hello' });
  assert.deepEqual(text, { id: 'true_15551234567@c.us_ABC1', to: '15551234567@c.us', ack: 'PENDING' });
  assert.deepEqual(c.calls.sendMessage[0], { chatId: '15551234567@c.us', content: 'hello', options: {} });

  const media = { data: 'aGk=', mimetype: 'text/plain', filename: 'hi.txt' };
  await gateway.send({ to: '15551234567@c.us', text: 'caption', media });
  assert.deepEqual(c.calls.sendMessage[1].content, { kind: 'MessageMedia', ...media });
  assert.deepEqual(c.calls.sendMessage[1].options, { caption: 'caption' });

  await gateway.send({ to: '123-456@g.us', text: 'group' });
  assert.equal(c.calls.sendMessage[2].chatId, '123-456@g.us');
  assert.deepEqual(c.calls.getNumberId, ['15551234567', '15551234567']);

  c.overrides.getNumberId = async () => null;
  await assert.rejects(gateway.send({ to: '15550000000', text: 'x' }), (e) => e.statusCode === 422 && e.code === 'NOT_ON_WHATSAPP');
  assert.equal(c.calls.sendMessage.length, 3);

  c.overrides.getNumberId = undefined;
  c.overrides.sendMessage = async () => { throw 'Evaluation failed: b'; };
  await assert.rejects(gateway.send({ to: '15551234567', text: 'x' }), (e) => e.statusCode === 502 && e.message === 'Evaluation failed: b');
  await gateway.stop();
});

test('message_ack events are re-emitted with ack names', async () => {
  const { gateway, clients } = setup();
  const acks = [];
  gateway.on('ack', (a) => acks.push(a));
  await gateway.start();
  await flush();
  for (const n of [-1, 0, 1, 2, 3, 4]) clients[0].emit('message_ack', { id: { _serialized: `m${n}` } }, n);
  clients[0].emit('message_ack', {}, 1);
  assert.deepEqual(acks.map((a) => a.ack), ['ERROR', 'PENDING', 'SERVER', 'DEVICE', 'READ', 'PLAYED']);
  assert.equal(acks[3].id, 'm2');
  await gateway.stop();
});

test('logout() logs out, destroys and starts a fresh client; falls back to local cleanup on failure', async () => {
  const cleanups = [];
  const { gateway, clients } = setup({
    plans: [{}, { logout: () => Promise.reject(new Error('page crashed')) }, {}],
  });
  await gateway.start();
  await flush();
  clients[0].emit('ready');
  const status = await gateway.logout();
  assert.equal(status.state, 'STARTING');
  assert.equal(clients[0].calls.logout, 1);
  assert.equal(clients[0].calls.destroy, 1);
  assert.equal(clients.length, 2);

  clients[1].authStrategy = { logout: async () => cleanups.push('removed') };
  clients[1].emit('ready');
  await gateway.logout();
  assert.equal(clients[1].calls.destroy, 1);
  assert.deepEqual(cleanups, ['removed']);
  assert.equal(clients.length, 3);
  await gateway.stop();
});

test('watchdog probes getState while READY and restarts after repeated failures', async () => {
  let healthy = true;
  const { gateway, timers, clients } = setup({
    watchdogIntervalMs: 30000,
    watchdogMaxFailures: 2,
    callTimeouts: { getState: 500 },
    plans: [{ getState: () => (healthy ? Promise.resolve('CONNECTED') : never()) }, {}],
  });
  await gateway.start();
  await flush();
  clients[0].emit('ready');
  await timers.advance(30000);
  assert.equal(clients[0].calls.getState, 1);
  assert.equal(gateway.status().info.waState, 'CONNECTED');
  healthy = false;
  await timers.advance(30500);
  assert.equal(gateway.status().state, 'READY', 'one failed probe is tolerated');
  await timers.advance(30500);
  assert.equal(gateway.status().state, 'DISCONNECTED');
  assert.equal(gateway.status().lastError, 'session probe failed: getState timed out after 500 ms');
  assert.equal(clients[0].calls.destroy, 1);
  await gateway.stop();
});

test('real client construction uses LocalAuth and the documented Chromium flags', () => {
  assert.deepEqual([...CHROMIUM_ARGS], ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']);
  const { Client, LocalAuth } = require('whatsapp-web.js');
  const gateway = new WwebjsGateway({ dataDir: '/tmp/bridge-auth-test', chromiumPath: '/usr/bin/chromium' });
  const client = gateway._createClient({ dataDir: '/tmp/bridge-auth-test', chromiumPath: '/usr/bin/chromium' });
  assert.ok(client instanceof Client);
  assert.ok(client.authStrategy instanceof LocalAuth);
  assert.equal(client.authStrategy.dataPath, '/tmp/bridge-auth-test');
  assert.equal(client.options.puppeteer.executablePath, '/usr/bin/chromium');
  assert.equal(client.options.puppeteer.headless, true);
  assert.deepEqual(client.options.webVersionCache, { type: 'local', path: '/tmp/bridge-auth-test/wwebjs_cache' });
  assert.ok(CHROMIUM_ARGS.every((a) => client.options.puppeteer.args.includes(a)));
});

test('puppeteer is told to leave SIGINT/SIGTERM/SIGHUP to the server', () => {
  assert.deepEqual({ ...PUPPETEER_SIGNAL_OPTIONS }, { handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false });
  const gateway = new WwebjsGateway({ dataDir: '/tmp/bridge-auth-test', chromiumPath: '/usr/bin/chromium' });
  const { puppeteer } = gateway._createClient({ dataDir: '/tmp/bridge-auth-test', chromiumPath: '/usr/bin/chromium' }).options;
  assert.equal(puppeteer.handleSIGINT, false);
  assert.equal(puppeteer.handleSIGTERM, false);
  assert.equal(puppeteer.handleSIGHUP, false);
});

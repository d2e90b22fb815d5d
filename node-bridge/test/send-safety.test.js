'use strict';

/**
 * Sends must never be duplicated or made for nobody: ambiguous timeouts keep
 * their Idempotency-Key (replayed 504), media is bounded in the queue, and a
 * request whose client disconnected while queued is dropped unsent.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const net = require('node:net');
const { buildApp } = require('../src/app');
const { loadConfig } = require('../src/config');
const { WwebjsGateway } = require('../src/gateways/wwebjs');
const { API_KEY, FakeClient, fakeApp, send, sent, script, auth, flush } = require('./helpers');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const never = () => new Promise(() => {});

/** App on the real gateway with injected fake clients (real timers), READY. */
async function wwebjsApp({ env = {}, callTimeouts = {}, overrides = {} } = {}) {
  const clients = [];
  const gateway = new WwebjsGateway({
    createClient: () => {
      const c = new FakeClient(overrides);
      clients.push(c);
      return c;
    },
    createMedia: (m) => m,
    printQr: () => {},
    callTimeouts,
    watchdogIntervalMs: 0,
  });
  // State in memory and pacing off: the real driver's defaults would keep a
  // store and pacing counters in ./.wwebjs_auth, shared by every test run.
  const config = loadConfig({ BRIDGE_API_KEY: API_KEY, BRIDGE_LOG_LEVEL: 'silent', BRIDGE_MIN_INTERVAL_MS: '0', BRIDGE_JITTER_MS: '0', BRIDGE_STORE: 'memory', BRIDGE_PACING: '0', ...env });
  const app = buildApp({ config, gateway });
  await app.ready();
  await gateway.start();
  clients[0].emit('ready');
  return { app, gateway, clients };
}

test('sendMessage timing out inside the gateway keeps the key: 504, 409 while running, then a replayed 504; sent once', async () => {
  const { app, clients } = await wwebjsApp({ env: { BRIDGE_SEND_TIMEOUT_MS: '100' }, callTimeouts: { sendMessage: 300 }, overrides: { sendMessage: never } });
  try {
    const body = { to: '15551234567', text: 'maybe delivered' };
    const first = await send(app, body, { key: 'amb-1' });
    assert.equal(first.statusCode, 504);
    assert.equal(first.json().error.code, 'SEND_TIMEOUT');
    assert.equal(first.headers['idempotency-replay'], undefined);

    const during = await send(app, body, { key: 'amb-1' });
    assert.equal(during.statusCode, 409);
    assert.equal(during.json().error.code, 'IDEMPOTENCY_IN_FLIGHT');

    await sleep(350); // past the gateway's own 300 ms sendMessage timeout
    for (let i = 0; i < 2; i += 1) {
      const retry = await send(app, body, { key: 'amb-1' });
      assert.equal(retry.statusCode, 504, retry.body);
      assert.equal(retry.headers['idempotency-replay'], 'true');
      assert.match(retry.headers['content-type'], /^application\/json/);
      const { error } = retry.json();
      assert.equal(error.code, 'SEND_TIMEOUT');
      assert.equal(error.message, 'sendMessage timed out after 300 ms; the message may have been delivered');
    }
    assert.equal((await send(app, { ...body, text: 'other' }, { key: 'amb-1' })).statusCode, 422, 'the key still belongs to the first body');
    assert.equal(clients[0].calls.sendMessage.length, 1, 'never sent a second time');
  } finally {
    await app.close();
  }
});

test('sendMessage returning no message id keeps the key: 502 SEND_UNCONFIRMED, replayed, sent once', async () => {
  const { app, clients } = await wwebjsApp({ overrides: { sendMessage: async () => ({}) } });
  try {
    const body = { to: '15551234567', text: 'accepted without an id' };
    const first = await send(app, body, { key: 'unconfirmed-1' });
    assert.equal(first.statusCode, 502);
    assert.equal(first.json().error.code, 'SEND_UNCONFIRMED');
    const retry = await send(app, body, { key: 'unconfirmed-1' });
    assert.equal(retry.statusCode, 502);
    assert.equal(retry.headers['idempotency-replay'], 'true');
    assert.equal(retry.json().error.code, 'SEND_UNCONFIRMED');
    assert.equal(clients[0].calls.sendMessage.length, 1, 'never sent a second time');
  } finally {
    await app.close();
  }
});

test('a definite send failure still releases the key so a retry may send', async () => {
  let calls = 0;
  const { app, clients } = await wwebjsApp({
    overrides: {
      sendMessage: async () => {
        calls += 1;
        if (calls === 1) throw new Error('Evaluation failed: chat not found');
        return { id: { _serialized: 'true_15551234567@c.us_OK' }, ack: 0 };
      },
    },
  });
  try {
    const body = { to: '15551234567', text: 'second time lucky' };
    assert.equal((await send(app, body, { key: 'definite-1' })).statusCode, 502);
    const retry = await send(app, body, { key: 'definite-1' });
    assert.equal(retry.statusCode, 201, retry.body);
    assert.equal(clients[0].calls.sendMessage.length, 2);
  } finally {
    await app.close();
  }
});

test('a gateway 504 before the HTTP timeout is answered and stored the same way', async () => {
  const { app, clients } = await wwebjsApp({ env: { BRIDGE_SEND_TIMEOUT_MS: '5000' }, callTimeouts: { sendMessage: 50 }, overrides: { sendMessage: never } });
  try {
    const body = { to: '15551234567', text: 'x' };
    const first = await send(app, body, { key: 'amb-2' });
    assert.equal(first.statusCode, 504);
    assert.match(first.json().error.message, /may have been delivered/);
    const retry = await send(app, body, { key: 'amb-2' });
    assert.equal(retry.statusCode, 504);
    assert.equal(retry.headers['idempotency-replay'], 'true');
    assert.deepEqual(retry.json(), first.json());
    assert.equal(clients[0].calls.sendMessage.length, 1);
  } finally {
    await app.close();
  }
});

test('a number lookup timeout sent nothing: 502 and the key is released', async () => {
  let lookups = 0;
  const { app, clients } = await wwebjsApp({
    callTimeouts: { getNumberId: 50 },
    overrides: { getNumberId: (n) => (++lookups === 1 ? never() : Promise.resolve({ _serialized: `${n}@c.us` })) },
  });
  try {
    const body = { to: '15551234567', text: 'x' };
    const first = await send(app, body, { key: 'lookup-1' });
    assert.equal(first.statusCode, 502);
    assert.equal(first.json().error.code, 'SEND_FAILED');
    const retry = await send(app, body, { key: 'lookup-1' });
    assert.equal(retry.statusCode, 201, retry.body);
    assert.equal(retry.headers['idempotency-replay'], undefined);
    assert.equal(clients[0].calls.sendMessage.length, 1);
  } finally {
    await app.close();
  }
});

test('BRIDGE_QUEUE_MAX_BYTES: media beyond the byte budget gets 429 QUEUE_FULL with Retry-After; text still fits', async () => {
  const { app } = await fakeApp({ BRIDGE_MEDIA_MAX_BYTES: '1000', BRIDGE_QUEUE_MAX_BYTES: '1500', BRIDGE_QUEUE_MAX: '10' });
  try {
    const media = (n) => ({ data: crypto.randomBytes(n).toString('base64'), mimetype: 'application/octet-stream', filename: 'f.bin' });
    await script(app, [{ type: 'delay', ms: 200 }]);
    const running = send(app, { to: '15551234567', media: media(1000) });
    await sleep(30);
    const overBudget = { to: '15551234567', media: media(501) };
    const full = await send(app, overBudget, { key: 'bytes-1' });
    assert.equal(full.statusCode, 429, full.body);
    assert.equal(full.json().error.code, 'QUEUE_FULL');
    assert.match(full.headers['retry-after'], /^[1-9][0-9]*$/);
    assert.equal(full.json().error.retryAfter, Number(full.headers['retry-after']));
    assert.equal((await send(app, { to: '15551234567', media: media(500) })).statusCode, 201, 'up to the cap still fits');
    assert.equal((await send(app, { to: '15551234567', text: 'text only' })).statusCode, 201);
    assert.equal((await running).statusCode, 201);
    const retry = await send(app, overBudget, { key: 'bytes-1' });
    assert.equal(retry.statusCode, 201, 'budget free again and the key was released by the 429');
    assert.equal(retry.headers['idempotency-replay'], undefined);
    assert.equal((await sent(app)).length, 4);
    assert.equal(app.sendQueue.bytes, 0);
  } finally {
    await app.close();
  }
});

/** Write a raw POST /v1/messages on its own socket; returns the socket. */
function rawSend(port, payload, key) {
  const body = JSON.stringify(payload);
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(
    `POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: ${API_KEY}\r\nIdempotency-Key: ${key}\r\n`
    + `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  return socket;
}

async function post(base, payload, key) {
  const headers = { 'x-api-key': API_KEY, 'content-type': 'application/json' };
  if (key) headers['idempotency-key'] = key;
  const res = await fetch(`${base}/v1/messages`, { method: 'POST', headers, body: JSON.stringify(payload) });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

test('a request abandoned while queued is not sent, frees its slot at once and releases its key', async () => {
  const { app } = await fakeApp({ BRIDGE_QUEUE_MAX: '2' });
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${app.server.address().port}`;
    await script(app, [{ type: 'delay', ms: 400 }]);
    const holder = post(base, { to: '15551234567', text: 'holder' });
    await sleep(50);
    const socket = rawSend(app.server.address().port, { to: '15551234567', text: 'abandoned' }, 'gone-1');
    await sleep(50);
    assert.equal(app.sendQueue.size, 2, 'holder running, abandoned request waiting');
    socket.destroy();
    await sleep(50);
    assert.equal(app.sendQueue.size, 1, 'the slot is freed before the holder finishes');
    const third = post(base, { to: '15551234567', text: 'third' });
    assert.equal((await holder).status, 201);
    assert.equal((await third).status, 201, 'took the freed slot (QUEUE_MAX 2)');
    assert.deepEqual((await sent(app)).map((m) => m.text), ['holder', 'third'], 'the abandoned message was never delivered');

    const retry = await post(base, { to: '15551234567', text: 'abandoned' }, 'gone-1');
    assert.equal(retry.status, 201, 'nothing was sent, so the key was released');
    assert.equal(retry.headers.get('idempotency-replay'), null);
    assert.deepEqual((await sent(app)).map((m) => m.text), ['holder', 'third', 'abandoned']);
  } finally {
    await app.close();
  }
});

test('a send already running when its client disconnects completes and stays replayable', async () => {
  const { app } = await fakeApp();
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${app.server.address().port}`;
    await script(app, [{ type: 'delay', ms: 200 }]);
    const socket = rawSend(app.server.address().port, { to: '15551234567', text: 'running' }, 'gone-2');
    await sleep(60);
    socket.destroy();
    await sleep(250);
    const delivered = await sent(app);
    assert.deepEqual(delivered.map((m) => m.text), ['running']);
    const retry = await post(base, { to: '15551234567', text: 'running' }, 'gone-2');
    assert.equal(retry.status, 201);
    assert.equal(retry.headers.get('idempotency-replay'), 'true');
    assert.equal(retry.body.id, delivered[0].id);
  } finally {
    await app.close();
  }
});

test('inject-driven requests (no socket) are never treated as abandoned', async () => {
  const { app } = await fakeApp();
  try {
    await script(app, [{ type: 'delay', ms: 50 }]);
    const results = await Promise.all([send(app, { to: '15551234567', text: 'a' }), send(app, { to: '15551234567', text: 'b' })]);
    assert.deepEqual(results.map((r) => r.statusCode), [201, 201]);
    await flush();
    assert.equal((await app.inject({ url: '/v1/session', headers: auth() })).statusCode, 200);
  } finally {
    await app.close();
  }
});

test('a resume after the client went away mid-send waits for that send and gets its answer replayed; sent once', async () => {
  const { app } = await fakeApp();
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${app.server.address().port}`;
    await script(app, [{ type: 'delay', ms: 300 }]);
    const socket = rawSend(app.server.address().port, { to: '15551234567', text: 'resumed' }, 'resume-1');
    await sleep(60);
    socket.destroy();
    // The send is still running: the resume must not be told 409.
    const resume = await post(base, { to: '15551234567', text: 'resumed' }, 'resume-1');
    assert.equal(resume.status, 201, JSON.stringify(resume.body));
    assert.equal(resume.headers.get('idempotency-replay'), 'true');
    const delivered = await sent(app);
    assert.equal(delivered.length, 1);
    assert.equal(resume.body.id, delivered[0].id);
  } finally {
    await app.close();
  }
});

test('a request waiting for an in-flight key is abandoned when its own client goes away', async () => {
  const { app } = await fakeApp();
  try {
    await script(app, [{ type: 'delay', ms: 400 }]);
    const body = { to: '15551234567', text: 'held' };
    const first = send(app, body, { key: 'wait-gone' });
    await sleep(30);
    const controller = new AbortController();
    const waiting = app.sendService.send(body, 'wait-gone', { signal: controller.signal });
    await sleep(30);
    controller.abort();
    await assert.rejects(waiting, (err) => err.statusCode === 499 && err.code === 'CLIENT_CLOSED_REQUEST');
    assert.equal((await sent(app)).length, 0, 'given up while the first send was still running');
    assert.equal((await first).statusCode, 201);
    assert.equal((await sent(app)).length, 1);
  } finally {
    await app.close();
  }
});

'use strict';

/**
 * The receipt webhook against a real HTTP receiver on loopback: each ack
 * change of a sent message is POSTed, signed (checked here with the test's
 * own HMAC), retried with back-off on 5xx / 429 / dropped connections up to
 * the bound, given up on other 4xx, and the queue stays bounded without ever
 * holding a send back. Waits are injected (no real back-off sleeping).
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const crypto = require('node:crypto');
const { buildApp } = require('../src/app');
const { FakeGateway } = require('../src/gateways/fake');
const { loadConfig, describeConfig, ConfigError } = require('../src/config');
const { ReceiptWebhook } = require('../src/receipt-webhook');
const { API_KEY, captureStream, send } = require('./helpers');

const SECRET = 'whsec-test-0123456789abcdef';

/** A loopback receiver answering each request with the next scripted status (then 200). */
async function receiver(statuses = []) {
  const requests = [];
  const script = [...statuses];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks) });
      const next = script.shift() ?? 200;
      if (next === 'drop') {
        req.socket.destroy();
        return;
      }
      if (typeof next === 'object') {
        res.writeHead(next.status, next.headers).end();
        return;
      }
      res.writeHead(next).end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/receipts`;
  return { url, requests, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** The receiver's side of the signature scheme, written independently of the bridge. */
function verify(body, header, secret) {
  const fields = Object.fromEntries(header.split(',').map((part) => part.split('=', 2)));
  if (!/^[0-9]+$/.test(fields.t || '')) return false;
  const expected = crypto.createHmac('sha256', secret).update(Buffer.concat([Buffer.from(`${fields.t}.`), body])).digest('hex');
  return fields.v1 !== undefined && crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(fields.v1.padEnd(expected.length).slice(0, expected.length)));
}

async function appWithWebhook(url, env = {}, sleeps = []) {
  const config = loadConfig({
    BRIDGE_DRIVER: 'fake',
    BRIDGE_API_KEY: API_KEY,
    BRIDGE_LOG_LEVEL: 'warn',
    BRIDGE_RECEIPT_WEBHOOK_URL: url,
    BRIDGE_RECEIPT_WEBHOOK_SECRET: SECRET,
    ...env,
  });
  const gateway = new FakeGateway({ printQr: () => {} });
  const app = buildApp({
    config,
    gateway,
    logStream: captureStream(),
    receiptWebhookOptions: { sleep: async (ms) => { sleeps.push(ms); } },
  });
  await app.ready();
  await gateway.start();
  return app;
}

function ack(app, id, state) {
  return app.inject({ method: 'POST', url: '/__fake/ack', payload: { id, ack: state } });
}

test('each ack change is POSTed once, signed, with the message and its states', async () => {
  const rx = await receiver();
  const app = await appWithWebhook(rx.url);
  try {
    const sent = (await send(app, { to: '+15551239001', text: 'hi' })).json();
    await ack(app, sent.id, 'SERVER');
    await ack(app, sent.id, 'SERVER'); // a repeat is no change
    await ack(app, sent.id, 'READ');
    await app.receiptWebhook.idle();
    assert.equal(rx.requests.length, 2);
    const bodies = rx.requests.map((r) => JSON.parse(r.body));
    assert.deepEqual(bodies.map((b) => [b.event, b.id, b.to, b.ack]), [
      ['message.ack', sent.id, '15551239001@c.us', 'SERVER'],
      ['message.ack', sent.id, '15551239001@c.us', 'READ'],
    ]);
    assert.equal(bodies[1].previous, 'SERVER');
    for (const request of rx.requests) {
      assert.equal(request.headers['content-type'], 'application/json');
      assert.ok(verify(request.body, request.headers['broadcastio-signature'], SECRET));
      assert.ok(!verify(request.body, request.headers['broadcastio-signature'], `${SECRET}x`));
      assert.ok(!verify(Buffer.concat([request.body, Buffer.from(' ')]), request.headers['broadcastio-signature'], SECRET));
      assert.match(request.headers['idempotency-key'], /^[0-9a-f-]{36}$/);
    }
    assert.deepEqual(app.receiptWebhook.stats(), { queued: 2, delivered: 2, failed: 0, dropped: 0, pending: 0 });
  } finally {
    await app.close();
    await rx.close();
  }
});

test('5xx, 429 and dropped connections are retried with growing waits; the key stays', async () => {
  const rx = await receiver([500, 'drop', { status: 429, headers: { 'retry-after': '7' } }, 503]);
  const sleeps = [];
  const app = await appWithWebhook(rx.url, {}, sleeps);
  try {
    const sent = (await send(app, { to: '+15551239002', text: 'hi' })).json();
    await ack(app, sent.id, 'DEVICE');
    await app.receiptWebhook.idle();
    assert.equal(rx.requests.length, 5);
    const keys = new Set(rx.requests.map((r) => r.headers['idempotency-key']));
    assert.equal(keys.size, 1, 'every attempt carries the event id');
    for (const request of rx.requests) assert.ok(verify(request.body, request.headers['broadcastio-signature'], SECRET));
    assert.equal(sleeps.length, 4);
    // Doubling from 1 s, half random: attempt n waits within [2^(n-1)/2, 2^(n-1)] s...
    for (const [i, ms] of [sleeps[0], sleeps[1], sleeps[3]].entries()) {
      const base = 1000 * 2 ** [0, 1, 3][i];
      assert.ok(ms >= base / 2 && ms <= base, `${ms} within [${base / 2}, ${base}]`);
    }
    // ...and at least what Retry-After asked for.
    assert.ok(sleeps[2] >= 7000, `${sleeps[2]} honours Retry-After: 7`);
    assert.equal(app.receiptWebhook.stats().delivered, 1);
  } finally {
    await app.close();
    await rx.close();
  }
});

test('attempts are bounded, and a 4xx other than 408/429 is given up at once', async () => {
  const rx = await receiver([500, 500, 500, 400]);
  const app = await appWithWebhook(rx.url, { BRIDGE_RECEIPT_WEBHOOK_MAX_ATTEMPTS: '3' });
  try {
    const sent = (await send(app, { to: '+15551239003', text: 'hi' })).json();
    await ack(app, sent.id, 'SERVER');
    await app.receiptWebhook.idle();
    assert.equal(rx.requests.length, 3, 'three attempts, then given up');
    await ack(app, sent.id, 'DEVICE');
    await app.receiptWebhook.idle();
    assert.equal(rx.requests.length, 4, 'a 400 is not retried');
    assert.deepEqual(app.receiptWebhook.stats(), { queued: 2, delivered: 0, failed: 2, dropped: 0, pending: 0 });
  } finally {
    await app.close();
    await rx.close();
  }
});

test('the queue is bounded: a full queue drops its oldest event, never blocks the caller', async () => {
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  const posted = [];
  const fetchImpl = async (url, init) => {
    posted.push(JSON.parse(init.body));
    await held;
    return new Response(null, { status: 204 });
  };
  const webhook = new ReceiptWebhook({ url: 'http://127.0.0.1:9/x', secret: SECRET, queueMax: 2, fetchImpl });
  for (const ack of ['SERVER', 'DEVICE', 'READ', 'PLAYED']) webhook.notify({ id: 'm1', to: 'x@c.us', ack });
  // SERVER is in flight; DEVICE was dropped for READ and PLAYED (the newest two).
  assert.deepEqual(webhook.stats(), { queued: 4, delivered: 0, failed: 0, dropped: 1, pending: 2 });
  release();
  await webhook.idle();
  assert.deepEqual(posted.map((b) => b.ack), ['SERVER', 'READ', 'PLAYED']);
  await webhook.close();
});

test('settings are checked at start-up, and the secret never reaches the config log', () => {
  const base = { BRIDGE_DRIVER: 'fake', BRIDGE_RECEIPT_WEBHOOK_SECRET: SECRET };
  for (const url of ['ftp://example.com/x', 'file:///etc/passwd', 'not a url', 'http://']) {
    assert.throws(() => loadConfig({ ...base, BRIDGE_RECEIPT_WEBHOOK_URL: url }), ConfigError, url);
  }
  assert.throws(() => loadConfig({ BRIDGE_DRIVER: 'fake', BRIDGE_RECEIPT_WEBHOOK_URL: 'https://example.com/r' }), /BRIDGE_RECEIPT_WEBHOOK_SECRET/);
  assert.throws(() => loadConfig({ ...base, BRIDGE_RECEIPT_WEBHOOK_URL: 'https://example.com/r', BRIDGE_RECEIPT_WEBHOOK_MAX_ATTEMPTS: '0' }), /BRIDGE_RECEIPT_WEBHOOK_MAX_ATTEMPTS/);
  assert.equal(loadConfig({ BRIDGE_DRIVER: 'fake' }).receiptWebhook, null);
  const config = loadConfig({ ...base, BRIDGE_RECEIPT_WEBHOOK_URL: 'https://hooks.example.com/secret-path/abc' });
  assert.equal(config.receiptWebhook.maxAttempts, 6);
  const logged = JSON.stringify(describeConfig(config));
  assert.ok(!logged.includes(SECRET) && !logged.includes('secret-path'), logged);
  assert.ok(logged.includes('https://hooks.example.com'));
});

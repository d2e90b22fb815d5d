'use strict';

/** One log line per request, and nothing secret or personal in it. */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { fakeApp, auth, send, script, API_KEY } = require('./helpers');
const { redactUrl } = require('../src/request-log');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const SECRET = 'query-secret-5c2e9f';

async function withApp(fn) {
  const ctx = await fakeApp({ BRIDGE_LOG_LEVEL: 'info' });
  try {
    await fn(ctx);
  } finally {
    await ctx.app.close();
  }
}

/** Log lines that belong to requests, grouped by request id. */
function linesByRequest(logs) {
  const byId = new Map();
  for (const line of logs.lines()) {
    if (line.reqId === undefined) continue;
    if (!byId.has(line.reqId)) byId.set(line.reqId, []);
    byId.get(line.reqId).push(line);
  }
  return byId;
}

test('each request is logged once, on response, with method, url, route, status and duration', () => withApp(async ({ app, logs }) => {
  await app.inject({ url: '/health' });
  await send(app, { to: '15551234567', text: 'hello' });
  await app.inject({ url: '/nowhere' });
  await app.inject({ url: '/v1/session' });
  await app.inject({ url: `/v1/messages/${'a'.repeat(600)}`, headers: auth() });

  const byId = linesByRequest(logs);
  assert.equal(byId.size, 5, JSON.stringify([...byId.values()]));
  for (const lines of byId.values()) {
    assert.equal(lines.length, 1, `one line per request, got ${JSON.stringify(lines)}`);
    const [line] = lines;
    assert.equal(line.event, 'request');
    assert.equal(line.level, 30);
    assert.equal(typeof line.durationMs, 'number');
    assert.ok(line.durationMs >= 0);
    assert.ok(!('aborted' in line), 'every response here was completed');
  }
  const summary = [...byId.values()].map(([l]) => [l.method, l.url, l.route, l.statusCode]);
  assert.deepEqual(summary, [
    ['GET', '/health', '/health', 200],
    ['POST', '/v1/messages', '/v1/messages', 201],
    ['GET', '/nowhere', undefined, 404],
    ['GET', '/v1/session', '/v1/session', 401],
    ['GET', `/v1/messages/${'a'.repeat(600)}`, undefined, 414],
  ]);
  const text = logs.text();
  assert.ok(!text.includes('incoming request') && !text.includes('request completed'), 'fastify\'s own pair is off');
}));

test('query strings and phone numbers never reach the request log', () => withApp(async ({ app, logs }) => {
  await app.inject({ url: `/health?api_key=${SECRET}` });
  await app.inject({ url: `/v1/session?api_key=${SECRET}&x=1` });
  await app.inject({ url: `/v1/messages/true_15551234567%40c.us_3EB0C0FFEE?apikey=${SECRET}`, headers: auth() });
  await app.inject({ url: '/v1/messages/120363012345678901-1600000000@g.us', headers: auth() });
  await send(app, { to: '+15551234567', text: 'hello' }, { headers: { 'x-extra': SECRET } });

  const text = logs.text();
  for (const secret of [SECRET, API_KEY, '15551234567', '120363012345678901', '1600000000']) {
    assert.ok(!text.includes(secret), `${secret} leaked into: ${text}`);
  }
  const urls = logs.lines().filter((l) => l.event === 'request').map((l) => l.url);
  assert.deepEqual(urls, [
    '/health?[redacted]',
    '/v1/session?[redacted]',
    '/v1/messages/true_[number]%40c.us_3EB0C0FFEE?[redacted]',
    '/v1/messages/[number]-[number]@g.us',
    '/v1/messages',
  ]);
}));

test('redactUrl keeps short path parts and marks a removed query', () => {
  assert.equal(redactUrl('/v1/messages/abc'), '/v1/messages/abc');
  assert.equal(redactUrl('/v1/messages/abc?'), '/v1/messages/abc?[redacted]');
  assert.equal(redactUrl('/x/1234?y=1?z=2'), '/x/1234?[redacted]');
  assert.equal(redactUrl('/x/%2B6281234567'), '/x/%2B[number]');
});

/** Small seeded PRNG (mulberry32), so the generated cases are the same on every run. */
function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('redactUrl, over generated URLs: no query content and no phone number survives', () => {
  const next = random(20261201);
  const pick = (items) => items[Math.floor(next() * items.length)];
  const digits = (n) => Array.from({ length: n }, () => String(Math.floor(next() * 10))).join('');
  const pieces = [() => 'v1', () => 'messages', () => `true_${digits(6 + Math.floor(next() * 15))}%40c.us_3EB0`, () => `${digits(6 + Math.floor(next() * 15))}@g.us`, () => `%2B${digits(11)}`, () => digits(Math.floor(next() * 5)), () => 'x'];
  for (let i = 0; i < 500; i += 1) {
    const path = `/${Array.from({ length: 1 + Math.floor(next() * 4) }, () => pick(pieces)()).join('/')}`;
    const secret = `s${digits(3)}Z${Math.floor(next() * 1e9).toString(36)}`;
    const query = pick(['', `?api_key=${secret}`, `?x=1&key=${secret}`, `?${secret}`]);
    const logged = redactUrl(path + query);
    assert.ok(!/[0-9]{5,}/.test(logged), `${path + query} -> ${logged}`);
    if (query !== '') {
      assert.ok(!logged.includes(secret), `${path + query} -> ${logged}`);
      assert.ok(logged.endsWith('?[redacted]'));
    } else {
      assert.ok(!logged.includes('?'));
    }
  }
});

test('a request whose client goes away before the answer is logged once, as aborted', () => withApp(async ({ app, logs }) => {
  await app.listen({ port: 0, host: '127.0.0.1' });
  await script(app, [{ type: 'delay', ms: 200 }]);
  const payload = JSON.stringify({ to: '15551234567', text: 'gone' });
  const socket = net.connect(app.server.address().port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`POST /v1/messages?api_key=${SECRET} HTTP/1.1\r\nHost: x\r\nX-Api-Key: ${API_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`);
  await sleep(60);
  socket.destroy();
  await sleep(300);
  const lines = logs.lines().filter((l) => l.event === 'request' && l.route === '/v1/messages');
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.equal(lines[0].aborted, true);
  assert.equal(lines[0].statusCode, null, 'no answer was started');
  assert.equal(lines[0].url, '/v1/messages?[redacted]');
  assert.ok(!logs.text().includes(SECRET));
}));

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

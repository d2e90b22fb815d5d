'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { fakeApp, auth } = require('./helpers');
const { clientErrorHandler } = require('../src/errors');

async function withApp(fn) {
  const ctx = await fakeApp();
  try {
    await fn(ctx);
  } finally {
    await ctx.app.close();
  }
}

const NO_BODY_ROUTES = [
  ['/v1/session/logout', { state: 'QR' }],
  ['/__fake/reset', { ok: true, state: 'READY' }],
];

test('logout and fake reset accept no body, an empty JSON body or {}', () => withApp(async ({ app }) => {
  for (const [url, expected] of NO_BODY_ROUTES) {
    for (const [headers, payload] of [[{}, undefined], [{ 'content-type': 'application/json' }, ''], [{ 'content-type': 'application/json' }, '{}'], [{ 'content-type': 'application/json; charset=utf-8' }, ' { } ']]) {
      const res = await app.inject({ method: 'POST', url, headers: auth(headers), payload });
      assert.equal(res.statusCode, 200, `${url} ${JSON.stringify(payload)}: ${res.body}`);
      assert.deepEqual(res.json(), expected);
    }
  }
}));

test('logout and fake reset reject any other body with 400 VALIDATION_FAILED naming the field', () => withApp(async ({ app }) => {
  const cases = [
    ['application/json', '{"force":true}', 'force'],
    ['application/json', 'null', 'body'],
    ['application/json', '[]', 'body'],
    ['application/json', '"x"', 'body'],
    ['application/json', '0', 'body'],
    ['text/plain', 'please', 'body'],
  ];
  for (const [url] of NO_BODY_ROUTES) {
    for (const [type, payload, field] of cases) {
      const res = await app.inject({ method: 'POST', url, headers: auth({ 'content-type': type }), payload });
      assert.equal(res.statusCode, 400, `${url} ${payload}: ${res.body}`);
      assert.equal(res.json().error.code, 'VALIDATION_FAILED');
      assert.equal(res.json().error.field, field, `${url} ${payload}`);
    }
    const broken = await app.inject({ method: 'POST', url, headers: auth({ 'content-type': 'application/json' }), payload: '{bad' });
    assert.equal(broken.json().error.code, 'INVALID_JSON', 'non-empty bodies still use the JSON parser');
    const poisoned = await app.inject({ method: 'POST', url, headers: auth({ 'content-type': 'application/json' }), payload: '{"__proto__":{}}' });
    assert.equal(poisoned.json().error.code, 'INVALID_JSON');
  }
  assert.equal(app.gateway.status().state, 'READY', 'no rejected logout ran');
}));

test('an empty JSON body is still INVALID_JSON for /v1/messages', () => withApp(async ({ app }) => {
  const res = await app.inject({ method: 'POST', url: '/v1/messages', headers: auth({ 'content-type': 'application/json' }), payload: '' });
  assert.equal(res.json().error.code, 'INVALID_JSON');
}));

test('OpenAPI: the no-input routes document an optional, empty body', () => withApp(async ({ app }) => {
  const doc = (await app.inject({ url: '/openapi.json' })).json();
  for (const [path, op] of [['/v1/session/logout', 'post'], ['/__fake/reset', 'post']]) {
    const body = doc.paths[path][op].requestBody;
    assert.equal(body.required, false, path);
    const schema = body.content['application/json'].schema;
    assert.equal(schema.additionalProperties, false);
    assert.deepEqual(schema.properties, {});
    assert.ok(doc.paths[path][op].responses['400'], `${path} documents 400`);
  }
  assert.equal(doc.paths['/v1/messages'].post.requestBody.required, true);
}));

/** Send raw bytes and collect everything until the server closes the socket. */
function rawExchange(port, bytes) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d) => { data += d; });
    socket.on('error', reject);
    socket.on('close', () => resolve(data));
    socket.write(bytes);
  });
}

function parseRaw(text) {
  const [head, body] = text.split('\r\n\r\n');
  const [statusLine, ...headerLines] = head.split('\r\n');
  const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) };
}

test('errors from node\'s HTTP parser use the contract error body (431, 400)', () => withApp(async ({ app }) => {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address();

  const big = parseRaw(await rawExchange(port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(20000)}\r\n\r\n`));
  assert.equal(big.status, 431);
  assert.match(big.headers['content-type'], /^application\/json/);
  assert.equal(Number(big.headers['content-length']), Buffer.byteLength(JSON.stringify(big.body)));
  assert.deepEqual(Object.keys(big.body), ['error']);
  assert.equal(big.body.error.code, 'HEADERS_TOO_LARGE');
  assert.equal(typeof big.body.error.message, 'string');

  const garbage = parseRaw(await rawExchange(port, 'THIS IS NOT HTTP\r\n\r\n'));
  assert.equal(garbage.status, 400);
  assert.equal(garbage.body.error.code, 'BAD_REQUEST');

  const health = await fetch(`http://127.0.0.1:${port}/health`);
  assert.equal(health.status, 200, 'the server keeps serving');
}));

test('clientErrorHandler writes nothing to a reset or destroyed socket', () => {
  const written = [];
  const socket = (over) => ({ destroyed: false, writable: true, write: (s) => written.push(s), destroy() { this.destroyed = true; }, ...over });
  clientErrorHandler.call(null, Object.assign(new Error('reset'), { code: 'ECONNRESET' }), socket());
  clientErrorHandler.call(null, new Error('x'), socket({ destroyed: true }));
  assert.deepEqual(written, []);
  const midResponse = socket({ _httpMessage: { headersSent: true } });
  clientErrorHandler.call(null, Object.assign(new Error('bad'), { code: 'HPE_INVALID_METHOD' }), midResponse);
  assert.deepEqual(written, [], 'a response already under way on the connection is not corrupted');
  assert.equal(midResponse.destroyed, true);
  const timeout = socket();
  clientErrorHandler.call(null, Object.assign(new Error('t'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), timeout);
  assert.match(written[0], /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assert.match(written[0], /"code":"REQUEST_TIMEOUT"/);
});

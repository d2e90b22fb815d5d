'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { fakeApp, auth, send, API_KEY, captureStream, FakeClient } = require('./helpers');
const { buildApp } = require('../src/app');
const { loadConfig } = require('../src/config');
const { WwebjsGateway } = require('../src/gateways/wwebjs');
const { wantsPng } = require('../src/routes/session');

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

async function withApp(env, fn) {
  const ctx = await fakeApp(env);
  try {
    await fn(ctx);
  } finally {
    await ctx.app.close();
  }
}

test('/health is 200 without a key and reports readiness of every state', () => withApp({}, async ({ app }) => {
  const res = await app.inject({ url: '/health' });
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.deepEqual(Object.keys(body).sort(), ['lastError', 'ready', 'since', 'state', 'status', 'uptimeSeconds']);
  assert.equal(body.status, 'ok');
  assert.equal(body.state, 'READY');
  assert.equal(body.ready, true);
  assert.equal(body.lastError, null);
  assert.equal(typeof body.uptimeSeconds, 'number');
  assert.ok(!Number.isNaN(Date.parse(body.since)));

  for (const state of ['STARTING', 'QR', 'AUTHENTICATED', 'DISCONNECTED', 'FAILED']) {
    await app.inject({ method: 'POST', url: '/__fake/state', payload: { state, error: state === 'FAILED' ? 'auth timeout' : undefined } });
    const h = (await app.inject({ url: '/health' })).json();
    assert.equal(h.state, state);
    assert.equal(h.ready, false);
  }
  assert.equal((await app.inject({ url: '/health' })).json().lastError, 'auth timeout');
  const head = await app.inject({ method: 'HEAD', url: '/health' });
  assert.equal(head.statusCode, 200);
}));

test('GET /v1/session reports state, qrPending and info', () => withApp({}, async ({ app }) => {
  const ready = (await app.inject({ url: '/v1/session', headers: auth() })).json();
  assert.equal(ready.state, 'READY');
  assert.equal(ready.ready, true);
  assert.equal(ready.qrPending, false);
  assert.equal(ready.info.wid, '15550001111@c.us');

  await app.inject({ method: 'POST', url: '/__fake/state', payload: { state: 'QR' } });
  const qr = (await app.inject({ url: '/v1/session', headers: auth() })).json();
  assert.equal(qr.state, 'QR');
  assert.equal(qr.ready, false);
  assert.equal(qr.qrPending, true);
  assert.equal(qr.info, undefined);
}));

test('GET /v1/session/qr: 404 NO_QR_PENDING, JSON with data URL, PNG bytes for Accept: image/png', () => withApp({}, async ({ app, printedQrs }) => {
  const none = await app.inject({ url: '/v1/session/qr', headers: auth() });
  assert.equal(none.statusCode, 404);
  assert.equal(none.json().error.code, 'NO_QR_PENDING');

  await app.inject({ method: 'POST', url: '/__fake/state', payload: { state: 'QR' } });
  const json = await app.inject({ url: '/v1/session/qr', headers: auth() });
  assert.equal(json.statusCode, 200);
  assert.match(json.headers['content-type'], /^application\/json/);
  const { qr, dataUrl } = json.json();
  assert.match(qr, /^fake-qr:[0-9a-f]{24}$/);
  assert.deepEqual(printedQrs, [qr], 'each new QR is printed once');
  assert.ok(dataUrl.startsWith('data:image/png;base64,'));
  assert.deepEqual(Buffer.from(dataUrl.split(',')[1], 'base64').subarray(0, 8), PNG_MAGIC);

  const png = await app.inject({ url: '/v1/session/qr', headers: auth({ accept: 'image/png' }) });
  assert.equal(png.statusCode, 200);
  assert.equal(png.headers['content-type'], 'image/png');
  assert.deepEqual(png.rawPayload.subarray(0, 8), PNG_MAGIC);
  assert.ok(png.rawPayload.length > 100);

  // A new QR replaces the old one.
  await app.inject({ method: 'POST', url: '/__fake/state', payload: { state: 'QR' } });
  assert.notEqual((await app.inject({ url: '/v1/session/qr', headers: auth() })).json().qr, qr);
}));

test('Accept negotiation for the QR picks PNG only when image/png is acceptable', () => {
  assert.equal(wantsPng('image/png'), true);
  assert.equal(wantsPng('application/json, image/png;q=0.5'), true);
  assert.equal(wantsPng('image/png;q=0'), false);
  assert.equal(wantsPng('*/*'), false);
  assert.equal(wantsPng('application/json'), false);
  assert.equal(wantsPng(undefined), false);
});

test('POST /v1/session/logout resets the fake to a pending QR', () => withApp({}, async ({ app }) => {
  const res = await app.inject({ method: 'POST', url: '/v1/session/logout', headers: auth() });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { state: 'QR' });
  const session = (await app.inject({ url: '/v1/session', headers: auth() })).json();
  assert.equal(session.qrPending, true);
  const blocked = await send(app, { to: '15551234567', text: 'x' });
  assert.equal(blocked.statusCode, 503);
}));

test('unknown routes and wrong methods get a JSON 404; nothing client-sent yields a 500', () => withApp({}, async ({ app }) => {
  for (const [method, url] of [['GET', '/nope'], ['DELETE', '/health'], ['PUT', '/v1/messages'], ['GET', '/v1/messages']]) {
    const res = await app.inject({ method, url, headers: auth() });
    assert.ok([404, 405].includes(res.statusCode), `${method} ${url} -> ${res.statusCode}`);
    assert.ok(['NOT_FOUND', 'METHOD_NOT_ALLOWED'].includes(res.json().error.code));
  }
  const weird = [
    { method: 'POST', url: '/v1/messages', headers: auth({ 'content-type': 'application/json' }), payload: '{"to":"15551234567","text":"x","media":null}' },
    { method: 'POST', url: '/v1/messages', headers: auth({ 'content-type': 'application/json' }), payload: '{"to":"15551234567","text":"x","media":[]}' },
    { method: 'POST', url: '/v1/messages', headers: auth({ 'content-type': 'application/json' }), payload: '{"to":"15551234567","text":{"a":1}}' },
    { method: 'POST', url: '/v1/messages', headers: auth({ 'content-type': 'application/json' }), payload: '{"to":"15551234567","constructor":{"prototype":{}},"text":"x"}' },
    { method: 'POST', url: '/v1/messages', headers: auth({ 'content-type': 'application/json; charset=utf-16' }), payload: '{}' },
    { method: 'POST', url: '/v1/messages', headers: auth({ 'content-type': 'text/plain' }), payload: 'hello' },
    { method: 'POST', url: '/v1/messages', headers: auth() },
    { method: 'POST', url: '/v1/session/logout', headers: auth({ 'content-type': 'application/json' }), payload: '{bad' },
    { method: 'GET', url: `/v1/messages/${'x'.repeat(600)}`, headers: auth() },
    { method: 'GET', url: '/v1/messages/', headers: auth() },
    { method: 'POST', url: '/__fake/state', payload: { state: 'SLEEPING' } },
    { method: 'POST', url: '/__fake/script', payload: { outcomes: [{ type: 'delay' }] } },
    { method: 'POST', url: '/__fake/script', payload: { outcomes: [{ type: 'explode' }] } },
    { method: 'POST', url: '/__fake/ack', payload: { id: 'nope', ack: 'READ' } },
  ];
  for (const req of weird) {
    const res = await app.inject(req);
    assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${req.url} ${req.payload} -> ${res.statusCode} ${res.body}`);
    assert.equal(typeof res.json().error.code, 'string', `${req.url} ${req.payload} -> ${res.body}`);
  }
}));

test('/openapi.json is OpenAPI 3 generated from the route schemas', () => withApp({}, async ({ app }) => {
  const res = await app.inject({ url: '/openapi.json' });
  assert.equal(res.statusCode, 200);
  const doc = res.json();
  assert.match(doc.openapi, /^3\.\d+\.\d+$/);
  assert.equal(typeof doc.info.title, 'string');
  assert.equal(typeof doc.info.version, 'string');
  assert.deepEqual(doc.components.securitySchemes.apiKey, { type: 'apiKey', in: 'header', name: 'X-Api-Key' });

  const expected = {
    '/health': ['get'],
    '/v1/session': ['get'],
    '/v1/session/qr': ['get'],
    '/v1/session/logout': ['post'],
    '/v1/messages': ['post'],
    '/v1/messages/{id}': ['get'],
    '/__fake/sent': ['get'],
    '/__fake/state': ['post'],
    '/__fake/script': ['post'],
    '/__fake/unregistered': ['post'],
    '/__fake/ack': ['post'],
    '/__fake/reset': ['post'],
  };
  for (const [path, methods] of Object.entries(expected)) {
    assert.ok(doc.paths[path], `missing path ${path}`);
    for (const m of methods) {
      const op = doc.paths[path][m];
      assert.ok(op, `missing ${m} ${path}`);
      assert.ok(Object.keys(op.responses).length > 0, `${m} ${path} has no responses`);
      for (const [status, r] of Object.entries(op.responses)) {
        assert.match(status, /^[1-5]\d\d$/);
        assert.equal(typeof r.description, 'string', `${m} ${path} ${status} lacks a description`);
      }
    }
  }
  assert.equal(doc.paths['/openapi.json'], undefined);

  const post = doc.paths['/v1/messages'].post;
  const schema = post.requestBody.content['application/json'].schema;
  assert.equal(post.requestBody.required, true);
  assert.deepEqual(schema.required, ['to']);
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(Object.keys(schema.properties).sort(), ['media', 'text', 'to']);
  assert.equal(schema.properties.text.maxLength, 65536);
  assert.deepEqual(schema.properties.media.required, ['data', 'mimetype', 'filename']);
  assert.equal(schema.properties.media.additionalProperties, false);
  assert.ok(new RegExp(schema.properties.to.pattern).test('+15551234567'));
  const header = post.parameters.find((p) => p.in === 'header' && p.name === 'idempotency-key');
  assert.ok(header, 'Idempotency-Key header documented');
  assert.deepEqual(Object.keys(post.responses).sort(), ['201', '400', '401', '409', '413', '422', '429', '502', '503', '504']);
  assert.deepEqual(post.security, [{ apiKey: [] }]);
  assert.ok(doc.paths['/v1/messages/{id}'].get.parameters.some((p) => p.in === 'path' && p.name === 'id' && p.required));
  assert.ok(doc.paths['/v1/session/qr'].get.responses['200'].content['image/png']);
  assert.equal(doc.paths['/health'].get.security, undefined);

  // Every $ref in the document must resolve.
  const refs = [];
  JSON.stringify(doc, (k, v) => {
    if (k === '$ref') refs.push(v);
    return v;
  });
  for (const ref of refs) {
    assert.ok(ref.startsWith('#/'), ref);
    let node = doc;
    for (const part of ref.slice(2).split('/')) node = node && node[part];
    assert.ok(node, `unresolved ${ref}`);
  }
}));

test('the API key never appears in log output, even at trace level', async () => {
  const logs = captureStream();
  const config = loadConfig({ BRIDGE_DRIVER: 'fake', BRIDGE_API_KEY: API_KEY, BRIDGE_LOG_LEVEL: 'trace', BRIDGE_SEND_TIMEOUT_MS: '50' });
  const app = buildApp({ config, logStream: logs });
  await app.ready();
  await app.gateway.start();
  app.log.info({ config }, 'a careless log call');
  app.log.info({ req: { headers: { 'x-api-key': API_KEY } } }, 'another');
  await app.inject({ url: '/v1/session', headers: auth() });
  await app.inject({ url: '/v1/session', headers: { 'x-api-key': `${API_KEY}-wrong` } });
  await send(app, { to: '15551234567', text: API_KEY.slice(0, 4) });
  await send(app, { to: 'bad', text: 'x' });
  await app.inject({ method: 'POST', url: '/__fake/script', payload: { outcomes: [{ type: 'timeout' }] } });
  await send(app, { to: '15551234567', text: 'x' });
  await app.close();
  const text = logs.text();
  assert.ok(text.length > 500, 'trace logging produced output');
  assert.ok(text.includes('[redacted]'));
  assert.ok(!text.includes(API_KEY), 'API key leaked into logs');
});

test('wwebjs driver: fake routes are absent and sends are 503 until the client is READY', async () => {
  const clients = [];
  const gateway = new WwebjsGateway({
    createClient: () => {
      const c = new FakeClient();
      clients.push(c);
      return c;
    },
    printQr: () => {},
    watchdogIntervalMs: 0,
  });
  const config = loadConfig({ BRIDGE_API_KEY: API_KEY, BRIDGE_LOG_LEVEL: 'silent', BRIDGE_MIN_INTERVAL_MS: '0', BRIDGE_JITTER_MS: '0', BRIDGE_STORE: 'memory', BRIDGE_PACING: '0' });
  assert.equal(config.driver, 'wwebjs');
  const app = buildApp({ config, gateway });
  await app.ready();
  await gateway.start();
  try {
    for (const [method, url] of [['GET', '/__fake/sent'], ['POST', '/__fake/state'], ['POST', '/__fake/script'], ['POST', '/__fake/unregistered'], ['POST', '/__fake/reset'], ['POST', '/__fake/ack']]) {
      const res = await app.inject({ method, url, payload: method === 'POST' ? {} : undefined });
      assert.equal(res.statusCode, 404, `${method} ${url}`);
      assert.equal(res.json().error.code, 'NOT_FOUND');
    }
    const openapi = (await app.inject({ url: '/openapi.json' })).json();
    assert.ok(!Object.keys(openapi.paths).some((p) => p.startsWith('/__fake')));

    const starting = await send(app, { to: '15551234567', text: 'x' });
    assert.equal(starting.statusCode, 503);
    assert.equal(starting.json().error.state, 'STARTING');

    clients[0].emit('qr', 'real-qr-payload');
    const qr = await app.inject({ url: '/v1/session/qr', headers: auth() });
    assert.equal(qr.json().qr, 'real-qr-payload');

    clients[0].emit('authenticated');
    clients[0].emit('ready');
    const ok = await send(app, { to: '+15551234567', text: 'hello' });
    assert.equal(ok.statusCode, 201, ok.body);
    assert.deepEqual(ok.json(), { id: 'true_15551234567@c.us_ABC1', to: '15551234567@c.us', ack: 'PENDING' });
    assert.deepEqual(clients[0].calls.getNumberId, ['15551234567']);

    clients[0].emit('message_ack', { id: { _serialized: ok.json().id } }, 3);
    const status = await app.inject({ url: `/v1/messages/${encodeURIComponent(ok.json().id)}`, headers: auth() });
    assert.equal(status.json().ack, 'READ');
  } finally {
    await app.close();
  }
  assert.equal(clients[0].calls.destroy, 1, 'closing the app destroys the client');
});

'use strict';

/**
 * Liveness and readiness probes, the Swagger UI page, and the OpenAPI
 * document matching what the server enforces.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { fakeApp, auth, send, API_KEY } = require('./helpers');

async function withApp(env, fn) {
  const ctx = await fakeApp(env);
  try {
    await fn(ctx);
  } finally {
    await ctx.app.close();
  }
}

function setState(app, state, error) {
  return app.inject({ method: 'POST', url: '/__fake/state', payload: error === undefined ? { state } : { state, error } });
}

test('/health/ready is 200 only while READY; /health stays 200 in every state; neither needs the key', () => withApp({}, async ({ app }) => {
  const ready = await app.inject({ url: '/health/ready' });
  assert.equal(ready.statusCode, 200, ready.body);
  assert.equal(ready.json().state, 'READY');
  assert.equal(ready.json().ready, true);

  for (const [state, error, words] of [
    ['QR', undefined, /QR code to be scanned/],
    ['STARTING', undefined, /starting/],
    ['AUTHENTICATED', undefined, /still loading/],
    ['FAILED', 'net::ERR_NAME_NOT_RESOLVED', /last error: net::ERR_NAME_NOT_RESOLVED/],
    ['DISCONNECTED', 'disconnected: LOGOUT', /last error: disconnected: LOGOUT/],
  ]) {
    await setState(app, state, error);
    const probe = await app.inject({ url: '/health/ready' });
    assert.equal(probe.statusCode, 503, `${state}: ${probe.body}`);
    const body = probe.json();
    assert.equal(body.error.code, 'NOT_READY');
    assert.equal(body.error.state, state);
    assert.match(body.error.message, new RegExp(`state ${state}`));
    assert.match(body.error.message, words);
    const live = await app.inject({ url: '/health' });
    assert.equal(live.statusCode, 200, `liveness in ${state}`);
    assert.equal(live.json().ready, false);
  }

  await setState(app, 'READY');
  assert.equal((await app.inject({ url: '/health/ready' })).statusCode, 200);
}));

test('the authenticated GET /v1/session keeps its contract: 401 with the error body on a bad or missing key', () => withApp({}, async ({ app }) => {
  for (const headers of [{}, { 'x-api-key': 'wrong' }]) {
    const res = await app.inject({ url: '/v1/session', headers });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().error.code, 'UNAUTHORIZED');
  }
  const ok = await app.inject({ url: '/v1/session', headers: auth() });
  assert.equal(ok.statusCode, 200);
  assert.deepEqual([ok.json().state, ok.json().ready], ['READY', true]);
}));

test('/docs serves the Swagger UI from the package (no CDN, no key) and /openapi.json is still served', () => withApp({}, async ({ app }) => {
  const page = await app.inject({ url: '/docs' });
  assert.equal(page.statusCode, 200);
  assert.match(page.headers['content-type'], /^text\/html/);
  assert.match(page.body, /swagger-ui/);
  assert.ok(!page.body.includes(API_KEY), 'the page must not carry the API key');

  const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(assets.length >= 3, page.body);
  for (const asset of assets) {
    assert.ok(asset.startsWith('/docs/'), `served by the bridge itself, not a CDN: ${asset}`);
    const res = await app.inject({ url: asset });
    assert.equal(res.statusCode, 200, asset);
    assert.ok(!res.body.includes(API_KEY), `${asset} must not carry the API key`);
  }

  const doc = await app.inject({ url: '/openapi.json' });
  assert.equal(doc.statusCode, 200);
  const paths = Object.keys(doc.json().paths);
  assert.ok(paths.includes('/health/ready'));
  assert.ok(!paths.some((p) => p.startsWith('/docs')), 'the UI routes are not part of the API');
}));

test('the OpenAPI document declares what the server enforces', () => withApp({}, async ({ app }) => {
  const doc = (await app.inject({ url: '/openapi.json' })).json();

  // 414 on an over-long message id, as the router answers it.
  const getMessage = doc.paths['/v1/messages/{id}'].get;
  assert.ok('414' in getMessage.responses, Object.keys(getMessage.responses).join(','));
  const long = await app.inject({ url: `/v1/messages/${'a'.repeat(600)}`, headers: auth() });
  assert.equal(long.statusCode, 414);
  assert.equal(long.json().error.code, 'URI_TOO_LONG');

  // The base64 rule on media.data, and the same answer from the server.
  const media = doc.paths['/v1/messages'].post.requestBody.content['application/json'].schema.properties.media;
  const pattern = new RegExp(media.properties.data.pattern, 'u');
  for (const data of ['aGVsbG8=', 'aGk=', 'AAAA']) assert.ok(pattern.test(data), data);
  for (const data of ['aGVs bG8=', 'data:image/png;base64,AAAA', 'aGk=x', '_-_-']) {
    assert.ok(!pattern.test(data), data);
    const res = await send(app, { to: '15551234567', media: { data, mimetype: 'image/png', filename: 'a.png' } });
    assert.equal(res.statusCode, 400, data);
    assert.equal(res.json().error.field, 'media.data');
    assert.match(res.json().error.message, /base64/);
  }

  // No-input routes: optional body, and no `nullable` promise the server
  // does not keep (a literal JSON null is refused).
  const logout = doc.paths['/v1/session/logout'].post.requestBody;
  assert.equal(logout.required, false);
  assert.equal(logout.content['application/json'].schema.nullable, undefined);
  const nullBody = await app.inject({ method: 'POST', url: '/v1/session/logout', headers: auth({ 'content-type': 'application/json' }), payload: 'null' });
  assert.equal(nullBody.statusCode, 400);

  // The readiness probe's 503 is declared.
  assert.ok('503' in doc.paths['/health/ready'].get.responses);
}));

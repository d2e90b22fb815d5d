'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { fakeApp, auth, send, sent, script, API_KEY } = require('./helpers');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function withApp(env, fn) {
  const ctx = await fakeApp(env);
  try {
    await fn(ctx);
  } finally {
    await ctx.app.close();
  }
}

function assertError(res, status, code, field) {
  assert.equal(res.statusCode, status, res.body);
  const body = res.json();
  assert.equal(body.error.code, code, res.body);
  assert.equal(typeof body.error.message, 'string');
  if (field !== undefined) {
    assert.equal(body.error.field, field, res.body);
    assert.ok(body.error.message.includes(field), `message should name ${field}: ${body.error.message}`);
  }
  return body.error;
}

test('201 for text to every accepted recipient form, normalised chat id returned', () => withApp({}, async ({ app }) => {
  const cases = [
    ['+15551234567', '15551234567@c.us'],
    ['15551234567', '15551234567@c.us'],
    ['15551234567@c.us', '15551234567@c.us'],
    ['120363012345678901@g.us', '120363012345678901@g.us'],
    ['15551234567-1600000000@g.us', '15551234567-1600000000@g.us'],
  ];
  for (const [to, chatId] of cases) {
    const res = await send(app, { to, text: `hello ${to}` });
    assert.equal(res.statusCode, 201, res.body);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), ['ack', 'id', 'to']);
    assert.equal(body.to, chatId);
    assert.equal(body.ack, 'PENDING');
    assert.match(body.id, /^true_/);
  }
  const delivered = await sent(app);
  assert.equal(delivered.length, cases.length);
  assert.deepEqual(delivered.map((m) => m.to), cases.map((c) => c[1]));
  assert.equal(delivered[0].text, 'hello +15551234567');
  assert.equal(delivered[0].media, null);
  assert.equal(delivered[0].idempotencyKey, null);
}));

test('400 VALIDATION_FAILED names the offending field', () => withApp({}, async ({ app }) => {
  const good = { data: Buffer.from('hi').toString('base64'), mimetype: 'text/plain', filename: 'a.txt' };
  const cases = [
    [{ text: 'x' }, 'to'],
    [{ to: 'not-a-number', text: 'x' }, 'to'],
    [{ to: '12345', text: 'x' }, 'to'],
    [{ to: '+1555123456789012345678', text: 'x' }, 'to'],
    [{ to: 15551234567, text: 'x' }, 'to'],
    [{ to: '15551234567' }, 'text'],
    [{ to: '15551234567', text: '' }, 'text'],
    [{ to: '15551234567', text: 'x'.repeat(65537) }, 'text'],
    [{ to: '15551234567', text: 'x', extra: true }, 'extra'],
    [{ to: '15551234567', media: { ...good, data: 'not base64!' } }, 'media.data'],
    [{ to: '15551234567', media: { ...good, data: 'QUJD\nREVG' } }, 'media.data'],
    [{ to: '15551234567', media: { ...good, data: 'QUJ' } }, 'media.data'],
    [{ to: '15551234567', media: { ...good, mimetype: 'png' } }, 'media.mimetype'],
    [{ to: '15551234567', media: { ...good, filename: '../etc/passwd' } }, 'media.filename'],
    [{ to: '15551234567', media: { ...good, filename: 'a\\b.txt' } }, 'media.filename'],
    [{ to: '15551234567', media: { ...good, filename: 'f'.repeat(256) } }, 'media.filename'],
    [{ to: '15551234567', media: { data: good.data, mimetype: 'text/plain' } }, 'media.filename'],
    [{ to: '15551234567', media: { ...good, caption: 'no' } }, 'media.caption'],
  ];
  for (const [payload, field] of cases) {
    assertError(await send(app, payload), 400, 'VALIDATION_FAILED', field);
  }
  assert.equal((await sent(app)).length, 0);
}));

test('control characters inside a media mimetype (or its parameters) are 400 naming media.mimetype', () => withApp({}, async ({ app }) => {
  const data = Buffer.from('hi').toString('base64');
  const bad = [
    'text/plain; charset=utf-8\r\nX-Injected: yes',
    'text/plain; charset=utf-8\n',
    'audio/ogg; codecs=op\u0000us',
    'audio/ogg; codecs=opus\u007f',
    'text/plain; a=b\tc',
    'text/plain\r\n; a=b',
  ];
  for (const mimetype of bad) {
    const error = assertError(await send(app, { to: '15551234567', media: { data, mimetype, filename: 'a.txt' } }), 400, 'VALIDATION_FAILED', 'media.mimetype');
    assert.match(error.message, /control characters/, JSON.stringify(mimetype));
  }
  for (const mimetype of ['audio/ogg; codecs=opus', 'text/plain;charset=utf-8', 'application/vnd.ms-excel; name="a b.xls"']) {
    const res = await send(app, { to: '15551234567', media: { data, mimetype, filename: 'a.txt' } });
    assert.equal(res.statusCode, 201, `${mimetype}: ${res.body}`);
  }
  assert.equal((await sent(app)).length, 3);
}));

test('control characters or separators in a media filename are 400 naming media.filename', () => withApp({}, async ({ app }) => {
  const data = Buffer.from('hi').toString('base64');
  for (const filename of ['a\r\nX-Injected: yes.txt', 'report\n.pdf', 'a\u0000.txt', 'tab\there.txt', 'del\u007f.txt', '../etc', 'a/b.txt', '..']) {
    const error = assertError(await send(app, { to: '15551234567', media: { data, mimetype: 'text/plain', filename } }), 400, 'VALIDATION_FAILED', 'media.filename');
    assert.match(error.message, /control characters/, JSON.stringify(filename));
  }
  for (const filename of ['report.pdf', 'Rapport – décembre.pdf', 'a b.txt']) {
    const res = await send(app, { to: '15551234567', media: { data, mimetype: 'text/plain', filename } });
    assert.equal(res.statusCode, 201, `${filename}: ${res.body}`);
  }
  assert.equal((await sent(app)).length, 3);
}));

test('400 for a bad Idempotency-Key header names the header', () => withApp({}, async ({ app }) => {
  for (const key of ['has space', 'x'.repeat(256), 'semi;colon']) {
    assertError(await send(app, { to: '15551234567', text: 'x' }, { key }), 400, 'VALIDATION_FAILED', 'idempotency-key');
  }
  assert.equal((await send(app, { to: '15551234567', text: 'x' }, { key: 'Ab0._:-' })).statusCode, 201);
}));

test('400 INVALID_JSON for unparseable bodies; non-object bodies are VALIDATION_FAILED', () => withApp({}, async ({ app }) => {
  const post = (payload, type = 'application/json') => app.inject({ method: 'POST', url: '/v1/messages', headers: auth({ 'content-type': type }), payload });
  assertError(await post('{"to": "15551234567", "text": '), 400, 'INVALID_JSON');
  assertError(await post(''), 400, 'INVALID_JSON');
  assertError(await post('{"__proto__": {"x": 1}, "to": "15551234567", "text": "x"}'), 400, 'INVALID_JSON');
  assertError(await post('[1,2]'), 400, 'VALIDATION_FAILED', 'body');
  assertError(await post('null'), 400, 'VALIDATION_FAILED', 'body');
  const other = await post('hello', 'application/xml');
  assert.equal(other.statusCode, 415);
  assert.equal(other.json().error.code, 'UNSUPPORTED_MEDIA_TYPE');
}));

test('401 for missing or wrong X-Api-Key on every /v1 route; /health needs none', () => withApp({}, async ({ app }) => {
  const routes = [
    ['GET', '/v1/session'],
    ['GET', '/v1/session/qr'],
    ['POST', '/v1/session/logout'],
    ['POST', '/v1/messages'],
    ['GET', '/v1/messages/abc'],
  ];
  for (const [method, url] of routes) {
    for (const headers of [{}, { 'x-api-key': 'wrong' }, { 'x-api-key': `${API_KEY}x` }, { 'x-api-key': '' }]) {
      const res = await app.inject({ method, url, headers, payload: method === 'POST' ? { to: '15551234567', text: 'x' } : undefined });
      assertError(res, 401, 'UNAUTHORIZED');
    }
  }
  const health = await app.inject({ url: '/health' });
  assert.equal(health.statusCode, 200);
  assert.equal((await sent(app)).length, 0);
  assert.equal(app.gateway.status().state, 'READY', 'unauthenticated logout must not run');
}));

test('media is delivered with size and sha256; decoded size above the limit is 413 MEDIA_TOO_LARGE', () => withApp({ BRIDGE_MEDIA_MAX_BYTES: '1000' }, async ({ app, config }) => {
  const bytes = crypto.randomBytes(1000);
  const ok = await send(app, { to: '15551234567', text: 'caption', media: { data: bytes.toString('base64'), mimetype: 'application/octet-stream', filename: 'blob.bin' } });
  assert.equal(ok.statusCode, 201, ok.body);
  const [msg] = await sent(app);
  assert.deepEqual(msg.media, {
    filename: 'blob.bin',
    mimetype: 'application/octet-stream',
    size: 1000,
    sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
  });
  assert.equal(msg.text, 'caption');

  const big = crypto.randomBytes(1001).toString('base64');
  assertError(await send(app, { to: '15551234567', media: { data: big, mimetype: 'image/png', filename: 'big.png' } }), 413, 'MEDIA_TOO_LARGE');

  const huge = 'A'.repeat(config.bodyLimit + 4);
  assertError(await send(app, { to: '15551234567', media: { data: huge, mimetype: 'image/png', filename: 'huge.png' } }), 413, 'PAYLOAD_TOO_LARGE');
  assert.equal((await sent(app)).length, 1);
}));

test('a second request with an in-flight key waits for the first and gets its answer replayed; one delivery', () => withApp({}, async ({ app }) => {
  await script(app, [{ type: 'delay', ms: 150 }]);
  const body = { to: '15551234567', text: 'once' };
  const first = send(app, body, { key: 'order-1' });
  await sleep(30);
  const during = await send(app, body, { key: 'order-1' });
  const firstRes = await first;
  assert.equal(firstRes.statusCode, 201);
  assert.equal(firstRes.headers['idempotency-replay'], undefined);
  assert.equal(during.statusCode, 201, during.body);
  assert.equal(during.headers['idempotency-replay'], 'true');
  assert.deepEqual(during.json(), firstRes.json());

  const replay = await send(app, { text: 'once', to: '15551234567' }, { key: 'order-1' });
  assert.equal(replay.statusCode, 201);
  assert.equal(replay.headers['idempotency-replay'], 'true');
  assert.deepEqual(replay.json(), firstRes.json());

  const delivered = await sent(app);
  assert.equal(delivered.length, 1);
  assert.equal(delivered[0].idempotencyKey, 'order-1');
}));

test('422 IDEMPOTENCY_KEY_MISMATCH for a reused key with another body, in flight or done', () => withApp({}, async ({ app }) => {
  assert.equal((await send(app, { to: '15551234567', text: 'a' }, { key: 'k-done' })).statusCode, 201);
  assertError(await send(app, { to: '15551234567', text: 'b' }, { key: 'k-done' }), 422, 'IDEMPOTENCY_KEY_MISMATCH');

  await script(app, [{ type: 'delay', ms: 100 }]);
  const pending = send(app, { to: '15551234567', text: 'c' }, { key: 'k-flight' });
  await sleep(20);
  assertError(await send(app, { to: '15557654321', text: 'c' }, { key: 'k-flight' }), 422, 'IDEMPOTENCY_KEY_MISMATCH');
  assert.equal((await pending).statusCode, 201);
  assert.equal((await sent(app)).length, 2);
}));

test('422 NOT_ON_WHATSAPP via the unregistered list and via a scripted outcome', () => withApp({}, async ({ app }) => {
  const reg = await app.inject({ method: 'POST', url: '/__fake/unregistered', payload: { numbers: ['15550000000'] } });
  assert.equal(reg.statusCode, 200);
  assertError(await send(app, { to: '+15550000000', text: 'x' }), 422, 'NOT_ON_WHATSAPP');
  await script(app, [{ type: 'not_on_whatsapp' }]);
  assertError(await send(app, { to: '15551234567', text: 'x' }, { key: 'nw' }), 422, 'NOT_ON_WHATSAPP');
  // Definitive failure: the key is released and a retry may send.
  assert.equal((await send(app, { to: '15551234567', text: 'x' }, { key: 'nw' })).statusCode, 201);
  assert.equal((await sent(app)).length, 1);
}));

test('429 RATE_LIMITED carries Retry-After header and body field; nothing sent; key released', () => withApp({}, async ({ app }) => {
  await script(app, [{ type: 'rate_limited', retryAfter: 7 }]);
  const res = await send(app, { to: '15551234567', text: 'x' }, { key: 'rl' });
  const err = assertError(res, 429, 'RATE_LIMITED');
  assert.equal(res.headers['retry-after'], '7');
  assert.equal(err.retryAfter, 7);
  assert.equal((await sent(app)).length, 0);
  assert.equal((await send(app, { to: '15551234567', text: 'x' }, { key: 'rl' })).statusCode, 201);
}));

test('429 QUEUE_FULL when waiting + running reaches BRIDGE_QUEUE_MAX', () => withApp({ BRIDGE_QUEUE_MAX: '2' }, async ({ app }) => {
  await script(app, [{ type: 'delay', ms: 200 }]);
  const a = send(app, { to: '15551234567', text: 'a' });
  const b = send(app, { to: '15551234567', text: 'b' });
  await sleep(30);
  const res = await send(app, { to: '15551234567', text: 'c' }, { key: 'qf' });
  const err = assertError(res, 429, 'QUEUE_FULL');
  assert.match(res.headers['retry-after'], /^[1-9][0-9]*$/);
  assert.equal(err.retryAfter, Number(res.headers['retry-after']));
  assert.equal((await a).statusCode, 201);
  assert.equal((await b).statusCode, 201);
  assert.equal((await send(app, { to: '15551234567', text: 'c' }, { key: 'qf' })).statusCode, 201, 'key released after QUEUE_FULL');
}));

test('503 NOT_READY with state, before enqueueing and again when the job starts', () => withApp({ BRIDGE_QUEUE_MAX: '5' }, async ({ app }) => {
  await app.inject({ method: 'POST', url: '/__fake/state', payload: { state: 'DISCONNECTED', error: 'phone offline' } });
  const err = assertError(await send(app, { to: '15551234567', text: 'x' }, { key: 'nr' }), 503, 'NOT_READY');
  assert.equal(err.state, 'DISCONNECTED');

  await app.inject({ method: 'POST', url: '/__fake/state', payload: { state: 'READY' } });
  await script(app, [{ type: 'delay', ms: 150 }]);
  const running = send(app, { to: '15551234567', text: 'first' });
  await sleep(20);
  const queued = send(app, { to: '15551234567', text: 'second' }, { key: 'nr' });
  await sleep(20);
  await app.inject({ method: 'POST', url: '/__fake/state', payload: { state: 'QR' } });
  assert.equal((await running).statusCode, 201);
  const late = assertError(await queued, 503, 'NOT_READY');
  assert.equal(late.state, 'QR');
  assert.deepEqual((await sent(app)).map((m) => m.text), ['first']);
}));

test('502 SEND_FAILED with the gateway message; nothing sent', () => withApp({}, async ({ app }) => {
  await script(app, [{ type: 'send_failed', message: 'Evaluation failed: boom' }]);
  const err = assertError(await send(app, { to: '15551234567', text: 'x' }), 502, 'SEND_FAILED');
  assert.equal(err.message, 'Evaluation failed: boom');
  assert.equal((await sent(app)).length, 0);
}));

test('a key still in flight when the wait runs out is 409; the replay comes once the send finished', () => withApp({ BRIDGE_SEND_TIMEOUT_MS: '150' }, async ({ app }) => {
  await script(app, [{ type: 'delay', ms: 600 }]);
  const body = { to: '15551234567', text: 'slow' };
  const first = send(app, body, { key: 'slow-1' });
  await sleep(30);
  const during = assertError(await send(app, body, { key: 'slow-1' }), 409, 'IDEMPOTENCY_IN_FLIGHT');
  assert.match(during.message, /after waiting 150 ms/);
  assertError(await first, 504, 'SEND_TIMEOUT');
  await sleep(700);
  const replay = await send(app, body, { key: 'slow-1' });
  assert.equal(replay.statusCode, 201, replay.body);
  assert.equal(replay.headers['idempotency-replay'], 'true');
  assert.equal((await sent(app)).length, 1);
}));

test('a waiter whose in-flight key was released by a failure sends itself; one delivery', () => withApp({}, async ({ app }) => {
  await script(app, [{ type: 'delay', ms: 100 }, { type: 'send_failed', message: 'Evaluation failed: boom' }]);
  // The delay outcome is consumed by an unrelated send so that the keyed one
  // runs second and fails while the waiter waits.
  const unrelated = send(app, { to: '15550000001', text: 'first in the queue' });
  const body = { to: '15551234567', text: 'retry me' };
  const first = send(app, body, { key: 'fail-1' });
  await sleep(30);
  const waiter = send(app, body, { key: 'fail-1' });
  assert.equal((await unrelated).statusCode, 201);
  assertError(await first, 502, 'SEND_FAILED');
  const res = await waiter;
  assert.equal(res.statusCode, 201, res.body);
  assert.equal(res.headers['idempotency-replay'], undefined, 'a fresh send, not a replay');
  const delivered = (await sent(app)).filter((m) => m.idempotencyKey === 'fail-1');
  assert.equal(delivered.length, 1);
  assert.equal(delivered[0].id, res.json().id);
}));

test('504 SEND_TIMEOUT, then a retry with the same key replays instead of sending twice', () => withApp({ BRIDGE_SEND_TIMEOUT_MS: '150' }, async ({ app }) => {
  await script(app, [{ type: 'timeout' }]);
  const body = { to: '15551234567', text: 'ambiguous' };
  const started = Date.now();
  assertError(await send(app, body, { key: 'to-1' }), 504, 'SEND_TIMEOUT');
  assert.ok(Date.now() - started >= 140);
  // The send finishes 100 ms after the 504, within this request's wait.
  const retry = await send(app, body, { key: 'to-1' });
  assert.equal(retry.statusCode, 201, retry.body);
  assert.equal(retry.headers['idempotency-replay'], 'true');
  const delivered = await sent(app);
  assert.equal(delivered.length, 1);
  assert.equal(retry.json().id, delivered[0].id);
  const status = await app.inject({ url: `/v1/messages/${encodeURIComponent(delivered[0].id)}`, headers: auth() });
  assert.equal(status.statusCode, 200, 'late completion is recorded in the message store');
}));

test('the send timeout starts when the job starts, not when it is queued', () => withApp({ BRIDGE_SEND_TIMEOUT_MS: '150' }, async ({ app }) => {
  await script(app, [{ type: 'delay', ms: 120 }, { type: 'delay', ms: 120 }]);
  const a = send(app, { to: '15551234567', text: 'a' });
  const b = send(app, { to: '15551234567', text: 'b' });
  assert.equal((await a).statusCode, 201);
  assert.equal((await b).statusCode, 201, 'b waited ~120 ms in the queue plus 120 ms sending, more than the 150 ms timeout in total');
}));

test('sends are serial and paced by BRIDGE_MIN_INTERVAL_MS', () => withApp({ BRIDGE_MIN_INTERVAL_MS: '120' }, async ({ app }) => {
  const results = await Promise.all([1, 2, 3].map((i) => send(app, { to: '15551234567', text: `m${i}` })));
  assert.deepEqual(results.map((r) => r.statusCode), [201, 201, 201]);
  const at = (await sent(app)).map((m) => Date.parse(m.at));
  assert.ok(at[1] - at[0] >= 115, `gap ${at[1] - at[0]}`);
  assert.ok(at[2] - at[1] >= 115, `gap ${at[2] - at[1]}`);
}));

test('GET /v1/messages/:id returns the stored message and follows ack updates; 404 otherwise', () => withApp({}, async ({ app }) => {
  const { id } = (await send(app, { to: '15551234567', text: 'track me' })).json();
  const url = `/v1/messages/${encodeURIComponent(id)}`;
  const first = await app.inject({ url, headers: auth() });
  assert.equal(first.statusCode, 200);
  assert.deepEqual(Object.keys(first.json()).sort(), ['ack', 'id', 'to', 'updatedAt']);
  assert.equal(first.json().ack, 'PENDING');
  assert.ok(!Number.isNaN(Date.parse(first.json().updatedAt)));

  for (const ack of ['SERVER', 'DEVICE', 'READ']) {
    const res = await app.inject({ method: 'POST', url: '/__fake/ack', payload: { id, ack } });
    assert.equal(res.statusCode, 200);
    assert.equal((await app.inject({ url, headers: auth() })).json().ack, ack);
  }
  assertError(await app.inject({ url: '/v1/messages/true_1@c.us_NOPE', headers: auth() }), 404, 'MESSAGE_NOT_FOUND');
}));

test('fake reset clears deliveries, scripts, unregistered numbers and both stores', () => withApp({}, async ({ app }) => {
  const { id } = (await send(app, { to: '15551234567', text: 'x' }, { key: 'r1' })).json();
  await script(app, [{ type: 'send_failed' }]);
  await app.inject({ method: 'POST', url: '/__fake/unregistered', payload: { numbers: ['15557777777'] } });
  await app.inject({ method: 'POST', url: '/__fake/state', payload: { state: 'FAILED', error: 'x' } });
  const reset = await app.inject({ method: 'POST', url: '/__fake/reset' });
  assert.deepEqual(reset.json(), { ok: true, state: 'READY' });
  assert.equal((await sent(app)).length, 0);
  assert.equal((await app.inject({ url: `/v1/messages/${encodeURIComponent(id)}`, headers: auth() })).statusCode, 404);
  const again = await send(app, { to: '15557777777', text: 'x' }, { key: 'r1' });
  assert.equal(again.statusCode, 201, 'script, unregistered list and idempotency record are gone');
  assert.equal(again.headers['idempotency-replay'], undefined);
}));

'use strict';

/**
 * POST /v1/receipts/query: many messages' delivery state in one request,
 * driven by the fake driver's /__fake/ack through the real app.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { fakeApp, auth, send } = require('./helpers');
const { RECEIPTS_MAX_IDS } = require('../src/routes/receipts');

async function withApp(env, fn) {
  const ctx = await fakeApp(env);
  try {
    await fn(ctx);
  } finally {
    await ctx.app.close();
  }
}

function query(app, payload, headers = auth()) {
  return app.inject({ method: 'POST', url: '/v1/receipts/query', headers, payload });
}

function ack(app, id, state) {
  return app.inject({ method: 'POST', url: '/__fake/ack', payload: { id, ack: state } });
}

test('each id answered in the order asked: acks as they arrived, unknown ids as unknown', () => withApp({}, async ({ app }) => {
  const first = (await send(app, { to: '+15551230001', text: 'one' })).json();
  const second = (await send(app, { to: '+15551230002', text: 'two' })).json();
  assert.equal((await ack(app, first.id, 'SERVER')).statusCode, 200);
  assert.equal((await ack(app, first.id, 'READ')).statusCode, 200);
  assert.equal((await ack(app, second.id, 'DEVICE')).statusCode, 200);

  const res = await query(app, { ids: [second.id, 'never-sent', first.id, second.id] });
  assert.equal(res.statusCode, 200, res.body);
  const { receipts } = res.json();
  assert.deepEqual(receipts.map((r) => [r.id, r.known, r.ack]), [
    [second.id, true, 'DEVICE'],
    ['never-sent', false, null],
    [first.id, true, 'READ'],
    [second.id, true, 'DEVICE'],
  ]);
  assert.equal(receipts[0].to, '15551230002@c.us');
  assert.ok(!Number.isNaN(Date.parse(receipts[0].updatedAt)));
  assert.equal(receipts[0].acks.DEVICE, receipts[0].updatedAt);
  assert.deepEqual(receipts[1], { id: 'never-sent', known: false, to: null, ack: null, updatedAt: null, acks: {} });
}));

test('a message with no ack yet is PENDING', () => withApp({}, async ({ app }) => {
  const sent = (await send(app, { to: '+15551230003', text: 'x' })).json();
  const { receipts: [only] } = (await query(app, { ids: [sent.id] })).json();
  assert.equal(only.known, true);
  assert.equal(only.ack, 'PENDING');
}));

test('batches are bounded: the limit passes, one more is a 400 naming ids', () => withApp({}, async ({ app }) => {
  const ids = Array.from({ length: RECEIPTS_MAX_IDS }, (_, i) => `id-${i}`);
  const ok = await query(app, { ids });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(ok.json().receipts.length, RECEIPTS_MAX_IDS);
  assert.ok(ok.json().receipts.every((r) => r.known === false));

  const over = await query(app, { ids: [...ids, 'one-more'] });
  assert.equal(over.statusCode, 400, over.body);
  assert.equal(over.json().error.code, 'VALIDATION_FAILED');
  assert.equal(over.json().error.field, 'ids');
}));

test('bad bodies are 400s naming the field, never 500s', () => withApp({}, async ({ app }) => {
  const cases = [
    [{}, 'ids'],
    [{ ids: [] }, 'ids'],
    [{ ids: 'abc' }, 'ids'],
    [{ ids: [''] }, 'ids.0'],
    [{ ids: ['ok', 42] }, 'ids.1'],
    [{ ids: ['x'.repeat(513)] }, 'ids.0'],
    [{ ids: ['a'], extra: 1 }, 'extra'],
  ];
  for (const [payload, field] of cases) {
    const res = await query(app, payload);
    assert.equal(res.statusCode, 400, `${JSON.stringify(payload)}: ${res.body}`);
    assert.equal(res.json().error.code, 'VALIDATION_FAILED');
    assert.equal(res.json().error.field, field, JSON.stringify(payload));
  }
  const notJson = await app.inject({ method: 'POST', url: '/v1/receipts/query', headers: auth({ 'content-type': 'application/json' }), payload: '{"ids": [' });
  assert.equal(notJson.statusCode, 400, notJson.body);
}));

test('behind the API key, and in the OpenAPI document with its bound', () => withApp({}, async ({ app }) => {
  const res = await query(app, { ids: ['a'] }, {});
  assert.equal(res.statusCode, 401);
  const doc = (await app.inject({ url: '/openapi.json' })).json();
  const operation = doc.paths['/v1/receipts/query'].post;
  assert.deepEqual(operation.security, [{ apiKey: [] }]);
  const ids = operation.requestBody.content['application/json'].schema.properties.ids;
  assert.equal(ids.maxItems, RECEIPTS_MAX_IDS);
  assert.ok('200' in operation.responses && '400' in operation.responses && '401' in operation.responses);
}));

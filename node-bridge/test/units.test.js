'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { loadConfig, describeConfig, bodyLimitFor, ConfigError } = require('../src/config');
const { IdempotencyStore, hashSendBody, DEFAULT_MAX_ENTRIES } = require('../src/idempotency-store');
const { SendQueue } = require('../src/send-queue');
const { MessageStore } = require('../src/message-store');
const { decodedBase64Length } = require('../src/send-service');
const { keysMatch } = require('../src/auth');
const { ackName, errorText } = require('../src/gateways/base');
const { schemaErrorFormatter } = require('../src/errors');
const crypto = require('node:crypto');

test('config defaults for wwebjs and fake drivers', () => {
  const real = loadConfig({ BRIDGE_API_KEY: 'k' });
  assert.equal(real.driver, 'wwebjs');
  assert.equal(real.port, 3000);
  assert.equal(real.host, '127.0.0.1');
  assert.equal(real.chromiumPath, '/usr/bin/chromium');
  assert.ok(real.dataDir.endsWith('.wwebjs_auth'));
  // Pacing on: a random 10..30 s gap, 60 an hour, 200 a day (docs/whatsapp.md).
  assert.equal(real.pacing, true);
  assert.equal(real.minIntervalMs, 10000);
  assert.equal(real.jitterMs, 20000);
  assert.equal(real.hourlyCap, 60);
  assert.equal(real.dailyCap, 200);
  assert.equal(real.warmup, null);
  assert.equal(real.riskPauseMs, 3600000);
  assert.equal(real.queueMax, 100);
  assert.equal(real.mediaMaxBytes, 16 * 1024 * 1024);
  assert.ok(real.bodyLimit > Math.ceil((16 * 1024 * 1024 * 4) / 3));
  assert.equal(real.sendTimeoutMs, 30000);
  assert.equal(real.idempotencyTtlMs, 86400000);
  assert.equal(real.logLevel, 'info');

  const fake = loadConfig({ BRIDGE_DRIVER: 'fake' });
  assert.equal(fake.apiKey, null);
  assert.equal(fake.pacing, false);
  assert.equal(fake.minIntervalMs, 0);
  assert.equal(fake.jitterMs, 0);
  assert.equal(fake.hourlyCap, 0);
  assert.equal(fake.dailyCap, 0);
  assert.equal(loadConfig({ BRIDGE_DRIVER: 'fake', BRIDGE_PORT: '0' }).port, 0);
});

test('config rejects missing key in wwebjs mode and malformed values', () => {
  assert.throws(() => loadConfig({}), (e) => e instanceof ConfigError && /BRIDGE_API_KEY is required/.test(e.message));
  const bad = {
    BRIDGE_PORT: ['abc', '-1', '65536', '80.5', '0x50'],
    BRIDGE_DRIVER: ['puppeteer'],
    BRIDGE_MIN_INTERVAL_MS: ['1s'],
    BRIDGE_JITTER_MS: ['-5'],
    BRIDGE_QUEUE_MAX: ['0'],
    BRIDGE_MEDIA_MAX_BYTES: ['0', 'lots'],
    BRIDGE_SEND_TIMEOUT_MS: ['0'],
    BRIDGE_IDEMPOTENCY_TTL_MS: ['0'],
    BRIDGE_LOG_LEVEL: ['verbose'],
    BRIDGE_HOST: ['bad host'],
  };
  for (const [name, values] of Object.entries(bad)) {
    for (const value of values) {
      assert.throws(() => loadConfig({ BRIDGE_API_KEY: 'k', [name]: value }), (e) => e instanceof ConfigError && e.message.includes(name), `${name}=${value}`);
    }
  }
  assert.throws(() => loadConfig({ BRIDGE_API_KEY: ' k' }), ConfigError);
});

test('config: BRIDGE_QUEUE_MAX_BYTES and BRIDGE_AUTH_TIMEOUT_MS defaults and validation', () => {
  const defaults = loadConfig({ BRIDGE_API_KEY: 'k' });
  assert.equal(defaults.queueMaxBytes, 64 * 1024 * 1024);
  assert.equal(defaults.authTimeoutMs, 180000);
  const set = loadConfig({ BRIDGE_API_KEY: 'k', BRIDGE_QUEUE_MAX_BYTES: '33554432', BRIDGE_AUTH_TIMEOUT_MS: '60000' });
  assert.equal(set.queueMaxBytes, 33554432);
  assert.equal(set.authTimeoutMs, 60000);
  for (const value of ['0', '-1', '1e6', '64MiB', '1.5']) {
    assert.throws(() => loadConfig({ BRIDGE_API_KEY: 'k', BRIDGE_QUEUE_MAX_BYTES: value }), (e) => e instanceof ConfigError && e.message.includes('BRIDGE_QUEUE_MAX_BYTES'), value);
    assert.throws(() => loadConfig({ BRIDGE_API_KEY: 'k', BRIDGE_AUTH_TIMEOUT_MS: value }), (e) => e instanceof ConfigError && e.message.includes('BRIDGE_AUTH_TIMEOUT_MS'), value);
  }
  assert.throws(() => loadConfig({ BRIDGE_API_KEY: 'k', BRIDGE_AUTH_TIMEOUT_MS: '999' }), /BRIDGE_AUTH_TIMEOUT_MS must be between 1000/);
  // A cap below the media limit would make a valid media send impossible.
  assert.throws(
    () => loadConfig({ BRIDGE_API_KEY: 'k', BRIDGE_MEDIA_MAX_BYTES: '2000', BRIDGE_QUEUE_MAX_BYTES: '1999' }),
    (e) => e instanceof ConfigError && /BRIDGE_QUEUE_MAX_BYTES \(1999\) must be at least BRIDGE_MEDIA_MAX_BYTES \(2000\)/.test(e.message),
  );
  assert.equal(loadConfig({ BRIDGE_API_KEY: 'k', BRIDGE_MEDIA_MAX_BYTES: '2000', BRIDGE_QUEUE_MAX_BYTES: '2000' }).queueMaxBytes, 2000);
});

test('config: request/headers timeouts and the incoming-body budget, with their defaults and cross-checks', () => {
  const defaults = loadConfig({ BRIDGE_API_KEY: 'k' });
  assert.equal(defaults.requestTimeoutMs, 60000);
  assert.equal(defaults.headersTimeoutMs, 10000);
  assert.equal(defaults.incomingMaxBytes, 2 * defaults.bodyLimit);
  const short = loadConfig({ BRIDGE_API_KEY: 'k', BRIDGE_REQUEST_TIMEOUT_MS: '500' });
  assert.equal(short.headersTimeoutMs, 500, 'the headers default never exceeds the request timeout');

  for (const [name, value] of [['BRIDGE_REQUEST_TIMEOUT_MS', '0'], ['BRIDGE_REQUEST_TIMEOUT_MS', '1s'], ['BRIDGE_HEADERS_TIMEOUT_MS', '99'], ['BRIDGE_INCOMING_MAX_BYTES', '0'], ['BRIDGE_INCOMING_MAX_BYTES', '-1']]) {
    assert.throws(() => loadConfig({ BRIDGE_API_KEY: 'k', [name]: value }), (e) => e instanceof ConfigError && e.message.includes(name), `${name}=${value}`);
  }
  assert.throws(
    () => loadConfig({ BRIDGE_API_KEY: 'k', BRIDGE_REQUEST_TIMEOUT_MS: '5000', BRIDGE_HEADERS_TIMEOUT_MS: '6000' }),
    /BRIDGE_HEADERS_TIMEOUT_MS \(6000\) must not exceed BRIDGE_REQUEST_TIMEOUT_MS \(5000\)/,
  );
  const limit = bodyLimitFor(1000);
  assert.throws(
    () => loadConfig({ BRIDGE_API_KEY: 'k', BRIDGE_MEDIA_MAX_BYTES: '1000', BRIDGE_INCOMING_MAX_BYTES: String(limit - 1) }),
    (e) => e instanceof ConfigError && e.message.includes(`must be at least the body limit derived from BRIDGE_MEDIA_MAX_BYTES (${limit})`),
  );
  assert.equal(loadConfig({ BRIDGE_API_KEY: 'k', BRIDGE_MEDIA_MAX_BYTES: '1000', BRIDGE_INCOMING_MAX_BYTES: String(limit) }).incomingMaxBytes, limit);
});

test('config description never contains the key; body limit covers base64 media', () => {
  const config = loadConfig({ BRIDGE_API_KEY: 'super-secret-value' });
  assert.ok(!JSON.stringify(describeConfig(config)).includes('super-secret-value'));
  assert.equal(describeConfig(config).apiKeySet, true);
  const limit = bodyLimitFor(1000);
  const media = Buffer.alloc(1000).toString('base64');
  const body = JSON.stringify({ to: '+15551234567', text: '\u0001'.repeat(65536), media: { data: media, mimetype: 'application/octet-stream', filename: 'f'.repeat(255) } });
  assert.ok(Buffer.byteLength(body) <= limit, 'a maximal valid request fits the body limit');
});

test('API key comparison', () => {
  const expected = crypto.createHash('sha256').update('right').digest();
  assert.equal(keysMatch('right', expected), true);
  assert.equal(keysMatch('wrong', expected), false);
  assert.equal(keysMatch('righ', expected), false);
  assert.equal(keysMatch('', expected), false);
  assert.equal(keysMatch(undefined, expected), false);
});

test('base64 validation and decoded length', () => {
  assert.equal(decodedBase64Length(Buffer.from('hello').toString('base64')), 5);
  assert.equal(decodedBase64Length(Buffer.from('hell').toString('base64')), 4);
  assert.equal(decodedBase64Length(Buffer.from('hel').toString('base64')), 3);
  for (const bad of ['', 'abc', 'ab=c', 'a===', '@@@@', 'aGVs bG8=', 'aGVsbG8=\n', 'aGVsbG8-', 42]) {
    assert.equal(decodedBase64Length(bad), -1, JSON.stringify(bad));
  }
});

test('ack names and error text', () => {
  assert.deepEqual([-1, 0, 1, 2, 3, 4].map(ackName), ['ERROR', 'PENDING', 'SERVER', 'DEVICE', 'READ', 'PLAYED']);
  assert.equal(ackName(99), 'PENDING');
  assert.equal(errorText('auth timeout'), 'auth timeout');
  assert.equal(errorText(new Error('boom')), 'boom');
  assert.equal(errorText({ a: 1 }), '{"a":1}');
  assert.equal(errorText(undefined), 'unknown error');
});

test('schema errors map to contract field names', () => {
  const err = (e) => schemaErrorFormatter([e], 'body').extra.field;
  assert.equal(err({ keyword: 'pattern', instancePath: '/media/data', params: {} }), 'media.data');
  assert.equal(err({ keyword: 'required', instancePath: '/media', params: { missingProperty: 'filename' } }), 'media.filename');
  assert.equal(err({ keyword: 'additionalProperties', instancePath: '', params: { additionalProperty: 'x' } }), 'x');
  assert.equal(err({ keyword: 'type', instancePath: '', params: { type: 'object' } }), 'body');
  assert.equal(schemaErrorFormatter([{ keyword: 'pattern', instancePath: '/idempotency-key', params: {} }], 'headers').extra.field, 'idempotency-key');
});

test('body hashing: stable for equal bodies, distinguishes a change in any field', () => {
  const media = { data: 'AAAA', mimetype: 'a/b', filename: 'f' };
  const base = { to: '1', text: 'x', media };
  const a = hashSendBody(base);
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.equal(a, hashSendBody({ media: { filename: 'f', mimetype: 'a/b', data: 'AAAA' }, text: 'x', to: '1' }), 'key order does not matter');
  assert.equal(a, hashSendBody({ ...base, extra: 'ignored' }), 'only to/text/media count');
  assert.equal(hashSendBody({ to: '1', text: 'x' }), hashSendBody({ to: '1', text: 'x', media: null }), 'absent and null media are the same');
  assert.equal(hashSendBody({ to: '1', media }), hashSendBody({ to: '1', text: null, media }), 'absent and null text are the same');

  const variants = [
    { ...base, to: '2' },
    { ...base, text: 'y' },
    { ...base, text: null },
    { ...base, text: '' },
    { ...base, media: null },
    { ...base, media: { ...media, data: 'AAAB' } },
    { ...base, media: { ...media, mimetype: 'a/c' } },
    { ...base, media: { ...media, filename: 'g' } },
    // Field boundaries: the same characters split differently.
    { ...base, to: '1x', text: '' },
    { ...base, media: { ...media, mimetype: 'a/bf', filename: '' } },
    // UTF-8 would map a lone surrogate to U+FFFD; the hash must not.
    { ...base, text: '\uD800' },
    { ...base, text: '\uFFFD' },
  ];
  const hashes = new Set([a, ...variants.map(hashSendBody)]);
  assert.equal(hashes.size, variants.length + 1, 'every variant hashes differently');

  // A large media body hashes in slices; equal content still hashes equal,
  // and a change in the last character is seen.
  const big = 'QUJD'.repeat(600000);
  const bigA = hashSendBody({ to: '1', media: { ...media, data: big } });
  assert.equal(bigA, hashSendBody({ to: '1', media: { ...media, data: `${big}` } }));
  assert.notEqual(bigA, hashSendBody({ to: '1', media: { ...media, data: `${big.slice(0, -1)}E` } }));
  // A surrogate pair straddling a slice boundary hashes like the unsliced text.
  const straddle = `${'a'.repeat((1 << 20) - 1)}\u{1F600}b`;
  const expected = crypto.createHash('sha256').update('send-v2;U1:1;').update(`U${Buffer.byteLength(straddle)}:`).update(straddle).update(';N;').digest('hex');
  assert.equal(hashSendBody({ to: '1', text: straddle }), expected);
});

test('idempotency store keeps up to 200 000 records by default', () => {
  assert.equal(DEFAULT_MAX_ENTRIES, 200000);
  const store = new IdempotencyStore({ ttlMs: 1000, sweepIntervalMs: 0 });
  assert.equal(store._maxEntries, 200000);
  store.close();
});

test('idempotency store: claim, in flight, mismatch, replay, fail, TTL expiry and ownership', () => {
  let now = 1000;
  const store = new IdempotencyStore({ ttlMs: 500, now: () => now, sweepIntervalMs: 0 });
  const first = store.begin('k', 'h1');
  assert.equal(first.kind, 'new');
  assert.equal(store.begin('k', 'h1').kind, 'in_flight');
  assert.equal(store.begin('k', 'h2').kind, 'mismatch');
  now += 10000;
  assert.equal(store.begin('k', 'h1').kind, 'in_flight', 'in-flight records never expire');
  store.complete(first.record, { statusCode: 201, body: { id: 'm1' } });
  assert.deepEqual(store.begin('k', 'h1'), { kind: 'replay', response: { statusCode: 201, body: { id: 'm1' } } });
  assert.equal(store.begin('k', 'h2').kind, 'mismatch');
  now += 499;
  assert.equal(store.begin('k', 'h1').kind, 'replay');
  now += 1;
  assert.equal(store.begin('k', 'h2').kind, 'new', 'expired after the TTL');

  const other = store.begin('f', 'h');
  assert.equal(store.fail(other.record), true);
  assert.equal(store.begin('f', 'h').kind, 'new');

  const stale = store.begin('s', 'h');
  store.clear();
  const fresh = store.begin('s', 'h');
  assert.equal(store.complete(stale.record, { statusCode: 201, body: {} }), false, 'a record from before a reset is not resurrected');
  assert.equal(store.fail(stale.record), false);
  assert.equal(store.begin('s', 'h').kind, 'in_flight');
  store.complete(fresh.record, { statusCode: 201, body: {} });
  now += 1000;
  store.sweep();
  assert.equal(store.size, 0);
  store.close();
});

test('idempotency store evicts the oldest done records beyond maxEntries', () => {
  const store = new IdempotencyStore({ ttlMs: 1e9, maxEntries: 3, sweepIntervalMs: 0 });
  const inFlight = store.begin('a', 'h');
  for (const key of ['b', 'c', 'd']) store.complete(store.begin(key, 'h').record, { statusCode: 201, body: {} });
  assert.equal(store.size, 3);
  assert.equal(store.begin('a', 'h').kind, 'in_flight', 'in-flight records are never evicted');
  assert.equal(store.begin('b', 'h').kind, 'new', 'oldest done record was evicted');
  store.fail(inFlight.record);
  store.close();
});

test('send queue: serial, paced by interval + jitter from the end of the previous send', async () => {
  let now = 0;
  const sleeps = [];
  const randoms = [0, 0.5, 0.999];
  const queue = new SendQueue({
    minIntervalMs: 1000,
    jitterMs: 500,
    maxSize: 10,
    now: () => now,
    random: () => randoms.shift(),
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  });
  let running = 0;
  let maxRunning = 0;
  const job = (duration, value) => async () => {
    running += 1;
    maxRunning = Math.max(maxRunning, running);
    await Promise.resolve();
    now += duration;
    running -= 1;
    return value;
  };
  const results = await Promise.all([queue.enqueue(job(100, 'a')), queue.enqueue(job(50, 'b')), queue.enqueue(job(10, 'c')), queue.enqueue(job(10, 'd'))]);
  assert.deepEqual(results, ['a', 'b', 'c', 'd']);
  assert.equal(maxRunning, 1);
  assert.deepEqual(sleeps, [1000, 1250, 1500]);
  assert.equal(queue.size, 0);

  now += 5000;
  sleeps.length = 0;
  randoms.push(0);
  await queue.enqueue(job(1, 'e'));
  assert.deepEqual(sleeps, [], 'an idle queue starts at once');
});

test('send queue: cap, retry estimate, failures propagate, unpaced failures skip the gap', async () => {
  let now = 0;
  const sleeps = [];
  const queue = new SendQueue({ minIntervalMs: 2000, jitterMs: 0, maxSize: 2, now: () => now, sleep: async (ms) => { sleeps.push(ms); now += ms; } });
  let release;
  const blocker = queue.enqueue(() => new Promise((r) => { release = r; }));
  const second = queue.enqueue(async () => 'second');
  assert.equal(queue.size, 2);
  assert.equal(queue.isFull(), true);
  assert.throws(() => queue.enqueue(async () => 'third'), (e) => e.code === 'QUEUE_FULL');
  assert.equal(queue.retryAfterSeconds(), 4);
  release('first');
  assert.equal(await blocker, 'first');
  assert.equal(await second, 'second');

  const unpaced = Object.assign(new Error('not ready'), { paced: false });
  await assert.rejects(queue.enqueue(async () => { throw unpaced; }), /not ready/);
  sleeps.length = 0;
  now += 10000;
  await assert.rejects(queue.enqueue(async () => { throw new Error('sent and failed'); }), /sent and failed/);
  await queue.enqueue(async () => 'after');
  assert.deepEqual(sleeps, [2000], 'a paced failure is followed by the gap');
  await assert.rejects(queue.enqueue(async () => { throw unpaced; }));
  await queue.enqueue(async () => 'no gap after unpaced');
  assert.deepEqual(sleeps, [2000, 2000]);
});

test('message store: bounded, ack updates, acks that arrive before the send result', () => {
  let now = 0;
  const store = new MessageStore({ maxEntries: 3, now: () => now });
  for (const id of ['a', 'b', 'c', 'd']) store.add({ id, to: '1@c.us', ack: 'PENDING' });
  assert.equal(store.size, 3);
  assert.equal(store.get('a'), null);
  now = 5000;
  assert.equal(store.updateAck('b', 'READ'), true);
  assert.deepEqual(store.get('b'), {
    id: 'b',
    to: '1@c.us',
    ack: 'READ',
    updatedAt: new Date(5000).toISOString(),
    sentAt: new Date(0).toISOString(),
    acks: { PENDING: new Date(0).toISOString(), READ: new Date(5000).toISOString() },
  });
  assert.equal(store.updateAck('e', 'SERVER'), false);
  store.add({ id: 'e', to: '2@c.us', ack: 'PENDING' });
  assert.equal(store.get('e').ack, 'SERVER');
  store.clear();
  assert.equal(store.get('e'), null);
});

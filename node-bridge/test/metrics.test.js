'use strict';

/**
 * GET /metrics: real requests through the app (fake driver) move the
 * counters, the gauges read the live queue and session, the route is behind
 * the API key unless BRIDGE_METRICS_PUBLIC=1, and no label carries a phone
 * number. The output is read with the test's own parser
 * (prometheus-text.js), not with prom-client.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { buildApp } = require('../src/app');
const { FakeGateway } = require('../src/gateways/fake');
const { loadConfig, ConfigError } = require('../src/config');
const { SESSION_STATES } = require('../src/session-state');
const { API_KEY, captureStream, fakeApp, auth, send, script, flush } = require('./helpers');
const { parseExposition, sampleValue, labelValues } = require('./prometheus-text');

async function withApp(env, fn) {
  const ctx = await fakeApp(env);
  try {
    await fn(ctx);
  } finally {
    await ctx.app.close();
  }
}

/** Scrape /metrics with the key and parse it. */
async function scrape(app, headers = auth()) {
  const res = await app.inject({ url: '/metrics', headers });
  assert.equal(res.statusCode, 200, res.body);
  assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  return parseExposition(res.body);
}

const requests = (families, method, route, status) => sampleValue(families, 'bridge_http_requests_total', { method, route, status: String(status) });
const sends = (families, outcome) => sampleValue(families, 'bridge_sends_total', { outcome });

/**
 * A started fake-driver app whose gateway sleeps (delay and timeout
 * outcomes) until the test releases it, and whose clock the test moves, so
 * queue depth and queue wait can be observed without real waiting.
 */
async function controlledApp(env = {}) {
  const config = loadConfig({ BRIDGE_DRIVER: 'fake', BRIDGE_API_KEY: API_KEY, BRIDGE_LOG_LEVEL: 'warn', ...env });
  const sleepers = [];
  const gateway = new FakeGateway({
    sendTimeoutMs: config.sendTimeoutMs,
    printQr: () => {},
    sleep: () => new Promise((resolve) => sleepers.push(resolve)),
  });
  const clock = { ms: 1_000_000 };
  const app = buildApp({ config, gateway, logStream: captureStream(), now: () => clock.ms });
  await app.ready();
  await gateway.start();
  /** Wait until the gateway is asleep in a send. */
  const asleep = async () => {
    for (let i = 0; i < 200 && sleepers.length === 0; i += 1) await flush();
    assert.equal(sleepers.length, 1, 'the gateway went to sleep in the send');
  };
  const wake = () => sleepers.shift()();
  return { app, clock, asleep, wake };
}

test('sends by outcome, replays and requests by route and status move with real requests', () => withApp({}, async ({ app }) => {
  const before = await scrape(app);
  assert.equal(sends(before, 'sent'), 0);
  assert.equal(sampleValue(before, 'bridge_idempotency_replays_total'), 0);
  const sentSeries = before.get('bridge_sends_total').samples.map((s) => s.labels.outcome);
  assert.deepEqual(sentSeries, ['sent'], 'the sent series exists from the start');

  assert.equal((await send(app, { to: '15551234567', text: 'one' }, { key: 'k-1' })).statusCode, 201);
  assert.equal((await send(app, { to: '15551234567', text: 'one' }, { key: 'k-1' })).statusCode, 201, 'a replay');
  assert.equal((await send(app, { to: '15551234567', text: 'one' }, { key: 'k-1' })).headers['idempotency-replay'], 'true');
  await script(app, [{ type: 'send_failed', message: 'boom' }, { type: 'not_on_whatsapp' }]);
  assert.equal((await send(app, { to: '15551234567', text: 'two' })).statusCode, 502);
  assert.equal((await send(app, { to: '15551234567', text: 'three' })).statusCode, 422);
  assert.equal((await send(app, { to: 'not-a-number', text: 'x' })).statusCode, 400);
  assert.equal((await send(app, { to: '15551234567', text: 'one!' }, { key: 'k-1' })).statusCode, 422, 'key mismatch');

  const after = await scrape(app);
  assert.equal(sends(after, 'sent'), 1);
  assert.equal(sends(after, 'SEND_FAILED'), 1);
  assert.equal(sends(after, 'NOT_ON_WHATSAPP'), 1);
  assert.equal(sends(after, 'VALIDATION_FAILED'), 0, 'a request refused for its content is not a send');
  assert.equal(sends(after, 'IDEMPOTENCY_KEY_MISMATCH'), 0);
  assert.equal(sampleValue(after, 'bridge_idempotency_replays_total', { status: '201' }), 2);
  assert.equal(requests(after, 'POST', '/v1/messages', 201), 3);
  assert.equal(requests(after, 'POST', '/v1/messages', 502), 1);
  assert.equal(requests(after, 'POST', '/v1/messages', 422), 2);
  assert.equal(requests(after, 'POST', '/v1/messages', 400), 1);
  assert.equal(requests(after, 'GET', '/metrics', 200), 1, 'the earlier scrape counts once it is over');
  assert.equal(sampleValue(after, 'bridge_http_request_duration_seconds_count', { method: 'POST', route: '/v1/messages' }), 7);
  // Sends that reached the queue: the first, the failed one, the unknown number.
  assert.equal(sampleValue(after, 'bridge_send_queue_wait_seconds_count'), 3);
  assert.equal(after.get('bridge_send_queue_wait_seconds').type, 'histogram');
  assert.equal(after.get('bridge_sends_total').type, 'counter');
}));

test('4xx by route pattern: unknown paths are "unmatched", ids in paths never become labels', () => withApp({}, async ({ app }) => {
  await app.inject({ url: '/v1/messages/true_15551234567%40c.us_3EB0C0FFEE', headers: auth() });
  await app.inject({ url: '/v1/messages/true_15557654321%40c.us_3EB0C0FFEE', headers: auth() });
  await app.inject({ url: '/nowhere/15551234567' });
  await app.inject({ url: `/v1/messages/${'9'.repeat(600)}`, headers: auth() });
  await app.inject({ url: '/v1/session' });
  await app.inject({ method: 'POST', url: '/v1/messages', headers: auth({ 'content-type': 'application/json' }), payload: '{' });

  const families = await scrape(app);
  assert.equal(requests(families, 'GET', '/v1/messages/:id', 404), 2, 'both ids under one pattern');
  assert.equal(requests(families, 'GET', 'unmatched', 404), 1);
  assert.equal(requests(families, 'GET', 'unmatched', 414), 1, 'an id too long for the router');
  assert.equal(requests(families, 'GET', '/v1/session', 401), 1);
  assert.equal(requests(families, 'POST', '/v1/messages', 400), 1);
  for (const { metric, label, value } of labelValues(families)) {
    assert.ok(!/[0-9]{5,}/.test(value), `${metric} ${label}=${value}`);
  }
}));

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

test('over generated requests to generated numbers, no label ever holds a number or a raw path', () => withApp({}, async ({ app }) => {
  const next = random(14_2);
  const digits = (n) => Array.from({ length: n }, () => String(Math.floor(next() * 10))).join('');
  const numbers = [];
  for (let i = 0; i < 120; i += 1) {
    const number = `${1 + Math.floor(next() * 9)}${digits(6 + Math.floor(next() * 12))}`;
    numbers.push(number);
    const kind = Math.floor(next() * 5);
    if (kind === 0) await send(app, { to: `+${number}`, text: `hi ${number}` });
    else if (kind === 1) await send(app, { to: `${number}@c.us`, text: 'x' }, { key: `key-${number}` });
    else if (kind === 2) await app.inject({ url: `/v1/messages/true_${number}%40c.us_ABC`, headers: auth() });
    else if (kind === 3) await app.inject({ url: `/${number}`, method: next() < 0.5 ? 'GET' : 'DELETE' });
    else await app.inject({ url: `/v1/messages/${number}-1600000000@g.us?to=${number}`, headers: auth() });
  }
  const res = await app.inject({ url: '/metrics', headers: auth() });
  for (const number of numbers) assert.ok(!res.body.includes(number), `${number} is in /metrics`);
  const routes = new Set();
  for (const { label, value } of labelValues(parseExposition(res.body))) {
    assert.ok(!/[0-9]{5,}/.test(value) && !value.includes('@'), `${label}=${value}`);
    if (label === 'route') routes.add(value);
  }
  assert.deepEqual([...routes].sort(), ['/v1/messages', '/v1/messages/:id', 'unmatched'].sort());
}));

test('queue depth and bytes are read live, and the wait is measured from enqueue to start', async () => {
  const { app, clock, asleep, wake } = await controlledApp();
  try {
    const media = { data: Buffer.alloc(300, 1).toString('base64'), mimetype: 'application/octet-stream', filename: 'a.bin' };
    await script(app, [{ type: 'delay', ms: 1 }, { type: 'delay', ms: 1 }]);
    const first = send(app, { to: '15551234567', text: 'first' });
    await asleep();
    const second = send(app, { to: '15551234567', media });
    await flush();

    let families = await scrape(app);
    assert.equal(sampleValue(families, 'bridge_send_queue_depth'), 2, 'one running, one waiting');
    assert.equal(sampleValue(families, 'bridge_send_queue_bytes'), 300);
    assert.equal(families.get('bridge_send_queue_depth').type, 'gauge');

    clock.ms += 4000; // the second send waits four seconds (by the app's clock)
    wake();
    assert.equal((await first).statusCode, 201);
    await asleep();
    families = await scrape(app);
    assert.equal(sampleValue(families, 'bridge_send_queue_depth'), 1);
    wake();
    assert.equal((await second).statusCode, 201);

    families = await scrape(app);
    assert.equal(sampleValue(families, 'bridge_send_queue_depth'), 0);
    assert.equal(sampleValue(families, 'bridge_send_queue_bytes'), 0);
    const bucket = (le) => sampleValue(families, 'bridge_send_queue_wait_seconds_bucket', { le });
    assert.equal(sampleValue(families, 'bridge_send_queue_wait_seconds_count'), 2);
    assert.equal(bucket('0.01'), 1, 'the first started at once');
    assert.equal(bucket('2.5'), 1);
    assert.equal(bucket('5'), 2, 'the second waited 4 s');
    assert.equal(sampleValue(families, 'bridge_send_queue_wait_seconds_sum'), 4);
    assert.equal(sends(families, 'sent'), 2);
  } finally {
    await app.close();
  }
});

test('refusals before a send, and a send that finishes after its 504, are counted by outcome', async () => {
  const { app, asleep, wake } = await controlledApp({ BRIDGE_QUEUE_MAX: '1', BRIDGE_SEND_TIMEOUT_MS: '30' });
  try {
    await script(app, [{ type: 'delay', ms: 1 }]);
    const slow = send(app, { to: '15551234567', text: 'slow' }, { key: 'slow-1' });
    await asleep();
    assert.equal((await send(app, { to: '15551234567', text: 'no room' })).statusCode, 429);
    const timedOut = await slow;
    assert.equal(timedOut.statusCode, 504, 'the request gave up, the send goes on');

    let families = await scrape(app);
    assert.equal(sends(families, 'QUEUE_FULL'), 1);
    assert.equal(sends(families, 'sent'), 0, 'the slow send has not finished');
    assert.equal(requests(families, 'POST', '/v1/messages', 504), 1);

    wake();
    await flush();
    families = await scrape(app);
    assert.equal(sends(families, 'sent'), 1, 'it counts as sent when it finishes');
    assert.equal(sends(families, 'SEND_TIMEOUT'), 0, 'the request timed out, the send did not');

    await app.inject({ method: 'POST', url: '/__fake/state', payload: { state: 'QR' } });
    assert.equal((await send(app, { to: '15551234567', text: 'not ready' })).statusCode, 503);
    families = await scrape(app);
    assert.equal(sends(families, 'NOT_READY'), 1);
  } finally {
    await app.close();
  }
});

test('session state: one series per state, 1 for the current one; transitions are counted', () => withApp({}, async ({ app }) => {
  const stateOf = (families) => Object.fromEntries(families.get('bridge_session_state').samples.map((s) => [s.labels.state, s.value]));
  let families = await scrape(app);
  assert.deepEqual(Object.keys(stateOf(families)).sort(), [...SESSION_STATES].sort());
  assert.equal(stateOf(families).READY, 1);
  assert.equal(Object.values(stateOf(families)).reduce((a, b) => a + b), 1);

  await app.inject({ method: 'POST', url: '/__fake/state', payload: { state: 'QR' } });
  await app.inject({ method: 'POST', url: '/__fake/state', payload: { state: 'FAILED', error: 'lost' } });
  await app.inject({ method: 'POST', url: '/__fake/state', payload: { state: 'QR' } });
  families = await scrape(app);
  assert.equal(stateOf(families).QR, 1);
  assert.equal(stateOf(families).READY, 0);
  assert.equal(Object.values(stateOf(families)).reduce((a, b) => a + b), 1);
  const changes = (state) => sampleValue(families, 'bridge_session_state_changes_total', { state });
  assert.equal(changes('QR'), 2);
  assert.equal(changes('FAILED'), 1);
  assert.equal(changes('READY'), 1, 'the start');
  assert.equal(changes('DISCONNECTED'), 0, 'every state has a series from the start');
}));

test('/metrics needs the API key unless BRIDGE_METRICS_PUBLIC=1, which opens /metrics only', async () => {
  await withApp({}, async ({ app }) => {
    for (const headers of [{}, { 'x-api-key': 'wrong' }]) {
      const res = await app.inject({ url: '/metrics', headers });
      assert.equal(res.statusCode, 401);
      assert.equal(res.json().error.code, 'UNAUTHORIZED');
    }
    await scrape(app);
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    assert.deepEqual(doc.paths['/metrics'].get.security, [{ apiKey: [] }]);
    assert.deepEqual(Object.keys(doc.paths['/metrics'].get.responses).sort(), ['200', '401']);
    assert.ok(doc.paths['/metrics'].get.responses['200'].content['text/plain']);
  });
  await withApp({ BRIDGE_METRICS_PUBLIC: '1' }, async ({ app }) => {
    const families = await scrape(app, {});
    assert.ok(families.has('bridge_sends_total'));
    assert.equal((await app.inject({ url: '/v1/session' })).statusCode, 401, '/v1 keeps its key');
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    assert.equal(doc.paths['/metrics'].get.security, undefined);
    assert.deepEqual(Object.keys(doc.paths['/metrics'].get.responses), ['200']);
  });
});

test('BRIDGE_METRICS_PUBLIC accepts 1/0 (and true/false, yes/no) and refuses anything else by name', () => {
  const base = { BRIDGE_DRIVER: 'fake' };
  assert.equal(loadConfig(base).metricsPublic, false);
  for (const on of ['1', 'true', 'YES', ' 1 ']) assert.equal(loadConfig({ ...base, BRIDGE_METRICS_PUBLIC: on }).metricsPublic, true, on);
  for (const off of ['0', 'false', 'No', '']) assert.equal(loadConfig({ ...base, BRIDGE_METRICS_PUBLIC: off }).metricsPublic, false, off);
  for (const bad of ['on', '2', 'public']) {
    assert.throws(() => loadConfig({ ...base, BRIDGE_METRICS_PUBLIC: bad }), (err) => err instanceof ConfigError && err.message.startsWith('BRIDGE_METRICS_PUBLIC must be 1 or 0') && err.message.includes(JSON.stringify(bad)));
  }
});

test('each app has its own registry: two apps in one process count apart', async () => {
  const a = await fakeApp();
  const b = await fakeApp();
  try {
    await send(a.app, { to: '15551234567', text: 'a' });
    await send(a.app, { to: '15551234567', text: 'a' });
    await send(b.app, { to: '15551234567', text: 'b' });
    assert.equal(sends(await scrape(a.app), 'sent'), 2);
    assert.equal(sends(await scrape(b.app), 'sent'), 1);
  } finally {
    await a.app.close();
    await b.app.close();
  }
});

test('process metrics only when asked (the server asks)', async () => {
  const plain = await fakeApp();
  const config = loadConfig({ BRIDGE_DRIVER: 'fake', BRIDGE_API_KEY: API_KEY, BRIDGE_LOG_LEVEL: 'warn' });
  const withProcess = buildApp({ config, gateway: new FakeGateway({ printQr: () => {} }), logStream: captureStream(), processMetrics: true });
  await withProcess.ready();
  try {
    assert.ok(!(await scrape(plain.app)).has('process_cpu_user_seconds_total'));
    const families = await scrape(withProcess);
    assert.equal(families.get('process_cpu_user_seconds_total').type, 'counter');
    assert.ok(families.has('bridge_sends_total'), 'alongside the bridge\'s own');
  } finally {
    await plain.app.close();
    await withProcess.close();
  }
});

test('the test parser refuses malformed expositions (so the scrapes above are checked)', () => {
  const ok = '# HELP x_total X.\n# TYPE x_total counter\nx_total{a="b\\"c"} 2\n';
  assert.equal(sampleValue(parseExposition(ok), 'x_total', { a: 'b"c' }), 2);
  for (const bad of [
    'x_total 1\n',
    '# TYPE x_total counter\nx_total{a="b} 1\n',
    '# TYPE x_total counter\nx_total{a=b} 1\n',
    '# TYPE x_total counter\nx_total one\n',
    '# TYPE x_total counter\nx_total 1\nx_total 2\n',
    '# TYPE x histogram\nx 1\n',
    '# TYPE x_total counter\n# TYPE x_total counter\n',
  ]) assert.throws(() => parseExposition(bad), undefined, bad);
});

/** Rows of the README's metric table under "### `GET /metrics`": name -> {type, labels}. */
function readmeMetrics() {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const start = readme.indexOf('### `GET /metrics`');
  assert.ok(start >= 0, 'README has a "GET /metrics" section');
  const section = readme.slice(start).split(/\n#{2,3} /)[0];
  const rows = new Map();
  for (const line of section.split('\n')) {
    const match = /^\| `([a-z_]+)` \| ([a-z]+) \|([^|]*)\|/.exec(line);
    if (!match) continue;
    assert.ok(!rows.has(match[1]), `${match[1]} is listed twice`);
    const labels = [...match[3].matchAll(/`([a-z_]+)`/g)].map((m) => m[1]).sort();
    rows.set(match[1], { type: match[2], labels });
  }
  return rows;
}

test("the README's metric table lists exactly the bridge's metrics, with their types and labels", () => withApp({}, async ({ app }) => {
  await send(app, { to: '15551234567', text: 'x' }, { key: 'doc-1' });
  await send(app, { to: '15551234567', text: 'x' }, { key: 'doc-1' });
  await scrape(app);
  const families = await scrape(app);
  const rows = readmeMetrics();
  assert.deepEqual([...rows.keys()].sort(), [...families.keys()].sort());
  for (const [name, family] of families) {
    assert.equal(rows.get(name).type, family.type, name);
    const labels = new Set();
    for (const sample of family.samples) for (const label of Object.keys(sample.labels)) if (label !== 'le') labels.add(label);
    assert.ok(family.samples.length > 0, `${name} has samples to check the labels against`);
    assert.deepEqual(rows.get(name).labels, [...labels].sort(), name);
  }
}));

'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { buildApp } = require('../src/app');
const { FakeGateway } = require('../src/gateways/fake');
const { loadConfig, ConfigError } = require('../src/config');
const { Pacer, PauseReason, warmupDay, HOUR_MS, DAY_MS } = require('../src/pacer');
const { PacingFileStore, PACING_FILE_NAME } = require('../src/pacing-store');
const { SendQueue } = require('../src/send-queue');
const { API_KEY, auth, captureStream, flush } = require('./helpers');

const T0 = Date.parse('2026-12-01T09:00:00Z');

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-pacing-'));
}

/** In-memory stand-in for the file store: what was saved last. */
function memoryStore(initial = null) {
  return { saved: initial, load() { return this.saved; }, save(state) { this.saved = structuredClone(state); } };
}

/**
 * A fake-driver app with pacing on, no gap (the caps are under test, not the
 * spacing), a data dir of its own and a clock the test moves.
 */
async function pacedApp({ dataDir = tempDir(), clock = { now: T0 }, env = {} } = {}) {
  const config = loadConfig({
    BRIDGE_DRIVER: 'fake',
    BRIDGE_API_KEY: API_KEY,
    BRIDGE_LOG_LEVEL: 'warn',
    BRIDGE_PACING: '1',
    BRIDGE_MIN_INTERVAL_MS: '0',
    BRIDGE_JITTER_MS: '0',
    BRIDGE_DATA_DIR: dataDir,
    ...env,
  });
  const gateway = new FakeGateway({ sendTimeoutMs: config.sendTimeoutMs, printQr: () => {} });
  const app = buildApp({ config, gateway, logStream: captureStream(), now: () => clock.now });
  await app.ready();
  await app.gateway.start();
  return { app, clock, dataDir };
}

function post(app, to, key = null) {
  const headers = auth();
  if (key) headers['idempotency-key'] = key;
  return app.inject({ method: 'POST', url: '/v1/messages', headers, payload: { to, text: 'hello' } });
}

async function delivered(app) {
  return (await app.inject({ url: '/__fake/sent' })).json().messages;
}

async function pacing(app) {
  return (await app.inject({ url: '/v1/session', headers: auth() })).json().pacing;
}

// -- configuration --------------------------------------------------------------------

test('pacing config: defaults off with the fake driver, caps refused while pacing is off', () => {
  assert.throws(
    () => loadConfig({ BRIDGE_DRIVER: 'fake', BRIDGE_HOURLY_CAP: '5' }),
    (e) => e instanceof ConfigError && /BRIDGE_HOURLY_CAP is set but pacing is off/.test(e.message),
  );
  assert.throws(
    () => loadConfig({ BRIDGE_API_KEY: 'k', BRIDGE_PACING: '0', BRIDGE_DAILY_CAP: '5', BRIDGE_RISK_PAUSE_MS: '0' }),
    (e) => e instanceof ConfigError && e.message.includes('BRIDGE_DAILY_CAP, BRIDGE_RISK_PAUSE_MS are set'),
  );
  const off = loadConfig({ BRIDGE_API_KEY: 'k', BRIDGE_PACING: 'no' });
  assert.deepEqual([off.pacing, off.minIntervalMs, off.jitterMs, off.hourlyCap, off.dailyCap, off.riskPauseMs], [false, 0, 0, 0, 0, 0]);
  const tuned = loadConfig({ BRIDGE_API_KEY: 'k', BRIDGE_HOURLY_CAP: '0', BRIDGE_DAILY_CAP: '500', BRIDGE_WARMUP_START: '2026-12-01', BRIDGE_WARMUP_CAPS: '20, 30,50' });
  assert.equal(tuned.hourlyCap, 0, '0 means no hourly cap');
  assert.equal(tuned.dailyCap, 500);
  assert.deepEqual(tuned.warmup, { start: '2026-12-01', caps: [20, 30, 50] });
});

test('pacing config: a bad warm-up is refused naming the variable and the rule', () => {
  const cases = [
    [{ BRIDGE_WARMUP_START: '2026-12-01' }, /BRIDGE_WARMUP_CAPS is missing/],
    [{ BRIDGE_WARMUP_CAPS: '10,20' }, /BRIDGE_WARMUP_START is missing/],
    [{ BRIDGE_WARMUP_START: '2026-02-30', BRIDGE_WARMUP_CAPS: '10' }, /BRIDGE_WARMUP_START must be a date like/],
    [{ BRIDGE_WARMUP_START: 'tomorrow', BRIDGE_WARMUP_CAPS: '10' }, /BRIDGE_WARMUP_START must be a date like/],
    [{ BRIDGE_WARMUP_START: '2026-12-01', BRIDGE_WARMUP_CAPS: '10,,20' }, /BRIDGE_WARMUP_CAPS .* entry 2 is ""/],
    [{ BRIDGE_WARMUP_START: '2026-12-01', BRIDGE_WARMUP_CAPS: '10,0' }, /entry 2 is "0"/],
    [{ BRIDGE_WARMUP_START: '2026-12-01', BRIDGE_WARMUP_CAPS: '10,2.5' }, /entry 2 is "2.5"/],
    [{ BRIDGE_HOURLY_CAP: '-1' }, /BRIDGE_HOURLY_CAP must be an integer/],
  ];
  for (const [env, pattern] of cases) {
    assert.throws(() => loadConfig({ BRIDGE_API_KEY: 'k', ...env }), (e) => e instanceof ConfigError && pattern.test(e.message), JSON.stringify(env));
  }
});

// -- the caps (pacer on a fake clock) ---------------------------------------------------

test('hourly cap: the send after the cap is held until the oldest send of the hour ages out', () => {
  const clock = { now: T0 };
  const pacer = new Pacer({ hourlyCap: 3, now: () => clock.now });
  for (const minute of [0, 10, 20]) {
    clock.now = T0 + minute * 60000;
    assert.equal(pacer.check(), null, `send at minute ${minute} is allowed`);
    pacer.recordSend();
  }
  clock.now = T0 + 30 * 60000;
  const hold = pacer.check();
  assert.deepEqual(hold, { reason: PauseReason.HOURLY_CAP, until: T0 + HOUR_MS, limit: 3 });
  clock.now = T0 + HOUR_MS - 1;
  assert.notEqual(pacer.check(), null, 'still held a millisecond before');
  clock.now = T0 + HOUR_MS;
  assert.equal(pacer.check(), null, 'the first send of the hour has aged out');
  pacer.recordSend();
  assert.equal(pacer.check().until, T0 + 10 * 60000 + HOUR_MS, 'next reopening: when the second send ages out');
});

test('daily cap: rolling 24 hours, independent of the hourly cap', () => {
  const clock = { now: T0 };
  const pacer = new Pacer({ hourlyCap: 10, dailyCap: 4, now: () => clock.now });
  for (let i = 0; i < 4; i += 1) {
    clock.now = T0 + i * 2 * HOUR_MS;
    assert.equal(pacer.check(), null);
    pacer.recordSend();
  }
  clock.now = T0 + 7 * HOUR_MS;
  assert.deepEqual(pacer.check(), { reason: PauseReason.DAILY_CAP, until: T0 + DAY_MS, limit: 4 });
  assert.equal(pacer.status().sentLast24h, 4);
  assert.equal(pacer.status().sentLastHour, 0);
  clock.now = T0 + DAY_MS;
  assert.equal(pacer.check(), null);
});

test('when both caps hold, the answer is the later reopening, so a client is not refused again at once', () => {
  const clock = { now: T0 };
  const pacer = new Pacer({ hourlyCap: 2, dailyCap: 2, now: () => clock.now });
  pacer.recordSend();
  clock.now += 60000;
  pacer.recordSend();
  const hold = pacer.check();
  assert.equal(hold.reason, PauseReason.DAILY_CAP);
  assert.equal(hold.until, T0 + DAY_MS);
});

test('warm-up: each UTC day of the schedule has its own cap, then the daily cap applies', () => {
  assert.equal(warmupDay('2026-12-01', Date.parse('2026-11-30T23:59:59Z')), 0);
  assert.equal(warmupDay('2026-12-01', Date.parse('2026-12-01T00:00:00Z')), 1);
  assert.equal(warmupDay('2026-12-01', Date.parse('2026-12-02T23:00:00Z')), 2);

  const clock = { now: Date.parse('2026-12-01T20:00:00Z') };
  const pacer = new Pacer({ dailyCap: 10, warmup: { start: '2026-12-01', caps: [2, 3] }, now: () => clock.now });
  assert.equal(pacer.dailyCapAt(clock.now), 2);
  pacer.recordSend();
  pacer.recordSend();
  const hold = pacer.check();
  // Day 2 allows 3 in the rolling day, and 2 were sent: the window reopens at midnight.
  assert.deepEqual(hold, { reason: PauseReason.WARMUP_CAP, until: Date.parse('2026-12-02T00:00:00Z'), limit: 2 });
  assert.equal(pacer.status().warmupDay, 1);

  clock.now = Date.parse('2026-12-02T00:00:00Z');
  assert.equal(pacer.check(), null, 'day 2: cap 3, two sent in the last 24 h');
  pacer.recordSend();
  assert.equal(pacer.check().reason, PauseReason.WARMUP_CAP);
  assert.equal(pacer.check().limit, 3);

  clock.now = Date.parse('2026-12-03T12:00:00Z');
  assert.equal(pacer.dailyCapAt(clock.now), 10, 'after the schedule the daily cap alone applies');
  assert.equal(pacer.check(), null);
  assert.equal(pacer.status().dailyCap, 10);
});

test('a warm-up cap above the daily cap does not raise it', () => {
  const pacer = new Pacer({ dailyCap: 5, warmup: { start: '2026-12-01', caps: [50] }, now: () => T0 });
  assert.equal(pacer.dailyCapAt(T0), 5);
});

test('pacing off: nothing is held, counted or paused', () => {
  const store = memoryStore();
  const pacer = new Pacer({ enabled: false, hourlyCap: 1, store, now: () => T0 });
  pacer.recordSend();
  pacer.recordSend();
  assert.equal(pacer.check(), null);
  assert.equal(pacer.pause(PauseReason.RATE_LIMITED, { atLeastMs: 1000 }), null);
  assert.equal(store.saved, null, 'nothing persisted');
});

// -- the jitter (send queue on a fake clock) ----------------------------------------------

test('jitter: the gaps between sends vary and always stay within [min, min + jitter]', async () => {
  // A deterministic, seeded generator: many different draws, same every run.
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const clock = { now: 0 };
  const starts = [];
  const queue = new SendQueue({
    minIntervalMs: 10000,
    jitterMs: 20000,
    maxSize: 1000,
    now: () => clock.now,
    sleep: async (ms) => { clock.now += ms; },
    random,
  });
  const jobs = [];
  for (let i = 0; i < 200; i += 1) {
    jobs.push(queue.enqueue(async () => { starts.push(clock.now); clock.now += 700; }));
  }
  await Promise.all(jobs);
  const gaps = starts.slice(1).map((start, i) => start - (starts[i] + 700));
  assert.equal(gaps.length, 199);
  for (const gap of gaps) assert.ok(gap >= 10000 && gap <= 30000, `gap ${gap} out of bounds`);
  assert.ok(new Set(gaps).size > 150, 'the gaps are not one even interval');
  const spread = Math.max(...gaps) - Math.min(...gaps);
  assert.ok(spread > 15000, `gaps cover the range, spread ${spread}`);
});

test('jitter bounds hold at the extremes of the random source', async () => {
  for (const value of [0, 0.9999999999]) {
    const clock = { now: 0 };
    const starts = [];
    const queue = new SendQueue({ minIntervalMs: 10000, jitterMs: 20000, now: () => clock.now, sleep: async (ms) => { clock.now += ms; }, random: () => value });
    await Promise.all([1, 2].map(() => queue.enqueue(async () => { starts.push(clock.now); })));
    assert.equal(starts[1] - starts[0], value === 0 ? 10000 : 30000);
  }
});

// -- over HTTP, fake driver ------------------------------------------------------------

test('HTTP: past the hourly cap a send answers 429 RATE_LIMITED with Retry-After until the window reopens, and nothing is sent', async (t) => {
  const { app, clock } = await pacedApp({ env: { BRIDGE_HOURLY_CAP: '2' } });
  t.after(() => app.close());
  assert.equal((await post(app, '+15550000001')).statusCode, 201);
  clock.now += 5 * 60000;
  assert.equal((await post(app, '+15550000002')).statusCode, 201);
  clock.now += 5 * 60000;
  const refused = await post(app, '+15550000003', 'key-3');
  assert.equal(refused.statusCode, 429);
  assert.equal(refused.headers['retry-after'], String(50 * 60));
  const { error } = refused.json();
  assert.equal(error.code, 'RATE_LIMITED');
  assert.equal(error.retryAfter, 50 * 60);
  assert.equal(error.pauseReason, 'hourly_cap');
  assert.equal(error.pausedUntil, new Date(T0 + HOUR_MS).toISOString());
  assert.match(error.message, /hourly cap of 2 sends/);
  assert.equal((await delivered(app)).length, 2, 'the refused send never reached WhatsApp');

  const state = await pacing(app);
  assert.equal(state.sentLastHour, 2);
  assert.equal(state.hourlyCap, 2);
  assert.equal(state.pauseReason, 'hourly_cap');
  assert.equal(state.pausedUntil, error.pausedUntil);

  // Counted as a send that ended RATE_LIMITED, not as a sent message.
  const metrics = (await app.inject({ url: '/metrics', headers: auth() })).body;
  assert.match(metrics, /bridge_sends_total\{outcome="RATE_LIMITED"\} 1\n/);
  assert.match(metrics, /bridge_sends_total\{outcome="sent"\} 2\n/);

  // The key was released: the same request goes out once the window reopens.
  clock.now = T0 + HOUR_MS;
  const later = await post(app, '+15550000003', 'key-3');
  assert.equal(later.statusCode, 201);
  assert.equal(later.headers['idempotency-replay'], undefined);
  assert.equal((await delivered(app)).length, 3);
});

test('HTTP: the daily cap and the warm-up cap refuse with their own reason', async (t) => {
  const daily = await pacedApp({ env: { BRIDGE_HOURLY_CAP: '0', BRIDGE_DAILY_CAP: '1' } });
  t.after(() => daily.app.close());
  assert.equal((await post(daily.app, '+15550000001')).statusCode, 201);
  const dailyRefusal = (await post(daily.app, '+15550000002')).json().error;
  assert.equal(dailyRefusal.pauseReason, 'daily_cap');
  assert.equal(dailyRefusal.retryAfter, 24 * 60 * 60);

  const warm = await pacedApp({ env: { BRIDGE_WARMUP_START: '2026-12-01', BRIDGE_WARMUP_CAPS: '1,5' } });
  t.after(() => warm.app.close());
  assert.equal((await post(warm.app, '+15550000001')).statusCode, 201);
  const warmRefusal = (await post(warm.app, '+15550000002')).json().error;
  assert.equal(warmRefusal.pauseReason, 'warmup_cap');
  assert.equal(warmRefusal.pausedUntil, '2026-12-02T00:00:00.000Z');
  assert.equal((await pacing(warm.app)).warmupDay, 1);
  warm.clock.now = Date.parse('2026-12-02T00:00:00Z');
  assert.equal((await post(warm.app, '+15550000002')).statusCode, 201);
});

test('HTTP: sends queued before the cap was reached are refused when their turn comes', async (t) => {
  const { app } = await pacedApp({ env: { BRIDGE_HOURLY_CAP: '1' } });
  t.after(() => app.close());
  const answers = await Promise.all([post(app, '+15550000001'), post(app, '+15550000002'), post(app, '+15550000003')]);
  assert.deepEqual(answers.map((r) => r.statusCode).sort(), [201, 429, 429]);
  assert.equal((await delivered(app)).length, 1);
});

test('restart: the counters survive a bridge restart on the same data dir', async (t) => {
  const dataDir = tempDir();
  const clock = { now: T0 };
  const first = await pacedApp({ dataDir, clock, env: { BRIDGE_HOURLY_CAP: '2' } });
  assert.equal((await post(first.app, '+15550000001')).statusCode, 201);
  assert.equal((await post(first.app, '+15550000002')).statusCode, 201);
  await first.app.close();
  assert.ok(fs.existsSync(path.join(dataDir, PACING_FILE_NAME)));

  clock.now += 60000;
  const second = await pacedApp({ dataDir, clock, env: { BRIDGE_HOURLY_CAP: '2' } });
  t.after(() => second.app.close());
  const state = await pacing(second.app);
  assert.equal(state.sentLastHour, 2, 'the restarted bridge remembers the sends of the hour');
  const refused = await post(second.app, '+15550000003');
  assert.equal(refused.statusCode, 429);
  assert.equal(refused.json().error.pauseReason, 'hourly_cap');
  // The fake's record of deliveries is durable too (store-sqlite.js): the
  // two sends of the first process, and nothing more.
  assert.equal((await delivered(second.app)).length, 2, 'the new fake sent nothing');
});

test('restart: a risk pause survives a restart too', async (t) => {
  const dataDir = tempDir();
  const clock = { now: T0 };
  const first = await pacedApp({ dataDir, clock, env: { BRIDGE_RISK_PAUSE_MS: '600000' } });
  await first.app.inject({ method: 'POST', url: '/__fake/script', payload: { outcomes: [{ type: 'rate_limited', retryAfter: 5 }] } });
  assert.equal((await post(first.app, '+15550000001')).statusCode, 429);
  await first.app.close();
  const second = await pacedApp({ dataDir, clock, env: { BRIDGE_RISK_PAUSE_MS: '600000' } });
  t.after(() => second.app.close());
  const refused = (await post(second.app, '+15550000002')).json().error;
  assert.equal(refused.pauseReason, 'whatsapp_rate_limited');
  assert.equal(refused.pausedUntil, new Date(T0 + 600000).toISOString());
});

test('file store: atomic format checks, a damaged file is an error naming it', () => {
  const dataDir = tempDir();
  const store = new PacingFileStore({ dataDir });
  assert.equal(store.load(), null);
  store.save({ sends: [1, 2], pause: { reason: 'whatsapp_rate_limited', until: 5 } });
  assert.deepEqual(store.load(), { sends: [1, 2], pause: { reason: 'whatsapp_rate_limited', until: 5 } });
  assert.deepEqual(fs.readdirSync(dataDir), [PACING_FILE_NAME], 'no temporary file is left behind');
  fs.writeFileSync(store.path, '{"version":1,"sends":[1,');
  assert.throws(() => store.load(), (e) => e.message.includes(store.path) && /not valid JSON/.test(e.message));
  fs.writeFileSync(store.path, '{"version":1,"sends":["x"],"pause":null}');
  assert.throws(() => store.load(), /not in the expected format/);
});

// -- risk signals ---------------------------------------------------------------------

test('risk: WhatsApp\'s rate error pauses every send for BRIDGE_RISK_PAUSE_MS, reported in /v1/session', async (t) => {
  const { app, clock } = await pacedApp({ env: { BRIDGE_RISK_PAUSE_MS: '900000' } });
  t.after(() => app.close());
  await app.inject({ method: 'POST', url: '/__fake/script', payload: { outcomes: [{ type: 'rate_limited', retryAfter: 30 }] } });
  const first = await post(app, '+15550000001');
  assert.equal(first.statusCode, 429);
  assert.equal(first.json().error.retryAfter, 900, 'the client waits the pause, not WhatsApp\'s 30 s');
  assert.equal(first.json().error.pauseReason, 'whatsapp_rate_limited');

  const second = await post(app, '+15550000002');
  assert.equal(second.statusCode, 429);
  assert.equal((await delivered(app)).length, 0, 'nothing reached the fake during the pause');
  const state = await pacing(app);
  assert.equal(state.riskPausedUntil, new Date(T0 + 900000).toISOString());
  assert.equal(state.pauseReason, 'whatsapp_rate_limited');

  clock.now = T0 + 900000;
  assert.equal((await post(app, '+15550000002')).statusCode, 201);
  assert.equal((await pacing(app)).riskPausedUntil, null);
});

test('risk: WhatsApp\'s Retry-After longer than the risk pause wins', async (t) => {
  const { app } = await pacedApp({ env: { BRIDGE_RISK_PAUSE_MS: '1000' } });
  t.after(() => app.close());
  await app.inject({ method: 'POST', url: '/__fake/script', payload: { outcomes: [{ type: 'rate_limited', retryAfter: 120 }] } });
  assert.equal((await post(app, '+15550000001')).json().error.retryAfter, 120);
});

test('risk: a logout by WhatsApp pauses sends after the session is back; the operator\'s own logout does not', async (t) => {
  const { app, clock } = await pacedApp({ env: { BRIDGE_RISK_PAUSE_MS: '3600000' } });
  t.after(() => app.close());
  const setState = (state, error) => app.inject({ method: 'POST', url: '/__fake/state', payload: error ? { state, error } : { state } });

  await setState('DISCONNECTED', 'logging out');
  await setState('READY');
  assert.equal((await pacing(app)).riskPausedUntil, null);
  assert.equal((await post(app, '+15550000001')).statusCode, 201);

  await setState('DISCONNECTED', 'disconnected: LOGOUT');
  await setState('READY');
  await flush();
  const state = await pacing(app);
  assert.equal(state.pauseReason, 'session_logged_out');
  assert.equal(state.riskPausedUntil, new Date(clock.now + 3600000).toISOString());
  const refused = await post(app, '+15550000002');
  assert.equal(refused.statusCode, 429);
  assert.match(refused.json().error.message, /logged the session out/);
});

test('pacing off (fake default): no caps, no pause, and no counters file', async (t) => {
  const dataDir = tempDir();
  const config = loadConfig({ BRIDGE_DRIVER: 'fake', BRIDGE_API_KEY: API_KEY, BRIDGE_LOG_LEVEL: 'warn', BRIDGE_DATA_DIR: dataDir });
  const app = buildApp({ config, gateway: new FakeGateway({ printQr: () => {} }), logStream: captureStream() });
  await app.ready();
  await app.gateway.start();
  t.after(() => app.close());
  await app.inject({ method: 'POST', url: '/__fake/script', payload: { outcomes: [{ type: 'rate_limited', retryAfter: 3 }] } });
  const limited = await post(app, '+15550000001');
  assert.equal(limited.json().error.retryAfter, 3, 'WhatsApp\'s own Retry-After, unchanged');
  assert.equal(limited.json().error.pauseReason, undefined);
  for (let i = 0; i < 5; i += 1) assert.equal((await post(app, `+1555000001${i}`)).statusCode, 201);
  const state = await pacing(app);
  assert.deepEqual([state.enabled, state.hourlyCap, state.dailyCap, state.pausedUntil], [false, null, null, null]);
  assert.ok(!fs.readdirSync(dataDir).includes(PACING_FILE_NAME), 'no pacing counters file (the bridge store may be there)');
});

test('the persisted state is reloaded by a new pacer with the same store', () => {
  const store = memoryStore();
  const clock = { now: T0 };
  const first = new Pacer({ hourlyCap: 1, store, now: () => clock.now });
  first.recordSend();
  const second = new Pacer({ hourlyCap: 1, store, now: () => clock.now });
  assert.equal(second.check().reason, PauseReason.HOURLY_CAP);
  clock.now += DAY_MS;
  const third = new Pacer({ hourlyCap: 1, store, now: () => clock.now });
  assert.equal(third.status().sentLast24h, 0, 'sends older than a day are forgotten');
});

test('queue wait bound: with pacing on, a send that could wait past BRIDGE_QUEUE_MAX_WAIT_MS is refused QUEUE_FULL', async () => {
  assert.equal(loadConfig({ BRIDGE_API_KEY: 'k' }).queueMaxWaitMs, 35000);
  assert.equal(loadConfig({ BRIDGE_DRIVER: 'fake' }).queueMaxWaitMs, 0, 'no bound without pacing');

  const clock = { now: 0 };
  let release;
  const queue = new SendQueue({
    minIntervalMs: 10000,
    jitterMs: 20000,
    maxWaitMs: 35000,
    initialSendEstimateMs: 1500,
    now: () => clock.now,
    sleep: async (ms) => { clock.now += ms; },
    random: () => 0,
  });
  assert.equal(queue.isFull(), false, 'an empty queue starts at once');
  const running = queue.enqueue(() => new Promise((resolve) => { release = resolve; }));
  await flush();
  assert.equal(queue.worstWaitMs(), 31500, 'one send ahead: its longest gap and an average send');
  assert.equal(queue.isFull(), false);
  const waiting = queue.enqueue(async () => 'second');
  assert.equal(queue.isFull(), true, 'two ahead could wait 63 s');
  assert.throws(() => queue.enqueue(async () => 'third'), (e) => e.code === 'QUEUE_FULL');
  release('first');
  assert.deepEqual(await Promise.all([running, waiting]), ['first', 'second']);
  // After a send, the rest of its gap counts for the next one.
  assert.equal(queue.isFull(), false);
  assert.ok(queue.worstWaitMs() <= 30000);
});

test('process: a damaged counters file stops the start-up with exit 2 and one line naming it', async () => {
  const { spawn } = require('node:child_process');
  const dataDir = tempDir();
  fs.writeFileSync(path.join(dataDir, PACING_FILE_NAME), '{"version":1,"sends":[');
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('BRIDGE_')));
  Object.assign(env, { BRIDGE_DRIVER: 'fake', BRIDGE_PACING: '1', BRIDGE_DATA_DIR: dataDir, BRIDGE_PORT: '0' });
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'src', 'server.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 2);
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0], /^bridge: configuration error: the pacing counters in .*pacing-state\.json are not valid JSON; delete the file/);
});

test('pacing file store: a data directory it creates is owner-only, like the SQLite store', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pacing-mode-'));
  const previous = process.umask(0o022);
  try {
    const dataDir = path.join(root, 'data');
    new PacingFileStore({ dataDir }).save({ sends: [], pause: null });
    assert.equal(fs.statSync(dataDir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(dataDir, PACING_FILE_NAME)).mode & 0o777, 0o600);
  } finally {
    process.umask(previous);
    fs.rmSync(root, { recursive: true, force: true });
  }
});

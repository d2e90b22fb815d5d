'use strict';

/**
 * The bridge store (store.js, store-sqlite.js): both kinds keep the same
 * interface and rules, and the SQLite one keeps idempotency keys, messages
 * with their acks, the number cache and the fake's deliveries across a
 * restart, including a restart after `kill -9` of a real bridge process.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { spawn } = require('node:child_process');
const Database = require('better-sqlite3');
const { loadConfig, ConfigError } = require('../src/config');
const { openStore, createMemoryStore, StoreOpenError, STORE_FILE } = require('../src/store');
const { openSqliteStore, SCHEMA_VERSION } = require('../src/store-sqlite');
const { nextAck } = require('../src/message-store');
const { buildApp } = require('../src/app');
const { FakeGateway } = require('../src/gateways/fake');
const { API_KEY, auth, send, captureStream } = require('./helpers');

const SERVER = path.join(__dirname, '..', 'src', 'server.js');
const HOUR = 60 * 60 * 1000;

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-store-'));
}

function config(env = {}) {
  return loadConfig({ BRIDGE_DRIVER: 'fake', BRIDGE_API_KEY: API_KEY, BRIDGE_LOG_LEVEL: 'warn', ...env });
}

/** Both kinds of store, each with a clock the test moves. */
const KINDS = {
  memory: (clock) => createMemoryStore({ config: config(), now: () => clock.now }),
  sqlite: (clock, dir = tempDir()) => openSqliteStore({ file: path.join(dir, STORE_FILE), config: config({ BRIDGE_DATA_DIR: dir }), now: () => clock.now }),
};

test('config: the store defaults to memory only for the fake without a data dir; bad values name the variable', () => {
  assert.equal(config().store, 'memory');
  assert.equal(config({ BRIDGE_DATA_DIR: '/tmp/x' }).store, 'sqlite');
  assert.equal(loadConfig({ BRIDGE_API_KEY: 'k' }).store, 'sqlite');
  assert.equal(config({ BRIDGE_DATA_DIR: '/tmp/x', BRIDGE_STORE: 'memory' }).store, 'memory');
  const defaults = config();
  assert.equal(defaults.storeSync, 'normal');
  assert.equal(defaults.idempotencyTtlMs, 24 * HOUR);
  assert.equal(defaults.numberCacheTtlMs, 7 * 24 * HOUR);
  assert.equal(defaults.numberMissTtlMs, HOUR);
  assert.equal(defaults.messageRetentionMs, 30 * 24 * HOUR);
  for (const [name, value] of [
    ['BRIDGE_STORE', 'disk'],
    ['BRIDGE_STORE_SYNC', 'off'],
    ['BRIDGE_MESSAGE_RETENTION_MS', '59999'],
    ['BRIDGE_MESSAGE_RETENTION_MS', '1d'],
    ['BRIDGE_NUMBER_CACHE_TTL_MS', '-1'],
    ['BRIDGE_NUMBER_MISS_TTL_MS', '1.5'],
    ['BRIDGE_IDEMPOTENCY_TTL_MS', '0'],
  ]) {
    assert.throws(() => config({ [name]: value }), (e) => e instanceof ConfigError && e.message.startsWith(name), `${name}=${value}`);
  }
});

test('ack rule: the state only moves forward; ERROR replaces only PENDING and SERVER', () => {
  const order = ['PENDING', 'SERVER', 'DEVICE', 'READ', 'PLAYED'];
  for (const [i, current] of order.entries()) {
    for (const [j, incoming] of order.entries()) assert.equal(nextAck(current, incoming), j > i ? incoming : current, `${current} + ${incoming}`);
  }
  assert.equal(nextAck('PENDING', 'ERROR'), 'ERROR');
  assert.equal(nextAck('SERVER', 'ERROR'), 'ERROR');
  assert.equal(nextAck('DEVICE', 'ERROR'), 'DEVICE');
  assert.equal(nextAck('ERROR', 'SERVER'), 'ERROR');
  assert.equal(nextAck('ERROR', 'READ'), 'READ');
});

for (const [kind, open] of Object.entries(KINDS)) {
  test(`${kind} message store: every ack with its time, current state, early acks, getMany, one event per change`, () => {
    const clock = { now: 1000 };
    const store = open(clock);
    try {
      const { messages } = store;
      const events = [];
      messages.on('ack', (event) => events.push(event));
      clock.now = 1500;
      assert.equal(messages.updateAck('b', 'SERVER'), false, 'an ack before its message is parked');
      clock.now = 2000;
      assert.deepEqual(messages.add({ id: 'a', to: '1@c.us', ack: 'PENDING' }).acks, { PENDING: new Date(2000).toISOString() });
      const b = messages.add({ id: 'b', to: '2@c.us', ack: 'PENDING' });
      assert.equal(b.ack, 'SERVER', 'the parked ack is applied');
      assert.deepEqual(b.acks, { PENDING: new Date(2000).toISOString(), SERVER: new Date(1500).toISOString() });
      clock.now = 3000;
      assert.equal(messages.updateAck('a', 'READ'), true);
      clock.now = 4000;
      assert.equal(messages.updateAck('a', 'DEVICE'), true, 'known, though it changes nothing');
      messages.updateAck('a', 'READ');
      const a = messages.get('a');
      assert.deepEqual(a, {
        id: 'a',
        to: '1@c.us',
        ack: 'READ',
        updatedAt: new Date(3000).toISOString(),
        sentAt: new Date(2000).toISOString(),
        acks: { PENDING: new Date(2000).toISOString(), READ: new Date(3000).toISOString(), DEVICE: new Date(4000).toISOString() },
      });
      assert.deepEqual(events.map((e) => [e.id, e.previous, e.ack, e.to]), [['b', 'PENDING', 'SERVER', '2@c.us'], ['a', 'PENDING', 'READ', '1@c.us']]);
      assert.deepEqual(messages.getMany(['b', 'nope', 'a']).map((e) => e && e.ack), ['SERVER', null, 'READ']);
      assert.deepEqual(messages.getMany(['a'])[0], a);
      assert.equal(messages.size, 2);
      messages.clear();
      assert.equal(messages.get('a'), null);
      assert.equal(messages.size, 0);
    } finally {
      store.close();
    }
  });

  test(`${kind} number cache: hits until the TTL, "not on WhatsApp" for the shorter one, 0 never caches`, () => {
    const clock = { now: 0 };
    const store = open(clock);
    try {
      const { numbers } = store;
      assert.equal(numbers.get('15550001'), undefined);
      numbers.put('15550001', '15550001@c.us');
      numbers.put('15550002', null);
      assert.deepEqual(numbers.get('15550001'), { chatId: '15550001@c.us' });
      assert.deepEqual(numbers.get('15550002'), { chatId: null });
      clock.now = HOUR;
      assert.equal(numbers.get('15550002'), undefined, 'the miss expired after an hour');
      assert.deepEqual(numbers.get('15550001'), { chatId: '15550001@c.us' });
      clock.now = 7 * 24 * HOUR;
      assert.equal(numbers.get('15550001'), undefined);
      numbers.put('15550003', '15550003@c.us');
      numbers.delete('15550003');
      assert.equal(numbers.get('15550003'), undefined);
    } finally {
      store.close();
    }
  });

  test(`${kind} idempotency: claim, replay, release, mismatch, expiry after the TTL`, () => {
    const clock = { now: 0 };
    const store = open(clock);
    try {
      const { idempotency } = store;
      const claim = idempotency.begin('k', 'h1');
      assert.equal(claim.kind, 'new');
      assert.equal(idempotency.begin('k', 'h1').kind, 'in_flight');
      assert.equal(idempotency.begin('k', 'h2').kind, 'mismatch');
      const response = { statusCode: 201, body: { id: 'x', to: '1@c.us', ack: 'PENDING' } };
      assert.equal(idempotency.complete(claim.record, response), true);
      assert.deepEqual(idempotency.begin('k', 'h1'), { kind: 'replay', response });
      const other = idempotency.begin('f', 'h').record;
      assert.equal(idempotency.fail(other), true);
      assert.equal(idempotency.begin('f', 'h').kind, 'new', 'a released key may be sent again');
      assert.equal(idempotency.size, 2);
      clock.now = 24 * HOUR;
      assert.equal(idempotency.begin('k', 'h1').kind, 'new', 'forgotten after the TTL');
    } finally {
      store.close();
    }
  });
}

for (const sync of ['normal', 'full']) test(`sqlite store (BRIDGE_STORE_SYNC=${sync}): keys, messages with acks, lookups and deliveries survive closing and reopening`, () => {
  const dir = tempDir();
  const clock = { now: 0 };
  const open = () => openSqliteStore({ file: path.join(dir, STORE_FILE), config: config({ BRIDGE_DATA_DIR: dir, BRIDGE_STORE_SYNC: sync }), now: () => clock.now });
  const first = open();
  const done = first.idempotency.begin('done', 'h').record;
  first.idempotency.complete(done, { statusCode: 201, body: { id: 'm1' } });
  first.idempotency.begin('running', 'h');
  first.messages.add({ id: 'm1', to: '1@c.us', ack: 'PENDING' });
  first.messages.updateAck('m1', 'DEVICE');
  first.numbers.put('15550001', '15550001@c.us');
  first.sentLog.append({ id: 'm1', to: '1@c.us' });
  assert.equal(first.interrupted, 0);
  first.close();

  const second = open();
  try {
    assert.equal(second.interrupted, 1, 'the key left in flight is counted');
    assert.deepEqual(second.idempotency.begin('done', 'h'), { kind: 'replay', response: { statusCode: 201, body: { id: 'm1' } } });
    const unknown = second.idempotency.begin('running', 'h');
    assert.equal(unknown.kind, 'replay');
    assert.equal(unknown.response.statusCode, 409);
    assert.equal(unknown.response.body.error.code, 'SEND_OUTCOME_UNKNOWN');
    assert.equal(second.idempotency.begin('running', 'other').kind, 'mismatch');
    assert.equal(second.messages.get('m1').ack, 'DEVICE');
    assert.deepEqual(Object.keys(second.messages.get('m1').acks).sort(), ['DEVICE', 'PENDING']);
    assert.deepEqual(second.numbers.get('15550001'), { chatId: '15550001@c.us' });
    assert.deepEqual(second.sentLog.list(), [{ id: 'm1', to: '1@c.us' }]);
  } finally {
    second.close();
  }
});

test('memory and sqlite message stores agree over random ack sequences (early acks included)', () => {
  const acks = ['PENDING', 'SERVER', 'DEVICE', 'READ', 'PLAYED', 'ERROR'];
  // A small seeded generator: the same cases on every run, many shapes.
  let seed = 20261201;
  const random = (n) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  for (let round = 0; round < 40; round += 1) {
    const clock = { now: 0 };
    const stores = [KINDS.memory(clock), KINDS.sqlite(clock)];
    const events = stores.map(() => []);
    stores.forEach((store, i) => store.messages.on('ack', (e) => events[i].push(e)));
    const ids = ['a', 'b', 'c'];
    const added = new Set();
    try {
      for (let step = 0; step < 25; step += 1) {
        clock.now += 1 + random(1000);
        const id = ids[random(ids.length)];
        if (!added.has(id) && random(4) === 0) {
          added.add(id);
          const results = stores.map((store) => store.messages.add({ id, to: `${id}@c.us`, ack: 'PENDING' }));
          assert.deepEqual(results[1], results[0]);
        } else {
          const ack = acks[random(acks.length)];
          const known = stores.map((store) => store.messages.updateAck(id, ack));
          assert.equal(known[1], known[0]);
        }
      }
      assert.deepEqual(stores[1].messages.getMany(ids), stores[0].messages.getMany(ids), `round ${round}`);
      assert.deepEqual(events[1], events[0], `round ${round}`);
      for (const entry of stores[0].messages.getMany(ids)) {
        // Each change event is a step nextAck allows, ending at the current state.
        if (!entry) continue;
        const mine = events[0].filter((e) => e.id === entry.id);
        for (const e of mine) assert.equal(nextAck(e.previous, e.ack), e.ack);
        if (mine.length > 0) assert.equal(mine[mine.length - 1].ack, entry.ack);
      }
    } finally {
      stores.forEach((store) => store.close());
    }
  }
});

test('sqlite store: messages past the retention are swept; a file from a newer bridge or no database is refused', () => {
  const dir = tempDir();
  const clock = { now: 0 };
  const store = KINDS.sqlite(clock, dir);
  store.messages.add({ id: 'old', to: '1@c.us', ack: 'PENDING' });
  clock.now = 30 * 24 * HOUR;
  store.messages.add({ id: 'new', to: '1@c.us', ack: 'PENDING' });
  store.sweep();
  assert.equal(store.messages.get('old'), null);
  assert.notEqual(store.messages.get('new'), null);
  store.close();

  const db = new Database(path.join(dir, STORE_FILE));
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  assert.throws(() => KINDS.sqlite(clock, dir), (e) => e instanceof StoreOpenError && /newer bridge/.test(e.message));

  const junkDir = tempDir();
  fs.writeFileSync(path.join(junkDir, STORE_FILE), 'this is not a database, just text that is long enough to have a header');
  assert.throws(() => KINDS.sqlite(clock, junkDir), (e) => e instanceof StoreOpenError && e.message.includes(STORE_FILE));
});

test('openStore: BRIDGE_STORE picks the kind; the sqlite file goes into BRIDGE_DATA_DIR', () => {
  const dir = tempDir();
  const memory = openStore({ config: config() });
  assert.equal(memory.kind, 'memory');
  memory.close();
  const durable = openStore({ config: config({ BRIDGE_DATA_DIR: path.join(dir, 'nested') }) });
  assert.equal(durable.kind, 'sqlite');
  assert.equal(durable.path, path.join(dir, 'nested', STORE_FILE));
  durable.close();
  assert.ok(fs.existsSync(path.join(dir, 'nested', STORE_FILE)));
});

/** A fake-driver app on the SQLite store in `dir`, with a clock the test moves. */
async function durableApp(dir, clock = { now: Date.now() }) {
  const cfg = config({ BRIDGE_DATA_DIR: dir });
  const app = buildApp({ config: cfg, gateway: new FakeGateway({ printQr: () => {}, now: () => clock.now }), logStream: captureStream(), now: () => clock.now });
  await app.ready();
  await app.gateway.start();
  return app;
}

async function lookups(app) {
  return (await app.inject({ url: '/__fake/lookups' })).json().lookups;
}

test('number lookups: once per number, a miss asked again after its TTL, nothing asked again after a restart', async () => {
  const dir = tempDir();
  const clock = { now: Date.now() };
  let app = await durableApp(dir, clock);
  try {
    await app.inject({ method: 'POST', url: '/__fake/unregistered', payload: { numbers: ['15559999999'] } });
    for (const to of ['+15551110001', '15551110001', '15551110001@c.us', '+15551110002']) assert.equal((await send(app, { to, text: 'x' })).statusCode, 201);
    assert.equal((await send(app, { to: '+15559999999', text: 'x' })).statusCode, 422);
    assert.equal((await send(app, { to: '+15559999999', text: 'x' })).statusCode, 422);
    assert.deepEqual(await lookups(app), ['15551110001', '15551110002', '15559999999']);
    clock.now += HOUR;
    assert.equal((await send(app, { to: '+15559999999', text: 'x' })).statusCode, 422);
    assert.equal((await send(app, { to: '+15551110001', text: 'x' })).statusCode, 201);
    assert.deepEqual((await lookups(app)).slice(3), ['15559999999'], 'the miss expired after an hour, the id did not');
  } finally {
    await app.close();
  }
  app = await durableApp(dir, clock);
  try {
    assert.equal((await send(app, { to: '+15551110001', text: 'again' })).statusCode, 201);
    assert.equal((await send(app, { to: '+15559999999', text: 'x' })).statusCode, 422);
    assert.deepEqual(await lookups(app), [], 'answered from the durable cache after the restart');
  } finally {
    await app.close();
  }
});

test('acks arrive into the durable store and are there after a restart', async () => {
  const dir = tempDir();
  let app = await durableApp(dir);
  let id;
  try {
    id = (await send(app, { to: '+15551110003', text: 'x' })).json().id;
    for (const ack of ['SERVER', 'DEVICE', 'READ']) assert.equal((await app.inject({ method: 'POST', url: '/__fake/ack', payload: { id, ack } })).statusCode, 200);
  } finally {
    await app.close();
  }
  app = await durableApp(dir);
  try {
    const res = await app.inject({ url: `/v1/messages/${encodeURIComponent(id)}`, headers: auth() });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().ack, 'READ');
    assert.deepEqual(Object.keys(app.messageStore.get(id).acks).sort(), ['DEVICE', 'PENDING', 'READ', 'SERVER']);
  } finally {
    await app.close();
  }
});

// -- a real bridge process, killed with SIGKILL -------------------------------------

function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BRIDGE_')) env[k] = v;
  return { ...env, ...extra };
}

function startBridge(dir) {
  return new Promise((resolve, reject) => {
    const env = cleanEnv({ BRIDGE_DRIVER: 'fake', BRIDGE_API_KEY: API_KEY, BRIDGE_PORT: '0', BRIDGE_DATA_DIR: dir, BRIDGE_LOG_LEVEL: 'info' });
    const child = spawn(process.execPath, [SERVER], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = [];
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no listening line: ${stderr}`)); }, 15000);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      lines.push(entry);
      if (entry.event === 'listening') {
        clearTimeout(timer);
        resolve({ child, url: `http://127.0.0.1:${entry.port}`, lines });
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited early with ${code}: ${stderr}`)); });
  });
}

function killHard(child) {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', (code, signal) => resolve(signal));
    child.kill('SIGKILL');
  });
}

async function post(url, pathName, body, headers = {}) {
  const res = await fetch(`${url}${pathName}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

function sendTo(url, key, to) {
  return post(url, '/v1/messages', { to, text: `for ${to}` }, { ...auth(), 'idempotency-key': key });
}

/**
 * Poll the bridge's own file (read-only) until `key` is written in flight.
 * Up to 30 s (1200 polls of 25 ms): a loaded CI machine can take seconds to
 * start the request, and giving up early fails a test that is right.
 */
async function waitInFlight(dir, key) {
  for (let i = 0; i < 1200; i += 1) {
    const db = new Database(path.join(dir, STORE_FILE), { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare('SELECT state FROM idempotency WHERE key = ?').get(key);
      if (row && row.state === 'in_flight') return;
    } finally {
      db.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${key} never showed in flight`);
}

test('kill -9: answered keys replay after the restart, the interrupted one is SEND_OUTCOME_UNKNOWN, nothing is sent twice', async () => {
  const dir = tempDir();
  const first = await startBridge(dir);
  let done;
  try {
    done = await sendTo(first.url, 'k-done', '+15552220001');
    assert.equal(done.status, 201);
    assert.equal((await post(first.url, '/__fake/ack', { id: done.body.id, ack: 'READ' })).status, 200);
    // The next send hangs in the fake for a minute: its key is on disk in
    // flight, its message not delivered, when the process is killed.
    assert.equal((await post(first.url, '/__fake/script', { outcomes: [{ type: 'delay', ms: 60000 }] })).status, 200);
    sendTo(first.url, 'k-running', '+15552220002').catch(() => {});
    await waitInFlight(dir, 'k-running');
  } finally {
    assert.equal(await killHard(first.child), 'SIGKILL');
  }

  const second = await startBridge(dir);
  try {
    assert.ok(second.lines.some((l) => l.event === 'sends_interrupted' && l.count === 1), 'the restart logs the interrupted send');
    const replay = await sendTo(second.url, 'k-done', '+15552220001');
    assert.equal(replay.status, 201);
    assert.equal(replay.headers.get('idempotency-replay'), 'true');
    assert.equal(replay.body.id, done.body.id);
    const unknown = await sendTo(second.url, 'k-running', '+15552220002');
    assert.equal(unknown.status, 409);
    assert.equal(unknown.body.error.code, 'SEND_OUTCOME_UNKNOWN');
    assert.equal(unknown.headers.get('idempotency-replay'), 'true');
    assert.equal((await sendTo(second.url, 'k-running', '+15552220002')).body.error.code, 'SEND_OUTCOME_UNKNOWN', 'every retry gets the same answer');

    const sentRes = await fetch(`${second.url}/__fake/sent`);
    const delivered = (await sentRes.json()).messages;
    assert.deepEqual(delivered.map((m) => m.idempotencyKey), ['k-done'], 'the delivery before the kill is in the record, and nothing since');
    const status = await fetch(`${second.url}/v1/messages/${encodeURIComponent(done.body.id)}`, { headers: auth() });
    assert.equal((await status.json()).ack, 'READ', 'the ack stored before the kill');
    assert.equal((await sendTo(second.url, 'k-new', '+15552220001')).status, 201);
    const lookupRes = await (await fetch(`${second.url}/__fake/lookups`)).json();
    assert.deepEqual(lookupRes.lookups, [], 'the number looked up before the kill is not looked up again');
  } finally {
    await killHard(second.child);
  }
});

test('a data directory the store cannot use stops start-up with one line and exit 2', async () => {
  const dir = tempDir();
  const notADir = path.join(dir, 'file');
  fs.writeFileSync(notADir, 'x');
  const child = spawn(process.execPath, [SERVER], { env: cleanEnv({ BRIDGE_DRIVER: 'fake', BRIDGE_PORT: '0', BRIDGE_DATA_DIR: notADir }), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const code = await new Promise((resolve) => child.on('exit', resolve));
  assert.equal(code, 2);
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0], /^bridge: configuration error: cannot open the bridge store .*bridge-state\.sqlite \(BRIDGE_DATA_DIR\)/);
});

test('sqlite store: a data directory it creates is 0700, the database and its -wal/-shm 0600 whatever the umask; existing ones keep their mode', { skip: process.platform === 'win32' }, () => {
  const parent = tempDir();
  const dir = path.join(parent, 'data', 'nested');
  const previous = process.umask(0o022);
  try {
    const store = openStore({ config: config({ BRIDGE_DATA_DIR: dir }) });
    try {
      store.idempotency.begin('k', 'h'); // a write, so the log and shared memory exist
      const mode = (file) => fs.statSync(file).mode & 0o777;
      assert.equal(mode(path.join(parent, 'data')), 0o700);
      assert.equal(mode(dir), 0o700);
      for (const suffix of ['', '-wal', '-shm']) assert.equal(mode(path.join(dir, STORE_FILE + suffix)), 0o600, `${STORE_FILE}${suffix}`);
    } finally {
      store.close();
    }

    const chosen = path.join(parent, 'chosen');
    fs.mkdirSync(chosen, { mode: 0o750 });
    fs.chmodSync(chosen, 0o750);
    new Database(path.join(chosen, STORE_FILE)).close(); // made by someone else, 0644 under this umask
    const again = openStore({ config: config({ BRIDGE_DATA_DIR: chosen }) });
    again.close();
    assert.equal(fs.statSync(chosen).mode & 0o777, 0o750);
    assert.equal(fs.statSync(path.join(chosen, STORE_FILE)).mode & 0o777, 0o644);
  } finally {
    process.umask(previous);
  }
});

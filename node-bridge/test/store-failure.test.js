'use strict';

/**
 * A send WhatsApp took but the store could not record (disk full, database
 * busy): the request is answered at once with the ambiguous 502
 * SEND_UNCONFIRMED, the key is settled with that answer (a retry replays
 * it, never sends again, never waits), the metrics count it, and the log
 * says so. Driven through the app with a store whose message writes fail
 * on demand, for both kinds of store; the SQLite store's fallback when the
 * disk refuses the answer too is checked on the store itself.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Database = require('better-sqlite3');
const { loadConfig } = require('../src/config');
const { createMemoryStore, STORE_FILE } = require('../src/store');
const { openSqliteStore, SqliteIdempotencyStore } = require('../src/store-sqlite');
const { buildApp } = require('../src/app');
const { FakeGateway } = require('../src/gateways/fake');
const { hashSendBody } = require('../src/idempotency-store');
const { API_KEY, auth, send, captureStream } = require('./helpers');
const { parseExposition, sampleValue } = require('./prometheus-text');

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-store-failure-'));
}

function config(env = {}) {
  // A send timeout far longer than the test: an unanswered request would
  // show as the test's own timeout, not as a quick 504.
  return loadConfig({ BRIDGE_DRIVER: 'fake', BRIDGE_API_KEY: API_KEY, BRIDGE_LOG_LEVEL: 'info', BRIDGE_SEND_TIMEOUT_MS: '600000', ...env });
}

const KINDS = {
  memory: () => createMemoryStore({ config: config() }),
  sqlite: () => {
    const dir = tempDir();
    return openSqliteStore({ file: path.join(dir, STORE_FILE), config: config({ BRIDGE_DATA_DIR: dir }) });
  },
};

/** `store` with message writes that throw SQLite's disk-full error while `failing.on`. */
function failingWrites(store) {
  const failing = { on: false };
  const add = store.messages.add.bind(store.messages);
  store.messages.add = (message) => {
    if (failing.on) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    return add(message);
  };
  return failing;
}

async function appOn(store) {
  const logs = captureStream();
  const app = buildApp({ config: config(), gateway: new FakeGateway({ printQr: () => {} }), logStream: logs, store });
  await app.ready();
  await app.gateway.start();
  return { app, logs };
}

async function delivered(app) {
  return (await app.inject({ url: '/__fake/sent' })).json().messages;
}

for (const [kind, open] of Object.entries(KINDS)) {
  test(`${kind} store: a send the store cannot record answers 502 SEND_UNCONFIRMED at once; a retry replays it, nothing is sent twice`, { timeout: 60000 }, async () => {
    const store = open();
    const failing = failingWrites(store);
    const { app, logs } = await appOn(store);
    try {
      failing.on = true;
      const first = await send(app, { to: '+15553330001', text: 'x' }, { key: 'k-unrecorded' });
      assert.equal(first.statusCode, 502, first.body);
      assert.equal(first.json().error.code, 'SEND_UNCONFIRMED');
      assert.match(first.json().error.message, /could not record it \(database or disk is full\)/);
      assert.equal((await delivered(app)).length, 1, 'WhatsApp (the fake) took it');

      // The disk is fine again; the key still answers what the first request got.
      failing.on = false;
      const retry = await send(app, { to: '+15553330001', text: 'x' }, { key: 'k-unrecorded' });
      assert.equal(retry.statusCode, 502);
      assert.equal(retry.json().error.code, 'SEND_UNCONFIRMED');
      assert.equal(retry.headers['idempotency-replay'], 'true');
      assert.equal((await delivered(app)).length, 1, 'the retry sent nothing');
      assert.equal((await send(app, { to: '+15553330001', text: 'other' }, { key: 'k-unrecorded' })).statusCode, 422, 'the key is still bound to its body');

      // Without a key there is nothing to settle, and the answer is the same.
      failing.on = true;
      const keyless = await send(app, { to: '+15553330002', text: 'y' });
      assert.equal(keyless.statusCode, 502);
      assert.equal(keyless.json().error.code, 'SEND_UNCONFIRMED');
      failing.on = false;
      assert.equal((await send(app, { to: '+15553330003', text: 'z' }, { key: 'k-fine' })).statusCode, 201, 'later sends are recorded as usual');

      const metrics = parseExposition((await app.inject({ url: '/metrics', headers: auth() })).body);
      assert.equal(sampleValue(metrics, 'bridge_sends_total', { outcome: 'SEND_UNCONFIRMED' }), 2);
      assert.equal(sampleValue(metrics, 'bridge_sends_total', { outcome: 'sent' }), 1);
      const unrecorded = logs.lines().filter((line) => line.event === 'send_unrecorded');
      assert.equal(unrecorded.length, 2);
      assert.equal(unrecorded[0].level, 50, 'logged as an error');
    } finally {
      await app.close();
    }
  });
}

test('sqlite store: the key answer stays on disk when only the message write failed, and replays after a restart', async () => {
  const dir = tempDir();
  const file = path.join(dir, STORE_FILE);
  const cfg = config({ BRIDGE_DATA_DIR: dir });
  const store = openSqliteStore({ file, config: cfg });
  const failing = failingWrites(store);
  const { app } = await appOn(store);
  try {
    failing.on = true;
    assert.equal((await send(app, { to: '+15553330004', text: 'x' }, { key: 'k-disk' })).statusCode, 502);
  } finally {
    await app.close();
  }
  const reopened = openSqliteStore({ file, config: cfg });
  try {
    assert.equal(reopened.interrupted, 0, 'the key was settled on disk, not left in flight');
    const claim = reopened.idempotency.begin('k-disk', hashSendBody({ to: '+15553330004', text: 'x' }));
    assert.equal(claim.kind, 'replay');
    assert.equal(claim.response.statusCode, 502);
    assert.equal(claim.response.body.error.code, 'SEND_UNCONFIRMED');
  } finally {
    reopened.close();
  }
});

test('sqlite idempotency: an ambiguous answer the disk refuses is kept in memory; after a restart the key is SEND_OUTCOME_UNKNOWN', async () => {
  const dir = tempDir();
  const file = path.join(dir, STORE_FILE);
  const cfg = config({ BRIDGE_DATA_DIR: dir });
  openSqliteStore({ file, config: cfg }).close();
  const db = new Database(file);
  const store = new SqliteIdempotencyStore({ db, ttlMs: 60000, now: Date.now });
  const answer = { statusCode: 502, body: { error: { code: 'SEND_UNCONFIRMED', message: 'm' } } };
  try {
    const claim = store.begin('k', 'hash-a');
    assert.equal(claim.kind, 'new');
    db.pragma('query_only = ON'); // every write now fails, as on a full disk
    assert.equal(store.settleAmbiguous(claim.record, answer), false, 'not written');
    await claim.record.settled; // waiters on the key are woken (else this hangs)
    assert.deepEqual(store.begin('k', 'hash-a'), { kind: 'replay', response: answer });
    assert.deepEqual(store.begin('k', 'hash-b'), { kind: 'mismatch' });
  } finally {
    db.close();
  }
  const reopened = openSqliteStore({ file, config: cfg });
  try {
    assert.equal(reopened.interrupted, 1, 'the row stayed in flight on disk');
    const after = reopened.idempotency.begin('k', 'hash-a');
    assert.equal(after.kind, 'replay');
    assert.equal(after.response.body.error.code, 'SEND_OUTCOME_UNKNOWN');
  } finally {
    reopened.close();
  }
});

for (const [kind, open] of Object.entries(KINDS)) {
  test(`${kind} store: a write that fails after the key's 201 was set in it (a failed commit) still answers 502, and the retry replays the 502`, { timeout: 60000 }, async () => {
    const store = open();
    // The transaction runs everything, then fails as a refused COMMIT would:
    // the key was completed in memory, the disk (SQLite) rolled back.
    const atomically = store.atomically;
    store.atomically = (fn) => atomically(() => {
      fn();
      throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    });
    const { app } = await appOn(store);
    try {
      const first = await send(app, { to: '+15553330005', text: 'x' }, { key: 'k-commit' });
      assert.equal(first.statusCode, 502, first.body);
      assert.equal(first.json().error.code, 'SEND_UNCONFIRMED');
      const retry = await send(app, { to: '+15553330005', text: 'x' }, { key: 'k-commit' });
      assert.equal(retry.statusCode, 502, retry.body);
      assert.equal(retry.headers['idempotency-replay'], 'true');
      assert.equal((await delivered(app)).length, 1);
    } finally {
      await app.close();
    }
  });
}

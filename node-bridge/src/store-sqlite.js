'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { EventEmitter } = require('node:events');
const { BridgeError } = require('./errors');
const { ErrorCode } = require('./error-codes');
const { nextAck } = require('./message-store');
const { StoreOpenError } = require('./store');

/**
 * Version of the tables below, kept in SQLite's `user_version`. A database
 * written by a newer bridge is refused rather than half-understood.
 */
const SCHEMA_VERSION = 1;

/** Acks for ids the bridge has not recorded (yet) are kept this long. */
const EARLY_ACK_RETENTION_MS = 60 * 60 * 1000;
const MAX_EARLY_ACKS = 1000;
const MAX_SENT_LOG = 10000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS idempotency (
  key TEXT PRIMARY KEY,
  body_hash TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
  response TEXT,
  updated_at INTEGER NOT NULL,
  expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS idempotency_expiry ON idempotency (expires_at) WHERE state = 'done';
CREATE TABLE IF NOT EXISTS messages (
  id TEXT PRIMARY KEY,
  recipient TEXT NOT NULL,
  ack TEXT NOT NULL,
  sent_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_sent_at ON messages (sent_at);
CREATE TABLE IF NOT EXISTS message_acks (
  id TEXT NOT NULL,
  ack TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (id, ack)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS early_acks (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  ack TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS early_acks_id ON early_acks (id);
CREATE TABLE IF NOT EXISTS number_ids (
  digits TEXT PRIMARY KEY,
  chat_id TEXT,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fake_sent (
  seq INTEGER PRIMARY KEY,
  entry TEXT NOT NULL
);
`;

/**
 * The answer stored for a key whose send was in progress when the bridge
 * died. Whether WhatsApp took the message is unknowable from here, so it is
 * neither re-sent nor reported as failed. 409 and not 502: a client that
 * predates this code reads a bare 409 as "the same key is still being
 * processed", which is just as ambiguous and equally safe.
 */
function interruptedResponse() {
  const error = new BridgeError(
    409,
    ErrorCode.SEND_OUTCOME_UNKNOWN,
    'The send with this Idempotency-Key was in progress when the bridge stopped; whether WhatsApp took the message is unknown, so it is not sent again',
    {},
    { ambiguous: true },
  );
  return { statusCode: error.statusCode, body: error.toBody() };
}

/**
 * Idempotency-Key records in SQLite, with IdempotencyStore's interface and
 * semantics (see idempotency-store.js). A row is written in_flight BEFORE the
 * send reaches WhatsApp, so a process that dies mid-send leaves a trace; the
 * next process turns every such row into the SEND_OUTCOME_UNKNOWN answer
 * (openSqliteStore) instead of letting a retry send again. Waiting on an
 * in-flight record is per process: the `settled` promises live in
 * `_inFlight`, next to the rows this process owns.
 */
class SqliteIdempotencyStore {
  constructor({ db, claimDb = db, ttlMs, now }) {
    this._ttlMs = ttlMs;
    this._now = now;
    this._inFlight = new Map();
    // Answers settled by settleAmbiguous() that the disk refused: key ->
    // {bodyHash, response, expiresAt}. Read before the disk, so this process
    // replays them; after a restart the row, still in flight, answers
    // SEND_OUTCOME_UNKNOWN instead.
    this._unwritten = new Map();
    this._select = db.prepare('SELECT body_hash, state, response, expires_at FROM idempotency WHERE key = ?');
    // A new key (the common case) is one statement: the insert; only a key
    // already there is read, and an expired one replaced.
    this._claimNew = claimDb.prepare("INSERT INTO idempotency (key, body_hash, state, response, updated_at, expires_at) VALUES (?, ?, 'in_flight', NULL, ?, NULL) ON CONFLICT (key) DO NOTHING");
    this._claim = claimDb.prepare("INSERT OR REPLACE INTO idempotency (key, body_hash, state, response, updated_at, expires_at) VALUES (?, ?, 'in_flight', NULL, ?, NULL)");
    this._complete = db.prepare("UPDATE idempotency SET state = 'done', response = ?, updated_at = ?, expires_at = ? WHERE key = ? AND state = 'in_flight'");
    this._release = db.prepare("DELETE FROM idempotency WHERE key = ? AND state = 'in_flight'");
    this._count = db.prepare('SELECT COUNT(*) AS n FROM idempotency').pluck();
    this._sweep = db.prepare("DELETE FROM idempotency WHERE state = 'done' AND expires_at <= ?");
    this._clear = db.prepare('DELETE FROM idempotency');
  }

  begin(key, bodyHash) {
    const own = this._inFlight.get(key);
    if (own) return own.bodyHash === bodyHash ? { kind: 'in_flight', record: own } : { kind: 'mismatch' };
    const now = this._now();
    const held = this._unwritten.get(key);
    if (held) {
      if (held.expiresAt > now) return held.bodyHash === bodyHash ? { kind: 'replay', response: held.response } : { kind: 'mismatch' };
      this._unwritten.delete(key);
    }
    if (this._claimNew.run(key, bodyHash, now).changes === 0) {
      const row = this._select.get(key);
      if (!(row.state === 'done' && row.expires_at <= now)) {
        if (row.body_hash !== bodyHash) return { kind: 'mismatch' };
        if (row.state === 'done') return { kind: 'replay', response: JSON.parse(row.response) };
        // In flight in another process sharing the file (unsupported, see the
        // README): nothing here will settle it, so the caller's wait runs out
        // into 409 IDEMPOTENCY_IN_FLIGHT rather than sending a second time.
        return { kind: 'in_flight', record: { key, bodyHash, state: 'in_flight', settled: new Promise(() => {}), settle() {} } };
      }
      this._claim.run(key, bodyHash, now);
    }
    let settle = null;
    const settled = new Promise((resolve) => {
      settle = resolve;
    });
    const record = { key, bodyHash, state: 'in_flight', response: null, settled, settle };
    this._inFlight.set(key, record);
    return { kind: 'new', record };
  }

  complete(record, response) {
    if (this._inFlight.get(record.key) !== record) return false;
    const now = this._now();
    this._complete.run(JSON.stringify(response), now, now + this._ttlMs, record.key);
    this._inFlight.delete(record.key);
    record.state = 'done';
    record.response = response;
    record.settle();
    return true;
  }

  /**
   * Settle `record` with an ambiguous `response` after its send reached
   * WhatsApp but could not be recorded (send-service.js). The record may
   * still be in flight, or complete() may have settled it inside the write
   * that then failed and rolled back. The answer is written if the disk
   * takes it now; if not, it is kept in this process for the TTL. Either
   * way the key leaves `_inFlight`, its waiters are woken, and a retry gets
   * the answer. Returns false when the answer is held in memory only.
   */
  settleAmbiguous(record, response) {
    const owned = this._inFlight.get(record.key) === record;
    const completedInFailedWrite = record.state === 'done' && !this._inFlight.has(record.key);
    if (!owned && !completedInFailedWrite) return true;
    this._inFlight.delete(record.key);
    const now = this._now();
    const expiresAt = now + this._ttlMs;
    let written = false;
    try {
      written = this._complete.run(JSON.stringify(response), now, expiresAt, record.key).changes > 0;
    } catch {
      written = false;
    }
    if (written) this._unwritten.delete(record.key);
    else this._unwritten.set(record.key, { bodyHash: record.bodyHash, response, expiresAt });
    record.state = 'done';
    record.response = response;
    record.settle();
    return written;
  }

  fail(record) {
    if (this._inFlight.get(record.key) !== record) return false;
    this._release.run(record.key);
    this._inFlight.delete(record.key);
    record.settle();
    return true;
  }

  get size() {
    return this._count.get();
  }

  sweep() {
    const now = this._now();
    for (const [key, held] of this._unwritten) if (held.expiresAt <= now) this._unwritten.delete(key);
    this._sweep.run(now);
  }

  clear() {
    for (const record of this._inFlight.values()) record.settle();
    this._inFlight.clear();
    this._unwritten.clear();
    this._clear.run();
  }

  close() {}
}

/**
 * Sent messages and every ack with its arrival time, in SQLite, with
 * MessageStore's interface (message-store.js): same current-state rule
 * (nextAck), same parking of acks that arrive before their message, same
 * 'ack' events, emitted after the change is committed. Messages are kept
 * for `retentionMs` after they were sent.
 */
class SqliteMessageStore extends EventEmitter {
  constructor({ db, now, retentionMs }) {
    super();
    this._db = db;
    this._now = now;
    this._retentionMs = retentionMs;
    this._selectMessage = db.prepare('SELECT id, recipient, ack, sent_at, updated_at FROM messages WHERE id = ?');
    this._selectAcks = db.prepare('SELECT ack, at FROM message_acks WHERE id = ? ORDER BY at');
    this._selectMany = db.prepare('SELECT id, recipient, ack, sent_at, updated_at FROM messages WHERE id IN (SELECT value FROM json_each(?))');
    this._selectManyAcks = db.prepare('SELECT id, ack, at FROM message_acks WHERE id IN (SELECT value FROM json_each(?)) ORDER BY at');
    this._upsertMessage = db.prepare('INSERT OR REPLACE INTO messages (id, recipient, ack, sent_at, updated_at) VALUES (?, ?, ?, ?, ?)');
    this._setAck = db.prepare('UPDATE messages SET ack = ?, updated_at = ? WHERE id = ?');
    this._insertAck = db.prepare('INSERT OR IGNORE INTO message_acks (id, ack, at) VALUES (?, ?, ?)');
    this._replaceAck = db.prepare('INSERT OR REPLACE INTO message_acks (id, ack, at) VALUES (?, ?, ?)');
    this._selectEarly = db.prepare('SELECT ack, at FROM early_acks WHERE id = ? ORDER BY seq');
    this._deleteEarly = db.prepare('DELETE FROM early_acks WHERE id = ?');
    this._insertEarly = db.prepare('INSERT INTO early_acks (id, ack, at) VALUES (?, ?, ?)');
    this._trimEarly = db.prepare('DELETE FROM early_acks WHERE seq <= ?');
    this._count = db.prepare('SELECT COUNT(*) AS n FROM messages').pluck();

    // Whether early_acks may hold a row: almost always false (acks normally
    // arrive after the send returned), which saves add() two statements.
    this._earlyAcksMayExist = db.prepare('SELECT EXISTS (SELECT 1 FROM early_acks) AS e').pluck();
    this._hasEarlyAcks = this._earlyAcksMayExist.get() === 1;

    this._addRows = (id, to, ack, at) => {
      const entry = { id, to, ack, sentAt: at, updatedAt: at, acks: { [ack]: at } };
      const changes = [];
      const parkedAcks = this._hasEarlyAcks ? this._selectEarly.all(id) : [];
      for (const parked of parkedAcks) {
        if (entry.acks[parked.ack] === undefined) entry.acks[parked.ack] = parked.at;
        const next = nextAck(entry.ack, parked.ack);
        if (next !== entry.ack) {
          changes.push({ previous: entry.ack, ack: next, at: parked.at });
          entry.ack = next;
          entry.updatedAt = parked.at;
        }
      }
      if (parkedAcks.length > 0) this._deleteEarly.run(id);
      this._upsertMessage.run(id, to, entry.ack, entry.sentAt, entry.updatedAt);
      // WhatsApp message ids are unique, so there are no older acks of this
      // id to clear; a repeated add only restates the ones it carries.
      for (const [name, time] of Object.entries(entry.acks)) this._replaceAck.run(id, name, time);
      return { entry, changes };
    };
    this._add = db.transaction(this._addRows);
    this._update = db.transaction((id, ack, at) => {
      const row = this._selectMessage.get(id);
      if (!row) {
        const { lastInsertRowid } = this._insertEarly.run(id, ack, at);
        this._hasEarlyAcks = true;
        this._trimEarly.run(Number(lastInsertRowid) - MAX_EARLY_ACKS);
        return { known: false, change: null, to: null };
      }
      this._insertAck.run(id, ack, at);
      const next = nextAck(row.ack, ack);
      if (next === row.ack) return { known: true, change: null, to: row.recipient };
      this._setAck.run(next, at, id);
      return { known: true, change: { previous: row.ack, ack: next, at }, to: row.recipient };
    });
    this._sweep = db.transaction((messagesBefore, earlyBefore) => {
      db.prepare('DELETE FROM message_acks WHERE id IN (SELECT id FROM messages WHERE sent_at <= ?)').run(messagesBefore);
      db.prepare('DELETE FROM messages WHERE sent_at <= ?').run(messagesBefore);
      db.prepare('DELETE FROM early_acks WHERE at <= ?').run(earlyBefore);
    });
  }

  add({ id, to, ack }) {
    // Inside the store's atomically() already: no savepoint of its own.
    const write = this._db.inTransaction ? this._addRows : this._add;
    const { entry, changes } = write(id, to, ack, this._now());
    for (const change of changes) this._emitChange(id, to, change);
    return present(entry.id, entry.to, entry.ack, entry.sentAt, entry.updatedAt, Object.entries(entry.acks).map(([name, at]) => ({ ack: name, at })));
  }

  updateAck(id, ack) {
    const { known, change, to } = this._update(id, ack, this._now());
    if (change) this._emitChange(id, to, change);
    return known;
  }

  get(id) {
    const row = this._selectMessage.get(id);
    if (!row) return null;
    return present(row.id, row.recipient, row.ack, row.sent_at, row.updated_at, this._selectAcks.all(id));
  }

  /** One query for the messages and one for their acks, whatever the count. */
  getMany(ids) {
    const json = JSON.stringify(ids);
    const rows = new Map(this._selectMany.all(json).map((row) => [row.id, row]));
    const acks = new Map();
    for (const { id, ack, at } of this._selectManyAcks.all(json)) {
      if (!acks.has(id)) acks.set(id, []);
      acks.get(id).push({ ack, at });
    }
    return ids.map((id) => {
      const row = rows.get(id);
      return row ? present(row.id, row.recipient, row.ack, row.sent_at, row.updated_at, acks.get(id) || []) : null;
    });
  }

  get size() {
    return this._count.get();
  }

  sweep() {
    const now = this._now();
    this._sweep(now - this._retentionMs, now - EARLY_ACK_RETENTION_MS);
    this._hasEarlyAcks = this._earlyAcksMayExist.get() === 1;
  }

  clear() {
    this._db.exec('DELETE FROM messages; DELETE FROM message_acks; DELETE FROM early_acks;');
    this._hasEarlyAcks = false;
  }

  close() {}

  _emitChange(id, to, { previous, ack, at }) {
    this.emit('ack', { id, to, ack, previous, at: new Date(at).toISOString() });
  }
}

function present(id, to, ack, sentAt, updatedAt, ackRows) {
  const acks = {};
  for (const row of ackRows) acks[row.ack] = new Date(row.at).toISOString();
  return { id, to, ack, updatedAt: new Date(updatedAt).toISOString(), sentAt: new Date(sentAt).toISOString(), acks };
}

/** getNumberId answers in SQLite, with MemoryNumberCache's interface (store.js). */
class SqliteNumberCache {
  constructor({ db, ttlMs, missTtlMs, now }) {
    this._ttlMs = ttlMs;
    this._missTtlMs = missTtlMs;
    this._now = now;
    this._select = db.prepare('SELECT chat_id FROM number_ids WHERE digits = ? AND expires_at > ?');
    this._upsert = db.prepare('INSERT OR REPLACE INTO number_ids (digits, chat_id, expires_at) VALUES (?, ?, ?)');
    this._delete = db.prepare('DELETE FROM number_ids WHERE digits = ?');
    this._sweep = db.prepare('DELETE FROM number_ids WHERE expires_at <= ?');
    this._clear = db.prepare('DELETE FROM number_ids');
  }

  get(digits) {
    const row = this._select.get(digits, this._now());
    return row ? { chatId: row.chat_id } : undefined;
  }

  put(digits, chatId) {
    const ttl = chatId === null ? this._missTtlMs : this._ttlMs;
    if (ttl <= 0) {
      this._delete.run(digits);
      return;
    }
    this._upsert.run(digits, chatId, this._now() + ttl);
  }

  delete(digits) {
    this._delete.run(digits);
  }

  sweep() {
    this._sweep.run(this._now());
  }

  clear() {
    this._clear.run();
  }
}

/** The fake driver's deliveries in SQLite, so they outlive a killed bridge. */
class SqliteSentLog {
  constructor({ db }) {
    this._insert = db.prepare('INSERT INTO fake_sent (entry) VALUES (?)');
    this._trim = db.prepare('DELETE FROM fake_sent WHERE seq <= ?');
    this._list = db.prepare('SELECT entry FROM fake_sent ORDER BY seq DESC LIMIT ?').pluck();
    this._clear = db.prepare('DELETE FROM fake_sent');
  }

  append(entry) {
    const { lastInsertRowid } = this._insert.run(JSON.stringify(entry));
    // Trimmed every 100 appends: the record is bounded all the same, and
    // most sends cost one statement instead of two.
    const seq = Number(lastInsertRowid);
    if (seq % 100 === 0) this._trim.run(seq - MAX_SENT_LOG);
  }

  list() {
    return this._list.all(MAX_SENT_LOG).map((text) => JSON.parse(text)).reverse();
  }

  clear() {
    this._clear.run();
  }
}

/**
 * Create the tables, or check that an existing file holds ours. Runs in one
 * transaction, so a bridge killed while creating them leaves either nothing
 * or all of it.
 */
function migrate(db, file) {
  const version = db.pragma('user_version', { simple: true });
  if (version > SCHEMA_VERSION) {
    throw new StoreOpenError(`${file} was written by a newer bridge (store schema ${version}; this bridge knows ${SCHEMA_VERSION}); upgrade the bridge or point BRIDGE_DATA_DIR elsewhere`);
  }
  db.transaction(() => {
    db.exec(SCHEMA);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

/**
 * The store holds phone numbers and message ids: a data directory the bridge
 * creates is 0700 and a database file it creates is 0600, made before
 * better-sqlite3 opens it because SQLite would create it with the umask's
 * mode (0644 usually). SQLite gives the -wal and -shm files the database
 * file's mode. An existing directory or file keeps its mode: the operator
 * chose it (a group-readable backup set-up, say).
 */
function createPrivately(file) {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    fs.closeSync(fs.openSync(file, 'wx', 0o600));
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
  }
}

/**
 * Open (creating if needed) the durable store at `file`. Durability:
 * journal_mode=WAL, so a commit is one append to the write-ahead log, and a
 * process killed at any point (kill -9 included) leaves every committed
 * transaction to the next one. Each write is committed before the bridge
 * acts on it: an Idempotency-Key is in_flight on disk before its send
 * reaches WhatsApp.
 *
 * What a power cut or kernel crash may lose is set by BRIDGE_STORE_SYNC.
 * With `normal` (the default) every write uses synchronous=NORMAL: in WAL
 * mode a commit is in the operating system's hands when the call returns,
 * so the process dying loses nothing, but a power cut may roll back the
 * last commits, an in-flight claim included (a retry could then send a
 * second message). Only that claim must survive a power cut for the bridge
 * to stay safe, so `full` writes claims through a second connection with
 * synchronous=FULL: each is fsynced before its send starts, and the fsync
 * also carries every earlier write. The rest (answers, messages, acks,
 * lookups, the fake's record) stays NORMAL: a power cut may lose the last
 * few of them, and a lost answer leaves its key in flight, which the next
 * start turns into SEND_OUTCOME_UNKNOWN, never a second send. `full` costs
 * one fsync per send (0.3 to 1 ms on an ordinary disk): nothing next to a
 * paced gap of seconds, but with pacing off it takes the bridge from about
 * 0.83 of the in-memory store's sends/s to about 0.67
 * (bench/bench_bridge_store.py), hence not the default.
 *
 * Keys left in_flight by a process that died are turned into the
 * SEND_OUTCOME_UNKNOWN answer for the key TTL (`interrupted` counts them).
 * One process per file: two bridges sharing a data directory would also
 * share a WhatsApp session, which whatsapp-web.js does not support either.
 */
function openSqliteStore({ file, config, now = Date.now }) {
  let Database;
  try {
    Database = require('better-sqlite3');
  } catch (err) {
    throw new StoreOpenError(`the durable store needs the better-sqlite3 module, which did not load (${err.message}); run npm ci in node-bridge, or set BRIDGE_STORE=memory`);
  }
  let db = null;
  let claimDb = null;
  try {
    createPrivately(file);
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Checkpoint (copy the log into the file, with its fsyncs) every ~40 MB
    // of log instead of every ~4 MB: a tenth of the pauses, and hot pages
    // rewritten by many sends are copied once.
    db.pragma('wal_autocheckpoint = 10000');
    migrate(db, file);
    // A second connection only to fsync the claims (see above); with
    // `normal` one connection does everything.
    if (config.storeSync === 'full') {
      claimDb = new Database(file);
      claimDb.pragma('synchronous = FULL');
    } else {
      claimDb = db;
    }
  } catch (err) {
    if (claimDb && claimDb !== db) claimDb.close();
    if (db) db.close();
    if (err instanceof StoreOpenError) throw err;
    throw new StoreOpenError(`cannot open the bridge store ${file} (BRIDGE_DATA_DIR): ${err.message}`);
  }

  const at = now();
  const interrupted = db
    .prepare("UPDATE idempotency SET state = 'done', response = ?, updated_at = ?, expires_at = ? WHERE state = 'in_flight'")
    .run(JSON.stringify(interruptedResponse()), at, at + config.idempotencyTtlMs).changes;

  const idempotency = new SqliteIdempotencyStore({ db, claimDb, ttlMs: config.idempotencyTtlMs, now });
  const messages = new SqliteMessageStore({ db, now, retentionMs: config.messageRetentionMs });
  const numbers = new SqliteNumberCache({ db, ttlMs: config.numberCacheTtlMs, missTtlMs: config.numberMissTtlMs, now });
  const sweepAll = () => {
    idempotency.sweep();
    messages.sweep();
    numbers.sweep();
  };
  sweepAll();
  // Expired rows cost only disk; an hourly sweep keeps the file bounded
  // without competing with sends.
  const sweepTimer = setInterval(sweepAll, 60 * 60 * 1000);
  sweepTimer.unref();

  return {
    kind: 'sqlite',
    path: file,
    interrupted,
    idempotency,
    messages,
    numbers,
    sentLog: new SqliteSentLog({ db }),
    atomically: (fn) => db.transaction(fn)(),
    sweep: sweepAll,
    close() {
      clearInterval(sweepTimer);
      if (claimDb.open) claimDb.close();
      if (db.open) db.close();
    },
  };
}

module.exports = { openSqliteStore, SqliteIdempotencyStore, SCHEMA_VERSION, interruptedResponse };

'use strict';

/**
 * The bridge's contract in one place: error codes and session states are
 * spelled once (src/error-codes.js, src/session-state.js), every raise site
 * and state change uses those constants, /openapi.json enumerates them, the
 * README's catalogue lists exactly them, and services reach the routes only
 * through the services plugin's declared decorators.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const Fastify = require('fastify');
const { ErrorCode, ERROR_CODES, ERROR_STATUSES, isErrorCode } = require('../src/error-codes');
const { SessionState, SESSION_STATES } = require('../src/session-state');
const { BridgeError, toBridgeError } = require('../src/errors');
const healthRoutes = require('../src/routes/health');
const { fakeApp, auth } = require('./helpers');

const SRC = path.join(__dirname, '..', 'src');

/** Every .js file under src/, as [relative path, text]. */
function sources() {
  const out = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.js')) out.push([path.relative(SRC, full), fs.readFileSync(full, 'utf8')]);
    }
  };
  walk(SRC);
  assert.ok(out.length > 10, 'found the sources');
  return out;
}

/** Quoted literals ('X', "X" or `X`) in `text` whose content is one of `names`. */
function quotedLiterals(text, names) {
  const found = [];
  for (const match of text.matchAll(/(['"`])([A-Z][A-Z0-9_]*)\1/g)) {
    if (names.includes(match[2])) found.push(match[0]);
  }
  return found;
}

test('the catalogue: each constant is its own name, frozen, with error statuses', () => {
  assert.ok(Object.isFrozen(ErrorCode) && Object.isFrozen(ERROR_CODES) && Object.isFrozen(ERROR_STATUSES));
  assert.deepEqual(Object.keys(ErrorCode), ERROR_CODES);
  for (const code of ERROR_CODES) {
    assert.equal(ErrorCode[code], code);
    assert.match(code, /^[A-Z][A-Z0-9_]*$/);
    assert.ok(ERROR_STATUSES[code].length > 0, code);
    for (const status of ERROR_STATUSES[code]) assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`);
  }
  assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length);
});

test('BridgeError refuses a code outside the catalogue, a misspelt constant included', () => {
  assert.throws(() => new BridgeError(400, 'NOT_A_CODE', 'x'), /NOT_A_CODE is not in the catalogue/);
  assert.throws(() => new BridgeError(502, ErrorCode.SEND_FAILD, 'x'), /undefined is not in the catalogue/);
  assert.equal(isErrorCode('toString'), false, 'no inherited property counts as a code');
  for (const code of ERROR_CODES) assert.equal(new BridgeError(ERROR_STATUSES[code][0], code, 'x').toBody().error.code, code);
});

test('every status toBridgeError maps a framework 4xx to uses a catalogue code', () => {
  for (let status = 400; status < 500; status += 1) {
    const mapped = toBridgeError(Object.assign(new Error('framework'), { statusCode: status }));
    assert.ok(isErrorCode(mapped.code), `${status} -> ${mapped.code}`);
    assert.equal(mapped.statusCode, status);
  }
  assert.equal(toBridgeError(new Error('a bug')).code, ErrorCode.INTERNAL);
});

test('no source spells an error code as a string: every raise site uses ErrorCode.<NAME>', () => {
  const offenders = [];
  for (const [file, text] of sources()) {
    if (file === 'error-codes.js') continue;
    for (const literal of quotedLiterals(text, ERROR_CODES)) offenders.push(`${file}: ${literal}`);
  }
  assert.deepEqual(offenders, [], 'use ErrorCode.<NAME> from src/error-codes.js');
});

test('every ErrorCode.<NAME> used exists, and every catalogue code is raised somewhere', () => {
  const used = new Set();
  const unknown = [];
  for (const [file, text] of sources()) {
    for (const match of text.matchAll(/\bErrorCode\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
      if (file === 'error-codes.js') continue;
      used.add(match[1]);
      if (!isErrorCode(match[1])) unknown.push(`${file}: ErrorCode.${match[1]}`);
    }
  }
  assert.deepEqual(unknown, []);
  assert.deepEqual(ERROR_CODES.filter((code) => !used.has(code)), [], 'catalogue codes nothing raises');
});

test('session states are named constants: no source spells one as a string', () => {
  assert.ok(Object.isFrozen(SessionState) && Object.isFrozen(SESSION_STATES));
  assert.deepEqual(Object.values(SessionState), SESSION_STATES);
  for (const state of SESSION_STATES) assert.equal(SessionState[state], state);
  const offenders = [];
  const unknown = [];
  for (const [file, text] of sources()) {
    if (file === 'session-state.js') continue;
    for (const literal of quotedLiterals(text, SESSION_STATES)) offenders.push(`${file}: ${literal}`);
    for (const match of text.matchAll(/\bSessionState\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
      if (!SESSION_STATES.includes(match[1])) unknown.push(`${file}: SessionState.${match[1]}`);
    }
  }
  assert.deepEqual(offenders, [], 'use SessionState.<NAME> from src/session-state.js');
  assert.deepEqual(unknown, []);
});

/** Every schema node in the document, with where it is. */
function* schemaNodes(node, where = '$') {
  if (!node || typeof node !== 'object') return;
  yield [node, where];
  for (const [key, value] of Object.entries(node)) yield* schemaNodes(value, `${where}.${key}`);
}

test('/openapi.json enumerates the catalogue on every error response and the states wherever a state appears', async () => {
  const { app } = await fakeApp();
  try {
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    let errorResponses = 0;
    let stateFields = 0;
    for (const [operationPath, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const [status, response] of Object.entries(operation.responses || {})) {
          const schema = response.content && response.content['application/json'] && response.content['application/json'].schema;
          const error = schema && schema.properties && schema.properties.error;
          if (Number(status) >= 400) {
            assert.ok(error, `${method} ${operationPath} ${status} has the error body`);
            assert.deepEqual(error.properties.code.enum, ERROR_CODES, `${method} ${operationPath} ${status}`);
            assert.deepEqual(error.properties.state.enum, SESSION_STATES);
            errorResponses += 1;
          }
        }
      }
    }
    for (const [node, where] of schemaNodes(doc.paths)) {
      if (node.properties && node.properties.state && !where.endsWith('.error')) {
        assert.deepEqual(node.properties.state.enum, SESSION_STATES, where);
        stateFields += 1;
      }
    }
    assert.ok(errorResponses > 20, `checked ${errorResponses} error responses`);
    assert.ok(stateFields >= 5, `checked ${stateFields} state fields`);
  } finally {
    await app.close();
  }
});

test('/health/ready says in words why each state other than READY is not ready', async () => {
  const { app } = await fakeApp();
  try {
    for (const state of SESSION_STATES) {
      await app.inject({ method: 'POST', url: '/__fake/state', payload: { state } });
      const res = await app.inject({ url: '/health/ready' });
      if (state === SessionState.READY) {
        assert.equal(res.statusCode, 200);
        continue;
      }
      assert.equal(res.statusCode, 503, state);
      const { error } = res.json();
      assert.equal(error.code, ErrorCode.NOT_READY);
      assert.equal(error.state, state);
      assert.match(error.message, new RegExp(`^WhatsApp session is not ready \\(state ${state}\\): \\S`));
      assert.ok(!error.message.includes('the session is not usable'), `${state} has no reason of its own: ${error.message}`);
    }
  } finally {
    await app.close();
  }
});

/** Small seeded PRNG (mulberry32), so the generated requests are the same on every run. */
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

test('over generated requests, every error answered carries a catalogue code', async () => {
  const { app } = await fakeApp({ BRIDGE_MEDIA_MAX_BYTES: '64' });
  const next = random(1707);
  const pick = (items) => items[Math.floor(next() * items.length)];
  const paths = ['/health', '/health/ready', '/v1/session', '/v1/session/qr', '/v1/session/logout', '/v1/messages', `/v1/messages/${'x'.repeat(600)}`, '/v1/messages/abc', '/nope', '/__fake/state', '/__fake/ack', '/__fake/script'];
  const bodies = [undefined, '', 'null', '{', '[]', '{}', '{"to":"15551234567"}', '{"to":"bad","text":"x"}', '{"to":"15551234567","text":"x","extra":1}',
    '{"to":"15551234567","media":{"data":"QUJD","mimetype":"text/plain","filename":"a.txt"}}', `{"to":"15551234567","media":{"data":"${'QUJD'.repeat(40)}","mimetype":"text/plain","filename":"a.txt"}}`,
    '{"state":"NOPE"}', '{"outcomes":[{"type":"delay"}]}', '{"id":"missing","ack":"READ"}'];
  try {
    const seen = new Set();
    for (let i = 0; i < 300; i += 1) {
      const headers = {};
      if (next() < 0.7) Object.assign(headers, auth());
      else if (next() < 0.5) headers['x-api-key'] = 'wrong';
      const contentType = pick(['application/json', 'text/plain', 'application/xml', null]);
      if (contentType) headers['content-type'] = contentType;
      if (next() < 0.2) headers['idempotency-key'] = pick(['k-1', 'k 2', '']);
      if (next() < 0.1) headers.accept = 'application/xml';
      const res = await app.inject({ method: pick(['GET', 'POST', 'PUT', 'DELETE']), url: pick(paths), headers, payload: pick(bodies) });
      if (res.statusCode < 400) continue;
      const code = res.json().error.code;
      assert.ok(isErrorCode(code), `${res.statusCode} ${code}`);
      assert.ok(ERROR_STATUSES[code].includes(res.statusCode), `${code} answered with ${res.statusCode}, catalogue says ${ERROR_STATUSES[code]}`);
      seen.add(code);
    }
    assert.ok(seen.size >= 6, `the generator reached several codes: ${[...seen]}`);
  } finally {
    await app.close();
  }
});

/** Rows of the README's "Error code catalogue" table: code -> status cell. */
function readmeCatalogue() {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const start = readme.indexOf('### Error code catalogue');
  assert.ok(start >= 0, 'README has an "Error code catalogue" section');
  const section = readme.slice(start).split(/\n#{2,3} /)[0];
  const rows = new Map();
  for (const line of section.split('\n')) {
    const match = /^\| `([A-Z_]+)` \| ([^|]+) \|/.exec(line);
    if (!match) continue;
    assert.ok(!rows.has(match[1]), `${match[1]} is listed twice`);
    rows.set(match[1], match[2].trim());
  }
  return rows;
}

test("the README's catalogue lists exactly the catalogue's codes, with their statuses", () => {
  const rows = readmeCatalogue();
  assert.deepEqual([...rows.keys()].sort(), [...ERROR_CODES].sort());
  for (const code of ERROR_CODES) assert.equal(rows.get(code), ERROR_STATUSES[code].join(', '), code);
});

test('route plugins declare their services: without the services plugin the app refuses to start', async () => {
  const bare = Fastify({ logger: false });
  bare.register(healthRoutes);
  await assert.rejects(bare.ready(), (err) => {
    assert.equal(err.code, 'FST_ERR_PLUGIN_NOT_PRESENT_IN_INSTANCE');
    assert.match(err.message, /gateway.*health-routes/);
    return true;
  });
  await bare.close();

  const withDecorators = Fastify({ logger: false });
  withDecorators.decorate('gateway', {});
  withDecorators.decorate('clock', { now: Date.now, startedAt: 0 });
  withDecorators.register(healthRoutes);
  await assert.rejects(withDecorators.ready(), (err) => {
    assert.equal(err.code, 'FST_ERR_PLUGIN_DEPENDENCY_NOT_REGISTERED');
    assert.match(err.message, /bridge-services/);
    return true;
  });
  await withDecorators.close();
});

test('the services are the app\'s decorators, shared by every route: what one route does, another sees', async () => {
  const { app } = await fakeApp();
  try {
    for (const name of ['gateway', 'sendService', 'sendQueue', 'messageStore', 'idempotencyStore', 'incomingBudget', 'clock']) {
      assert.ok(app.hasDecorator(name), name);
    }
    const sent = await app.inject({ method: 'POST', url: '/v1/messages', headers: auth(), payload: { to: '15551234567', text: 'hi' } });
    assert.equal(sent.statusCode, 201);
    const { id } = sent.json();
    assert.ok(app.messageStore.get(id), 'the message route recorded into the shared store');
    const acked = await app.inject({ method: 'POST', url: '/__fake/ack', payload: { id, ack: 'READ' } });
    assert.equal(acked.statusCode, 200);
    assert.equal((await app.inject({ url: `/v1/messages/${encodeURIComponent(id)}`, headers: auth() })).json().ack, 'READ');
  } finally {
    await app.close();
  }
});

test("the README names exactly the session states, in the catalogue's order", () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const sentence = /appears \(`\/health`, `\/v1\/session`, the `state` of 503 `NOT_READY`\):\n([^.]+)\./.exec(readme);
  assert.ok(sentence, 'README lists the states after the catalogue');
  assert.deepEqual([...sentence[1].matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]), SESSION_STATES);
});

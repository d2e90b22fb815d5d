'use strict';

/**
 * W3C traceparent: a valid header puts the caller's trace id on every log
 * line of that request; an invalid one is ignored, never refused.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { parseTraceparent } = require('../src/trace-context');
const { fakeApp, auth, send } = require('./helpers');

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const VALID = `00-${TRACE_ID}-${PARENT_ID}-01`;

test('parseTraceparent reads a version-00 header', () => {
  assert.deepEqual(parseTraceparent(VALID), { traceId: TRACE_ID, parentId: PARENT_ID, flags: '01' });
  assert.deepEqual(parseTraceparent(`00-${TRACE_ID}-${PARENT_ID}-00`).flags, '00', 'not sampled is still a valid context');
  assert.deepEqual(parseTraceparent(`00-${TRACE_ID}-${PARENT_ID}-ff`).flags, 'ff', 'unknown flag bits are kept, not refused');
});

test('parseTraceparent accepts a later version, as far as version 00 goes', () => {
  assert.equal(parseTraceparent(`01-${TRACE_ID}-${PARENT_ID}-01`).traceId, TRACE_ID);
  assert.equal(parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-holds`).traceId, TRACE_ID);
});

test('parseTraceparent refuses every rule the specification names', () => {
  const cases = {
    absent: undefined,
    'not a string': ['a', 'b'],
    empty: '',
    'version ff': `ff-${TRACE_ID}-${PARENT_ID}-01`,
    'version not hex': `0g-${TRACE_ID}-${PARENT_ID}-01`,
    'version upper case': `0A-${TRACE_ID}-${PARENT_ID}-01`,
    'version 00 with more fields': `00-${TRACE_ID}-${PARENT_ID}-01-extra`,
    'version 00 with trailing text': `00-${TRACE_ID}-${PARENT_ID}-01x`,
    'later version continued without a dash': `01-${TRACE_ID}-${PARENT_ID}-01x`,
    'trace id all zeros': `00-${'0'.repeat(32)}-${PARENT_ID}-01`,
    'trace id upper case': `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`,
    'trace id short': `00-${TRACE_ID.slice(1)}-${PARENT_ID}-01`,
    'trace id not hex': `00-${TRACE_ID.slice(1)}z-${PARENT_ID}-01`,
    'parent id all zeros': `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
    'parent id upper case': `00-${TRACE_ID}-${PARENT_ID.toUpperCase()}-01`,
    'parent id long': `00-${TRACE_ID}-${PARENT_ID}0-01`,
    'flags not hex': `00-${TRACE_ID}-${PARENT_ID}-0x`,
    'flags one digit': `00-${TRACE_ID}-${PARENT_ID}-1`,
    'wrong separator': `00_${TRACE_ID}_${PARENT_ID}_01`,
    'two headers joined by node': `${VALID}, 00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
    'surrounding space': ` ${VALID}`,
  };
  for (const [why, value] of Object.entries(cases)) assert.equal(parseTraceparent(value), null, why);
});

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

test('over generated headers: valid ones round-trip, a changed character is read or refused, never thrown', () => {
  const next = random(3014);
  const hex = (n) => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(next() * 16)]).join('');
  const alphabet = '0123456789abcdefABCDEF-_ xz\u00e9';
  for (let i = 0; i < 1000; i += 1) {
    const traceId = hex(32);
    const parentId = hex(16);
    const flags = hex(2);
    const header = `00-${traceId}-${parentId}-${flags}`;
    const parsed = parseTraceparent(header);
    if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) assert.equal(parsed, null);
    else assert.deepEqual(parsed, { traceId, parentId, flags });

    const at = Math.floor(next() * header.length);
    const changed = header.slice(0, at) + alphabet[Math.floor(next() * alphabet.length)] + header.slice(at + 1);
    const result = parseTraceparent(changed);
    if (result !== null) {
      // Whatever was accepted is exactly what the header says.
      assert.equal(`${changed.slice(0, 2)}-${result.traceId}-${result.parentId}-${result.flags}`, changed);
      assert.match(changed, /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
      assert.notEqual(changed.slice(0, 2), 'ff');
    }
  }
});

async function withApp(fn) {
  const ctx = await fakeApp({ BRIDGE_LOG_LEVEL: 'debug' });
  try {
    await fn(ctx);
  } finally {
    await ctx.app.close();
  }
}

/** Log lines per request id. */
function linesByRequest(logs) {
  const byId = new Map();
  for (const line of logs.lines()) {
    if (line.reqId === undefined) continue;
    if (!byId.has(line.reqId)) byId.set(line.reqId, []);
    byId.get(line.reqId).push(line);
  }
  return byId;
}

test('a valid traceparent puts trace_id and parent_span_id on every log line of that request, and only that one', () => withApp(async ({ app, logs }) => {
  const traced = { traceparent: VALID };
  assert.equal((await send(app, { to: '15551234567', text: 'traced' }, { headers: traced })).statusCode, 201);
  assert.equal((await send(app, { to: 'nope', text: 'traced' }, { headers: traced })).statusCode, 400);
  assert.equal((await app.inject({ url: '/nowhere', headers: traced })).statusCode, 404);
  assert.equal((await app.inject({ url: `/v1/messages/${'a'.repeat(600)}`, headers: auth(traced) })).statusCode, 414);
  assert.equal((await send(app, { to: '15551234567', text: 'plain' })).statusCode, 201);

  const byId = [...linesByRequest(logs).values()];
  assert.equal(byId.length, 5);
  for (const lines of byId.slice(0, 4)) {
    assert.ok(lines.some((l) => l.event === 'request'), JSON.stringify(lines));
    for (const line of lines) {
      assert.equal(line.trace_id, TRACE_ID, JSON.stringify(line));
      assert.equal(line.parent_span_id, PARENT_ID);
    }
  }
  assert.ok(byId[1].length >= 2, 'the 400 has its rejection line as well as the request line');
  for (const line of byId[4]) assert.ok(!('trace_id' in line) && !('parent_span_id' in line), 'no context leaks to the next request');
}));

test('an invalid traceparent is ignored: same answer as without it, and no trace id logged', () => withApp(async ({ app, logs }) => {
  const invalid = [
    `00-${'0'.repeat(32)}-${PARENT_ID}-01`,
    `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`,
    'garbage',
    `ff-${TRACE_ID}-${PARENT_ID}-01`,
    `${VALID},${VALID}`,
    'x'.repeat(4000),
  ];
  for (const traceparent of invalid) {
    const res = await send(app, { to: '15551234567', text: 'x' }, { headers: { traceparent } });
    assert.equal(res.statusCode, 201, `${traceparent.slice(0, 80)}: ${res.body}`);
    assert.equal((await app.inject({ url: '/health', headers: { traceparent } })).statusCode, 200);
    assert.equal((await app.inject({ url: '/v1/session', headers: { traceparent } })).statusCode, 401);
  }
  const lines = logs.lines().filter((l) => l.reqId !== undefined);
  assert.equal(lines.filter((l) => l.event === 'request').length, invalid.length * 3);
  for (const line of lines) assert.ok(!('trace_id' in line), JSON.stringify(line));
}));

'use strict';

/**
 * Slow and unfinished request bodies: a request that is not received in
 * time gets 408 and its connection closed, and the bytes held by bodies
 * still in transfer are bounded (BRIDGE_INCOMING_MAX_BYTES).
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { fakeApp, send, API_KEY } = require('./helpers');
const { IncomingBudget } = require('../src/incoming-budget');
const { bodyLimitFor } = require('../src/config');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A raw connection that has sent `head` (request line and headers). `answer`
 * resolves with everything received once the server closed the connection
 * or a complete response (headers and Content-Length body) arrived.
 */
function openRequest(port, head) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let received = '';
  const answer = new Promise((resolve) => {
    const done = () => resolve({ text: received, closed: socket.destroyed || socket.readableEnded });
    socket.on('data', (chunk) => {
      received += chunk.toString('utf8');
      const end = received.indexOf('\r\n\r\n');
      const length = /content-length: *(\d+)/i.exec(received);
      if (end !== -1 && length && received.length >= end + 4 + Number(length[1])) done();
    });
    socket.on('close', done);
  });
  socket.write(head);
  return { socket, answer };
}

function postHead({ length = null, chunked = false, key = API_KEY, path = '/v1/messages' } = {}) {
  const lines = [`POST ${path} HTTP/1.1`, 'Host: bridge', 'Content-Type: application/json'];
  if (key !== null) lines.push(`X-Api-Key: ${key}`);
  if (length !== null) lines.push(`Content-Length: ${length}`);
  if (chunked) lines.push('Transfer-Encoding: chunked');
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function statusOf(text) {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return match ? Number(match[1]) : null;
}

function bodyOf(text) {
  return JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
}

async function listening(env) {
  const ctx = await fakeApp(env);
  await ctx.app.listen({ port: 0, host: '127.0.0.1' });
  return { ...ctx, port: ctx.app.server.address().port };
}

/** Poll `condition` (no timing assertion: the test's own timeout is the bound). */
async function until(condition) {
  while (!condition()) await sleep(10);
}

test('a body trickled slower than BRIDGE_REQUEST_TIMEOUT_MS gets 408 REQUEST_TIMEOUT and the connection closed', async () => {
  const { app, port } = await listening({ BRIDGE_REQUEST_TIMEOUT_MS: '400' });
  const { socket, answer } = openRequest(port, postHead({ length: 1000 }));
  let trickling = true;
  try {
    (async () => {
      while (trickling && !socket.destroyed) {
        socket.write('{');
        await sleep(50);
      }
    })();
    const { text, closed } = await answer;
    assert.equal(statusOf(text), 408, text);
    assert.equal(bodyOf(text).error.code, 'REQUEST_TIMEOUT');
    await until(() => socket.destroyed || socket.readableEnded);
    assert.ok(closed || socket.destroyed || socket.readableEnded);
    assert.equal(app.incomingBudget.inUse, 0, 'the timed-out body gave its bytes back');
  } finally {
    trickling = false;
    socket.destroy();
    await app.close();
  }
});

test('the request timeout covers receiving only: a send answered later than it still gets its 201', async () => {
  const { app, port } = await listening({ BRIDGE_REQUEST_TIMEOUT_MS: '300' });
  await app.inject({ method: 'POST', url: '/__fake/script', payload: { outcomes: [{ type: 'delay', ms: 900 }] } });
  const payload = JSON.stringify({ to: '15551234567', text: 'slow answer' });
  const { socket, answer } = openRequest(port, `${postHead({ length: Buffer.byteLength(payload) })}${payload}`);
  try {
    const { text } = await answer;
    assert.equal(statusOf(text), 201, text);
  } finally {
    socket.destroy();
    await app.close();
  }
});

test('headers that never finish are cut off as well', async () => {
  const { app, port } = await listening({ BRIDGE_REQUEST_TIMEOUT_MS: '400' });
  const { socket, answer } = openRequest(port, 'POST /v1/messages HTTP/1.1\r\nHost: bridge\r\n');
  try {
    const { text } = await answer;
    assert.equal(statusOf(text), 408, text);
  } finally {
    socket.destroy();
    await app.close();
  }
});

test('partial uploads cannot hold more than BRIDGE_INCOMING_MAX_BYTES: the rest get 503 INCOMING_BUSY at once', async () => {
  const { app, config, port } = await listening({ BRIDGE_MEDIA_MAX_BYTES: '3000' });
  const max = config.incomingMaxBytes;
  const size = Math.floor(max / 3) + 1; // two fit, the third does not
  const open = [];
  try {
    const statuses = [];
    for (let i = 0; i < 10; i += 1) {
      const request = openRequest(port, `${postHead({ length: size })}{"to":`);
      open.push(request);
      const settledEarly = await Promise.race([request.answer, sleep(150).then(() => null)]);
      statuses.push(settledEarly === null ? 'receiving' : statusOf(settledEarly.text));
      assert.ok(app.incomingBudget.inUse <= max, `held ${app.incomingBudget.inUse} > ${max}`);
      if (settledEarly !== null) {
        const { error } = bodyOf(settledEarly.text);
        assert.equal(error.code, 'INCOMING_BUSY');
        assert.equal(error.retryAfter, 1);
        assert.match(settledEarly.text, /retry-after: 1/i);
      }
    }
    assert.deepEqual(statuses, ['receiving', 'receiving', 503, 503, 503, 503, 503, 503, 503, 503]);
    assert.equal(app.incomingBudget.inUse, 2 * size);

    // Uploads that go away give their share back, and sends work again.
    for (const request of open) request.socket.destroy();
    await until(() => app.incomingBudget.inUse === 0);
    assert.equal((await send(app, { to: '15551234567', text: 'after the storm' })).statusCode, 201);
  } finally {
    for (const request of open) request.socket.destroy();
    await app.close();
  }
});

test('a chunked upload is charged as it arrives and refused with 503 once it does not fit', async () => {
  const max = bodyLimitFor(3000);
  const { app, port } = await listening({ BRIDGE_MEDIA_MAX_BYTES: '3000', BRIDGE_INCOMING_MAX_BYTES: String(max) });
  const holder = openRequest(port, `${postHead({ length: max - 1000 })}{"to":`);
  const chunked = openRequest(port, postHead({ chunked: true }));
  try {
    await until(() => app.incomingBudget.inUse === max - 1000);
    chunked.socket.write(`200\r\n${'x'.repeat(0x200)}\r\n`);
    await until(() => app.incomingBudget.inUse === max - 1000 + 0x200);
    chunked.socket.write(`800\r\n${'x'.repeat(0x800)}\r\n`);
    const { text } = await chunked.answer;
    assert.equal(statusOf(text), 503, text);
    assert.equal(bodyOf(text).error.code, 'INCOMING_BUSY');
    await until(() => app.incomingBudget.inUse === max - 1000);
  } finally {
    holder.socket.destroy();
    chunked.socket.destroy();
    await app.close();
  }
});

test('a request refused by authentication reserves nothing', async () => {
  const { app, port } = await listening({ BRIDGE_MEDIA_MAX_BYTES: '3000' });
  const request = openRequest(port, `${postHead({ length: 100000, key: 'wrong' })}{"to":`);
  try {
    const { text } = await request.answer;
    assert.equal(statusOf(text), 401, text);
    assert.equal(app.incomingBudget.inUse, 0);
  } finally {
    request.socket.destroy();
    await app.close();
  }
});

test('IncomingBudget reserves only what fits and never goes below zero', () => {
  const budget = new IncomingBudget({ maxBytes: 100 });
  assert.equal(budget.tryReserve(60), true);
  assert.equal(budget.tryReserve(41), false);
  assert.equal(budget.inUse, 60);
  assert.equal(budget.tryReserve(40), true);
  budget.release(100);
  budget.release(5);
  assert.equal(budget.inUse, 0);
});

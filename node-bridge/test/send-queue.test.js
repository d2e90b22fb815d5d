'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { SendQueue } = require('../src/send-queue');
const { flush } = require('./helpers');

/** A queue on a fake clock whose sleep() advances it; `sleeps` records every wait. */
function clockedQueue(options) {
  const clock = { now: 0, sleeps: [] };
  const queue = new SendQueue({
    now: () => clock.now,
    sleep: async (ms) => {
      clock.sleeps.push(ms);
      clock.now += ms;
    },
    random: () => 0.5,
    ...options,
  });
  return { queue, clock };
}

/** A job that runs until release() is called, advancing the clock by `ms` first. */
function heldJob(clock, ms = 0) {
  let release;
  const job = () => new Promise((resolve) => {
    release = (value) => {
      clock.now += ms;
      resolve(value);
    };
  });
  return { job, release: (value) => release(value) };
}

test('queue bytes: the declared media bytes of waiting and running jobs are capped', async () => {
  const { queue, clock } = clockedQueue({ maxSize: 10, maxBytes: 100 });
  const running = heldJob(clock);
  const first = queue.enqueue(running.job, { bytes: 60 });
  assert.equal(queue.bytes, 60);
  assert.equal(queue.isFull(40), false, 'exactly at the cap fits');
  assert.equal(queue.isFull(41), true);
  assert.equal(queue.isFull(0), false, 'text-only sends do not count against the byte cap');
  assert.throws(() => queue.enqueue(async () => 'too big', { bytes: 41 }), (e) => e.code === 'QUEUE_FULL');
  const second = queue.enqueue(async () => 'fits', { bytes: 40 });
  assert.equal(queue.bytes, 100);
  assert.equal(queue.isFull(1), true);
  await flush();
  running.release('first');
  assert.deepEqual(await Promise.all([first, second]), ['first', 'fits']);
  assert.equal(queue.bytes, 0, 'bytes are released when jobs finish');
  assert.equal(queue.size, 0);
});

test('an abandoned waiting job is removed at once: slot and bytes freed, never run, no gap owed', async () => {
  const { queue, clock } = clockedQueue({ maxSize: 2, maxBytes: 100, minIntervalMs: 1000 });
  const running = heldJob(clock);
  const first = queue.enqueue(running.job, { bytes: 10 });
  const controller = new AbortController();
  let ran = false;
  const waiting = queue.enqueue(async () => { ran = true; }, { bytes: 80, signal: controller.signal });
  assert.equal(queue.isFull(), true);
  await flush();

  controller.abort();
  await assert.rejects(waiting, (e) => e.code === 'ABANDONED' && e.paced === false);
  assert.equal(queue.size, 1, 'the slot is free before the running job ends');
  assert.equal(queue.bytes, 10);
  assert.equal(queue.isFull(), false);

  running.release('first');
  assert.equal(await first, 'first');
  await queue.enqueue(async () => 'next');
  assert.equal(ran, false, 'the abandoned job never ran');
  assert.deepEqual(clock.sleeps, [1000], 'one gap, after the job that ran; none for the abandoned one');

  const gone = new AbortController();
  gone.abort();
  await assert.rejects(queue.enqueue(async () => { ran = true; }, { signal: gone.signal }), (e) => e.code === 'ABANDONED');
  assert.equal(ran, false);
  assert.equal(queue.size, 0);
});

test('a running job is not interrupted by its signal', async () => {
  const { queue, clock } = clockedQueue({ maxSize: 2 });
  const running = heldJob(clock);
  const controller = new AbortController();
  const result = queue.enqueue(running.job, { bytes: 5, signal: controller.signal });
  await flush();
  controller.abort();
  assert.equal(queue.size, 1);
  running.release('done anyway');
  assert.equal(await result, 'done anyway');
  assert.equal(queue.bytes, 0);
});

test('a job abandoned during the pacing sleep is skipped and the drain loop survives', async () => {
  let wake;
  let now = 0;
  const queue = new SendQueue({
    minIntervalMs: 1000,
    maxSize: 5,
    now: () => now,
    sleep: (ms) => new Promise((resolve) => { wake = () => { now += ms; resolve(); }; }),
  });
  await queue.enqueue(async () => 'first');
  const controller = new AbortController();
  const abandoned = queue.enqueue(async () => 'never', { signal: controller.signal });
  await flush();
  controller.abort();
  await assert.rejects(abandoned, (e) => e.code === 'ABANDONED');
  wake();
  await flush();
  assert.equal(queue.size, 0);
  assert.equal(await queue.enqueue(async () => 'later'), 'later', 'the queue still works afterwards');
});

test('Retry-After: ceil(size x (interval + jitter/2 + EWMA of send durations) / 1000), at least 1', async () => {
  const { queue, clock } = clockedQueue({ minIntervalMs: 1000, jitterMs: 500, maxSize: 3, initialSendEstimateMs: 1500 });
  assert.equal(queue.retryAfterSeconds(), 1, 'an empty queue still says at least 1');
  assert.equal(queue.averageSendMs, 1500);

  const a = heldJob(clock, 3500);
  const b = heldJob(clock, 3500);
  const pa = queue.enqueue(a.job);
  const pb = queue.enqueue(b.job);
  // 2 x (1000 + 250 + 1500) = 5500 ms
  assert.equal(queue.retryAfterSeconds(), 6);
  await flush();
  a.release();
  await pa;
  // EWMA (weight 0.2): 1500 + 0.2 x (3500 - 1500) = 1900
  assert.equal(queue.averageSendMs, 1900);
  // 1 x (1000 + 250 + 1900) = 3150 ms
  assert.equal(queue.retryAfterSeconds(), 4);
  await flush();
  b.release();
  await pb;
  assert.equal(queue.averageSendMs, 2220);

  // Jobs that made no WhatsApp call (paced === false) are not measured.
  const unpaced = Object.assign(new Error('not ready'), { paced: false });
  await assert.rejects(queue.enqueue(async () => { clock.now += 99999; throw unpaced; }));
  assert.equal(queue.averageSendMs, 2220);
  // A paced failure was a real attempt and is measured.
  await assert.rejects(queue.enqueue(async () => { clock.now += 220; throw new Error('send failed'); }));
  assert.equal(queue.averageSendMs, 1820);
});

test('Retry-After in fake mode starts from a zero send estimate', async () => {
  const { queue, clock } = clockedQueue({ maxSize: 5, initialSendEstimateMs: 0 });
  const held = [heldJob(clock, 10000), heldJob(clock), heldJob(clock)];
  const done = held.map((h) => queue.enqueue(h.job));
  assert.equal(queue.retryAfterSeconds(), 1, 'no pacing and no measured sends yet: the minimum');
  await flush();
  held[0].release();
  await done[0];
  // EWMA 0 + 0.2 x 10000 = 2000; 2 jobs left -> 4 s
  assert.equal(queue.retryAfterSeconds(), 4);
  await flush();
  held[1].release();
  await flush();
  held[2].release();
  await Promise.all(done);
});

'use strict';

const crypto = require('node:crypto');
const { setTimeout: sleepMs } = require('node:timers/promises');
const fp = require('fastify-plugin');
const { SERVICES_PLUGIN, FASTIFY_RANGE } = require('./plugin-meta');
const pkg = require('../package.json');

/**
 * Outbound receipt webhook (BRIDGE_RECEIPT_WEBHOOK_URL): one signed POST per
 * change of a sent message's delivery state, so a receiver learns of ticks
 * without polling.
 *
 * Why it is shaped this way:
 *  - Sends never wait for it: `notify()` only appends to an in-memory queue
 *    and returns; one worker delivers the queue in order, one event at a time
 *    (in order, so a receiver sees SERVER before DEVICE for one message).
 *  - The queue is bounded (`queueMax`): when it is full the OLDEST queued
 *    event is dropped (counted and logged). A newer event for a message
 *    supersedes an older one, and the batch endpoint (POST
 *    /v1/receipts/query) always has every message's latest state, so what a
 *    slow or dead receiver loses can be asked for later.
 *  - Each event is tried at most `maxAttempts` times: network errors,
 *    timeouts, 408, 429 and 5xx are retried after an exponential back-off
 *    with jitter (honouring Retry-After on 429, capped at `backoffMaxMs`);
 *    any other answer (4xx, or a redirect, which is not followed) gives the
 *    event up at once, since repeating it would get the same answer.
 *  - Signed like broadcastio's webhook provider: `Broadcastio-Signature:
 *    t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`, fresh on
 *    every attempt, so a receiver can refuse replays; `Idempotency-Key` is the
 *    event's id, the same on every attempt, so a receiver can drop repeats.
 *  - Events live in memory only: those queued when the bridge stops are lost
 *    (the count is logged), again recoverable from the batch endpoint.
 */
class ReceiptWebhook {
  constructor({
    url,
    secret,
    maxAttempts = 6,
    queueMax = 1000,
    timeoutMs = 10000,
    backoffMs = 1000,
    backoffMaxMs = 60000,
    fetchImpl = globalThis.fetch,
    now = Date.now,
    sleep = (ms, signal) => sleepMs(ms, undefined, { signal }),
    random = Math.random,
    logger = null,
  }) {
    this._url = url;
    this._secret = secret;
    this._maxAttempts = maxAttempts;
    this._queueMax = queueMax;
    this._timeoutMs = timeoutMs;
    this._backoffMs = backoffMs;
    this._backoffMaxMs = backoffMaxMs;
    this._fetch = fetchImpl;
    this._now = now;
    this._sleep = sleep;
    this._random = random;
    this._log = logger;
    this._queue = [];
    this._running = null;
    this._closing = new AbortController();
    this._counts = { queued: 0, delivered: 0, failed: 0, dropped: 0 };
  }

  /** Queue an ack change {id, to, ack, previous, at}; never blocks, never throws. */
  notify(change) {
    if (this._closing.signal.aborted) return;
    if (this._queue.length >= this._queueMax) {
      this._queue.shift();
      this._counts.dropped += 1;
      if (this._log) this._log.warn({ event: 'receipt_webhook_dropped', queueMax: this._queueMax }, 'receipt webhook queue full: oldest event dropped');
    }
    this._queue.push({
      event: 'message.ack',
      eventId: crypto.randomUUID(),
      id: change.id,
      to: change.to ?? null,
      ack: change.ack,
      previous: change.previous ?? null,
      at: change.at ?? new Date(this._now()).toISOString(),
    });
    this._counts.queued += 1;
    if (!this._running) {
      this._running = this._drain().finally(() => {
        this._running = null;
      });
    }
  }

  /** Counts since start: queued, delivered, failed (given up), dropped (queue full). */
  stats() {
    return { ...this._counts, pending: this._queue.length };
  }

  /** Resolves when the queue is empty (tests; nothing in production waits on it). */
  async idle() {
    while (this._running) await this._running;
  }

  /** Stop: the attempt under way is abandoned, queued events are dropped (and counted). */
  async close() {
    this._closing.abort();
    const left = this._queue.length;
    this._queue = [];
    if (this._running) await this._running.catch(() => {});
    if (left && this._log) this._log.warn({ event: 'receipt_webhook_closed', dropped: left }, `receipt webhook stopped with ${left} event(s) undelivered`);
  }

  async _drain() {
    while (this._queue.length && !this._closing.signal.aborted) {
      const event = this._queue.shift();
      try {
        await this._deliver(event);
      } catch (err) {
        if (this._closing.signal.aborted) return;
        if (this._log) this._log.error({ event: 'receipt_webhook_error', err }, 'receipt webhook delivery crashed');
      }
    }
  }

  async _deliver(event) {
    const body = JSON.stringify(event);
    for (let attempt = 1; attempt <= this._maxAttempts; attempt += 1) {
      const outcome = await this._attempt(body, event.eventId);
      if (outcome.ok) {
        this._counts.delivered += 1;
        return;
      }
      if (!outcome.retry || attempt === this._maxAttempts) {
        this._counts.failed += 1;
        if (this._log) this._log.warn({ event: 'receipt_webhook_failed', attempts: attempt, reason: outcome.reason, messageId: event.id }, 'receipt webhook gave an event up');
        return;
      }
      await this._sleep(this._delayMs(attempt, outcome.retryAfterMs), this._closing.signal);
    }
  }

  /** Back-off before attempt `attempt + 1`: doubling from backoffMs, half of it random. */
  _delayMs(attempt, retryAfterMs = null) {
    const base = Math.min(this._backoffMaxMs, this._backoffMs * 2 ** (attempt - 1));
    const jittered = base / 2 + this._random() * (base / 2);
    return Math.min(this._backoffMaxMs, Math.max(jittered, retryAfterMs ?? 0));
  }

  async _attempt(body, eventId) {
    const timestamp = Math.floor(this._now() / 1000);
    const signal = AbortSignal.any([this._closing.signal, AbortSignal.timeout(this._timeoutMs)]);
    let response;
    try {
      response = await this._fetch(this._url, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': `broadcastio-node-bridge/${pkg.version}`,
          'idempotency-key': eventId,
          'broadcastio-signature': signature(this._secret, timestamp, body),
        },
      });
    } catch (err) {
      return { ok: false, retry: true, reason: err && err.name === 'TimeoutError' ? 'timeout' : 'connection failed' };
    }
    // The body is not used; reading it frees the connection for reuse.
    await response.arrayBuffer().catch(() => {});
    const status = response.status;
    if (status >= 200 && status < 300) return { ok: true };
    if (status === 429) return { ok: false, retry: true, reason: 'HTTP 429', retryAfterMs: retryAfterMs(response.headers.get('retry-after')) };
    if (status === 408 || status >= 500) return { ok: false, retry: true, reason: `HTTP ${status}` };
    return { ok: false, retry: false, reason: `HTTP ${status}` };
  }
}

function retryAfterMs(header) {
  if (header === null || !/^[0-9]+$/.test(header.trim())) return null;
  return Number(header.trim()) * 1000;
}

/** The `Broadcastio-Signature` value for `body` (a string) signed at `timestamp` (Unix seconds). */
function signature(secret, timestamp, body) {
  const mac = crypto.createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${timestamp}.`, 'utf8').update(body, 'utf8').digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

/**
 * The webhook's settings from the environment, or null when
 * BRIDGE_RECEIPT_WEBHOOK_URL is unset. `intVar` and `ConfigError` are
 * config.js's, handed in so every variable is checked the same way. The URL
 * must be http(s) with a host (anything else, a typo such as `htps:` or a
 * `file:` URL, is refused at start-up); the secret is required with it and
 * at least 16 characters, since an unsigned receipt feed could be forged by
 * anyone who finds the receiver.
 */
function receiptWebhookConfig(env, { intVar, ConfigError }) {
  const raw = env.BRIDGE_RECEIPT_WEBHOOK_URL;
  if (raw === undefined || raw === '') return null;
  let url;
  try {
    url = new URL(String(raw).trim());
  } catch {
    throw new ConfigError('BRIDGE_RECEIPT_WEBHOOK_URL must be an http:// or https:// URL');
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw new ConfigError(`BRIDGE_RECEIPT_WEBHOOK_URL must be an http:// or https:// URL with a host, got a ${url.protocol} URL`);
  }
  const secret = env.BRIDGE_RECEIPT_WEBHOOK_SECRET;
  if (secret === undefined || String(secret).length < 16) {
    throw new ConfigError('BRIDGE_RECEIPT_WEBHOOK_SECRET is required with BRIDGE_RECEIPT_WEBHOOK_URL and must be at least 16 characters (e.g. openssl rand -hex 32)');
  }
  return Object.freeze({
    url: url.href,
    secret: String(secret),
    maxAttempts: intVar(env, 'BRIDGE_RECEIPT_WEBHOOK_MAX_ATTEMPTS', 6, { min: 1, max: 20 }),
    queueMax: intVar(env, 'BRIDGE_RECEIPT_WEBHOOK_QUEUE_MAX', 1000, { min: 1, max: 100000 }),
    timeoutMs: intVar(env, 'BRIDGE_RECEIPT_WEBHOOK_TIMEOUT_MS', 10000, { min: 100, max: 120000 }),
  });
}

/** The webhook settings as they may be logged: the secret as "set", the URL as its origin. */
function describeReceiptWebhook(config) {
  if (!config) return null;
  const { secret, url, ...rest } = config;
  return { ...rest, origin: new URL(url).origin, secretSet: Boolean(secret) };
}

/**
 * Wire the webhook to the message store when BRIDGE_RECEIPT_WEBHOOK_URL is
 * set (decorates the app with `receiptWebhook`, null otherwise). A store
 * that emits 'ack' changes (one event per change of a known message's
 * state) is listened to; an older store without events is served from the
 * gateway's raw acks, keeping the last state notified per message so a
 * repeated ack is not sent twice.
 */
async function receiptWebhookPlugin(app, { config, fetchImpl, sleep }) {
  if (!config) {
    app.decorate('receiptWebhook', null);
    return;
  }
  const webhook = new ReceiptWebhook({
    ...config,
    ...(fetchImpl ? { fetchImpl } : {}),
    ...(sleep ? { sleep } : {}),
    logger: app.log.child({ component: 'receipt-webhook' }),
  });
  const { messageStore: store, gateway } = app;
  let unsubscribe;
  if (typeof store.on === 'function') {
    const onChange = (change) => webhook.notify(change);
    store.on('ack', onChange);
    unsubscribe = () => store.off('ack', onChange);
  } else {
    const notified = new Map();
    const onAck = ({ id }) => {
      const entry = store.get(id);
      if (!entry || notified.get(id) === entry.ack) return;
      const previous = notified.get(id) ?? null;
      notified.delete(id);
      notified.set(id, entry.ack);
      if (notified.size > 10000) notified.delete(notified.keys().next().value);
      webhook.notify({ id, to: entry.to, ack: entry.ack, previous, at: entry.updatedAt });
    };
    // Registered after the store's own listener (services.js), so the entry is updated.
    gateway.on('ack', onAck);
    unsubscribe = () => gateway.off('ack', onAck);
  }
  app.decorate('receiptWebhook', webhook);
  app.addHook('onClose', async () => {
    unsubscribe();
    await webhook.close();
  });
}

module.exports = {
  ReceiptWebhook,
  signature,
  receiptWebhookConfig,
  describeReceiptWebhook,
  receiptWebhookPlugin: fp(receiptWebhookPlugin, {
    name: 'receipt-webhook',
    fastify: FASTIFY_RANGE,
    dependencies: [SERVICES_PLUGIN],
    decorators: { fastify: ['messageStore', 'gateway'] },
  }),
};

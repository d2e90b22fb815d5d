'use strict';

const fp = require('fastify-plugin');
const { createGateway } = require('./gateways');
const { IdempotencyStore } = require('./idempotency-store');
const { IncomingBudget } = require('./incoming-budget');
const { MessageStore } = require('./message-store');
const { SendQueue } = require('./send-queue');
const { SendService } = require('./send-service');
const { Pacer } = require('./pacer');
const { PacingFileStore } = require('./pacing-store');
const { BridgeMetrics } = require('./metrics');
const { SERVICES_PLUGIN, FASTIFY_RANGE } = require('./plugin-meta');

/**
 * The bridge's services, created once per app and reachable in one way: as
 * decorators of the fastify instance (fastify-plugin, so they are visible to
 * every route plugin registered after it, and to tests through the app):
 * `gateway`, `sendService`, `sendQueue`, `pacer`, `messageStore`, `idempotencyStore`,
 * `incomingBudget`, `metrics` and `clock` ({now, startedAt}). Route plugins
 * declare the ones they read (plugin-meta.js).
 * Production and tests register this same plugin; tests only inject their
 * own gateway (and clock).
 *
 * Options: `config` (loadConfig's result), `gateway` (created from config
 * when null), `now` (clock for stores and uptime), `metrics` (the app's
 * BridgeMetrics: buildApp makes it, because the request log, which is
 * installed outside this plugin, feeds it too; the queue, the send service
 * and the gateway's state changes are wired to it here; a fresh one when
 * not given). The gateway is not started here (the server entry starts it
 * after listening, tests start it themselves) but it is stopped, and the idempotency store's sweeper
 * cleared, when the app closes: whoever opens a service closes it.
 */
async function bridgeServices(app, { config, metrics = new BridgeMetrics(), gateway = null, now = Date.now }) {
  const gw = gateway || createGateway(config, { logger: app.log.child({ component: 'gateway' }) });
  const idempotencyStore = new IdempotencyStore({ ttlMs: config.idempotencyTtlMs, now });
  const messageStore = new MessageStore({ now });
  const sendQueue = new SendQueue({
    minIntervalMs: config.minIntervalMs,
    jitterMs: config.jitterMs,
    maxSize: config.queueMax,
    maxBytes: config.queueMaxBytes,
    // Seed for the Retry-After estimate until real sends were measured: the
    // fake answers at once, a real sendMessage typically takes a second or two.
    initialSendEstimateMs: config.driver === 'fake' ? 0 : 1500,
    now,
    onJobStart: (waitedMs) => metrics.queueWaited(waitedMs),
  });
  // The caps' counters live in BRIDGE_DATA_DIR (next to the WhatsApp
  // session they protect) and only with pacing on: a bench or a test with
  // pacing off leaves no file behind.
  const pacer = new Pacer({
    enabled: config.pacing,
    hourlyCap: config.hourlyCap,
    dailyCap: config.dailyCap,
    warmup: config.warmup,
    riskPauseMs: config.riskPauseMs,
    store: config.pacing ? new PacingFileStore({ dataDir: config.dataDir }) : null,
    now,
  });
  const sendService = new SendService({
    gateway: gw,
    queue: sendQueue,
    idempotency: idempotencyStore,
    messages: messageStore,
    sendTimeoutMs: config.sendTimeoutMs,
    mediaMaxBytes: config.mediaMaxBytes,
    logger: app.log.child({ component: 'send' }),
    metrics,
    pacer,
    now,
  });
  metrics.attachQueue(sendQueue);
  metrics.attachGateway(gw);
  const incomingBudget = new IncomingBudget({ maxBytes: config.incomingMaxBytes });

  const onAck = ({ id, ack }) => messageStore.updateAck(id, ack);
  const onState = (s) => {
    metrics.sessionStateChanged(s.state);
    const pause = pacer.sessionChanged(s);
    if (pause) app.log.warn({ event: 'pacing_paused', reason: pause.reason, pausedUntil: new Date(pause.until).toISOString() }, 'WhatsApp logged the session out; sends are paused');
    app.log.info({ event: 'state', state: s.state, since: s.since, lastError: s.lastError }, `session state ${s.state}`);
  };
  gw.on('ack', onAck);
  gw.on('state', onState);

  app.decorate('gateway', gw);
  app.decorate('sendService', sendService);
  app.decorate('sendQueue', sendQueue);
  app.decorate('pacer', pacer);
  app.decorate('messageStore', messageStore);
  app.decorate('idempotencyStore', idempotencyStore);
  app.decorate('incomingBudget', incomingBudget);
  app.decorate('metrics', metrics);
  app.decorate('clock', Object.freeze({ now, startedAt: now() }));

  app.addHook('onClose', async () => {
    gw.off('ack', onAck);
    gw.off('state', onState);
    idempotencyStore.close();
    await gw.stop();
  });
}

module.exports = { servicesPlugin: fp(bridgeServices, { name: SERVICES_PLUGIN, fastify: FASTIFY_RANGE }) };

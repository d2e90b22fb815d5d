'use strict';

const fp = require('fastify-plugin');
const { createGateway } = require('./gateways');
const { IncomingBudget } = require('./incoming-budget');
const { openStore } = require('./store');
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
 *
 * `store` (store.js: idempotency keys, messages and acks, the number cache,
 * the fake's deliveries) is opened from config (BRIDGE_STORE) when not
 * given; a given one is owned by the app from then on and closed with it
 * (the server entry opens it first, so a data directory it cannot use is a
 * one-line exit 2, not a failed listen). It is decorated as `bridgeStore`;
 * its parts as `idempotencyStore` and `messageStore`, as before. The gateway
 * answers number lookups from its cache and, for the fake, records
 * deliveries in its sent log.
 */
async function bridgeServices(app, { config, metrics = new BridgeMetrics(), gateway = null, now = Date.now, store = null }) {
  const bridgeStore = store || openStore({ config, now });
  const gw = gateway || createGateway(config, { logger: app.log.child({ component: 'gateway' }) });
  const idempotencyStore = bridgeStore.idempotency;
  const messageStore = bridgeStore.messages;
  gw.useNumberCache(bridgeStore.numbers);
  if (typeof gw.useSentLog === 'function') gw.useSentLog(bridgeStore.sentLog);
  if (bridgeStore.interrupted > 0) {
    app.log.warn({ event: 'sends_interrupted', count: bridgeStore.interrupted, store: bridgeStore.path }, `${bridgeStore.interrupted} send(s) were in progress when the bridge last stopped; their Idempotency-Keys now answer 409 SEND_OUTCOME_UNKNOWN`);
  }
  const sendQueue = new SendQueue({
    minIntervalMs: config.minIntervalMs,
    jitterMs: config.jitterMs,
    maxSize: config.queueMax,
    maxBytes: config.queueMaxBytes,
    maxWaitMs: config.queueMaxWaitMs,
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
    atomically: bridgeStore.atomically,
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
  app.decorate('bridgeStore', bridgeStore);
  app.decorate('messageStore', messageStore);
  app.decorate('idempotencyStore', idempotencyStore);
  app.decorate('incomingBudget', incomingBudget);
  app.decorate('metrics', metrics);
  app.decorate('clock', Object.freeze({ now, startedAt: now() }));

  app.addHook('onClose', async () => {
    gw.off('ack', onAck);
    gw.off('state', onState);
    try {
      await gw.stop();
    } finally {
      // After the gateway: a stopping client may still report acks.
      bridgeStore.close();
    }
  });
}

module.exports = { servicesPlugin: fp(bridgeServices, { name: SERVICES_PLUGIN, fastify: FASTIFY_RANGE }) };

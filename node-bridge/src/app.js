'use strict';

const Fastify = require('fastify');
const swagger = require('@fastify/swagger');
const { installErrorHandling, schemaErrorFormatter, frameworkErrors, clientErrorHandler } = require('./errors');
const { createApiKeyHook } = require('./auth');
const { IdempotencyStore } = require('./idempotency-store');
const { MessageStore } = require('./message-store');
const { SendQueue } = require('./send-queue');
const { SendService } = require('./send-service');
const { createGateway } = require('./gateways');
const healthRoutes = require('./routes/health');
const sessionRoutes = require('./routes/session');
const messageRoutes = require('./routes/messages');
const fakeRoutes = require('./routes/fake');
const { markOptionalBodies } = require('./routes/no-body');
const pkg = require('../package.json');

/**
 * Paths pino must censor. The request serializer does not log headers, but
 * anything that ever logs a request's headers or a config object must not
 * be able to leak the API key.
 */
const REDACT_PATHS = [
  'req.headers["x-api-key"]',
  'request.headers["x-api-key"]',
  'headers["x-api-key"]',
  'apiKey',
  'config.apiKey',
];

/**
 * Build the fastify app: logger, validation, error shape, swagger, auth and
 * routes, wired to one gateway and its stores. The gateway is created from
 * config unless injected; it is not started here (the server entry starts it
 * after listening, tests start it themselves) but it is stopped when the app
 * closes. `logStream` lets tests capture log output.
 */
function buildApp({ config, gateway = null, logStream = null, now = Date.now }) {
  const loggerOptions = { level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (logStream) loggerOptions.stream = logStream;

  const app = Fastify({
    logger: loggerOptions,
    bodyLimit: config.bodyLimit,
    schemaErrorFormatter,
    frameworkErrors,
    clientErrorHandler,
    // Group and message ids can be long; the id schema allows 512 characters.
    routerOptions: { maxParamLength: 512 },
    // fastify's built-in closing 503 has its own body shape; requests that
    // still arrive on kept-alive connections during shutdown are served
    // normally instead (the gateway is stopped only after the server closed).
    return503OnClosing: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
  });

  const gw = gateway || createGateway(config, { logger: app.log.child({ component: 'gateway' }) });
  const idempotency = new IdempotencyStore({ ttlMs: config.idempotencyTtlMs, now });
  const messages = new MessageStore({ now });
  const queue = new SendQueue({
    minIntervalMs: config.minIntervalMs,
    jitterMs: config.jitterMs,
    maxSize: config.queueMax,
    maxBytes: config.queueMaxBytes,
    // Seed for the Retry-After estimate until real sends were measured: the
    // fake answers at once, a real sendMessage typically takes a second or two.
    initialSendEstimateMs: config.driver === 'fake' ? 0 : 1500,
    now,
  });
  const sendService = new SendService({
    gateway: gw,
    queue,
    idempotency,
    messages,
    sendTimeoutMs: config.sendTimeoutMs,
    mediaMaxBytes: config.mediaMaxBytes,
    logger: app.log.child({ component: 'send' }),
  });
  const startedAt = now();

  const onAck = ({ id, ack }) => messages.updateAck(id, ack);
  const onState = (s) => app.log.info({ event: 'state', state: s.state, since: s.since, lastError: s.lastError }, `session state ${s.state}`);
  gw.on('ack', onAck);
  gw.on('state', onState);

  app.decorate('gateway', gw);
  app.decorate('bridge', { idempotency, messages, queue, sendService });

  installErrorHandling(app);

  app.register(swagger, {
    transformObject: markOptionalBodies,
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'WhatsApp node bridge',
        description: 'HTTP bridge between a Python WhatsApp provider and whatsapp-web.js.',
        version: pkg.version,
      },
      components: {
        securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } },
      },
    },
  });

  app.register(healthRoutes, { gateway: gw, startedAt, now });

  const requireApiKey = createApiKeyHook(config.apiKey);
  app.register(async (v1) => {
    v1.addHook('onRequest', requireApiKey);
    v1.register(sessionRoutes, { gateway: gw });
    v1.register(messageRoutes, { sendService, messages });
  }, { prefix: '/v1' });

  if (config.driver === 'fake') {
    app.register(fakeRoutes, { gateway: gw, idempotency, messages });
  }

  app.addHook('onClose', async () => {
    gw.off('ack', onAck);
    gw.off('state', onState);
    idempotency.close();
    await gw.stop();
  });

  return app;
}

module.exports = { buildApp, REDACT_PATHS };

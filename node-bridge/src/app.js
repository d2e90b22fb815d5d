'use strict';

const Fastify = require('fastify');
const swagger = require('@fastify/swagger');
const swaggerUi = require('@fastify/swagger-ui');
const { installErrorHandling, schemaErrorFormatter, frameworkErrors, clientErrorHandler } = require('./errors');
const { createApiKeyHook } = require('./auth');
const { servicesPlugin } = require('./services');
const { receiptWebhookPlugin } = require('./receipt-webhook');
const healthRoutes = require('./routes/health');
const sessionRoutes = require('./routes/session');
const messageRoutes = require('./routes/messages');
const receiptRoutes = require('./routes/receipts');
const fakeRoutes = require('./routes/fake');
const metricsRoutes = require('./routes/metrics');
const { markOptionalBodies } = require('./routes/no-body');
const { installRequestLog, serializeRequest, trackRequest } = require('./request-log');
const { incomingBudgetPlugin } = require('./incoming-budget');
const { BridgeMetrics } = require('./metrics');
const { traceLogBindings } = require('./trace-context');
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
 * How often node looks for requests past their headers/request timeout. Its
 * default (30 s) would let a 10 s timeout run to 40 s; a quarter of the
 * shorter timeout keeps the overrun small without a busy timer.
 */
function connectionsCheckingInterval(config) {
  return Math.max(25, Math.min(1000, Math.floor(Math.min(config.headersTimeoutMs, config.requestTimeoutMs) / 4)));
}

/**
 * fastify `childLoggerFactory`: every request's logger is a child with the
 * request id, and, when the request carries a valid W3C `traceparent`, the
 * caller's trace id (trace-context.js), so each of that request's log lines
 * (the request line, errors, sends) can be joined with the caller's trace.
 * An invalid header adds nothing and changes nothing else.
 */
function requestLogger(logger, bindings, opts, rawRequest) {
  return logger.child({ ...bindings, ...traceLogBindings(rawRequest.headers) }, opts);
}

/**
 * Build the fastify app: logger, validation, error shape, timeouts, request
 * log, incoming-body budget, swagger (document and UI), auth, metrics and
 * routes.
 * Services reach the routes one way only: the services plugin (services.js)
 * decorates the app with the gateway and its stores, and each route plugin
 * declares the decorators it uses. The gateway is created from config unless
 * injected; see services.js for when it starts and stops. `logStream` lets
 * tests capture log output. `processMetrics` adds the Node.js process
 * metrics to /metrics (the server entry turns it on; see metrics.js for why
 * it is off by default). `receiptWebhookOptions` lets tests replace the receipt webhook's
 * fetch and sleep (receipt-webhook.js). `store` is an opened bridge store (store.js) the
 * app then owns; opened from config when not given.
 */
function buildApp({ config, gateway = null, logStream = null, now = Date.now, processMetrics = false, store = null, receiptWebhookOptions = {} }) {
  const loggerOptions = {
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { req: serializeRequest },
  };
  if (logStream) loggerOptions.stream = logStream;
  const metrics = new BridgeMetrics({ processMetrics });
  const countRequest = (entry) => metrics.requestFinished(entry);

  const app = Fastify({
    logger: loggerOptions,
    childLoggerFactory: requestLogger,
    bodyLimit: config.bodyLimit,
    schemaErrorFormatter,
    frameworkErrors(err, request, reply) {
      // Router-level failures skip the onRequest hooks: log them here.
      trackRequest(request, reply, countRequest);
      frameworkErrors(err, request, reply);
    },
    clientErrorHandler,
    // One line per request from request-log.js instead of fastify's two.
    logController: new Fastify.LogController({ disableRequestLogging: true }),
    // Time to receive a whole request (headers and body); past it node
    // answers 408 and closes the connection. The idle-socket timeout
    // (connectionTimeout) stays off: a send waiting in the paced queue keeps
    // its connection silent for as long as the queue takes.
    requestTimeout: config.requestTimeoutMs,
    http: {
      headersTimeout: config.headersTimeoutMs,
      connectionsCheckingInterval: connectionsCheckingInterval(config),
    },
    // Group and message ids can be long; the id schema allows 512 characters.
    routerOptions: { maxParamLength: 512 },
    // fastify's built-in closing 503 has its own body shape; requests that
    // still arrive on kept-alive connections during shutdown are served
    // normally instead (the gateway is stopped only after the server closed).
    return503OnClosing: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
  });

  app.register(servicesPlugin, { config, gateway, now, metrics, store });
  // After the services: it listens to the message store's ack changes.
  app.register(receiptWebhookPlugin, { config: config.receiptWebhook, ...receiptWebhookOptions });

  installErrorHandling(app);
  installRequestLog(app, countRequest);
  app.register(incomingBudgetPlugin, { bodyLimit: config.bodyLimit });

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

  // Interactive page for the document above, served from the package's own
  // files (no CDN). It holds no secret: the key is typed into its Authorize
  // dialog by whoever uses it, and is not persisted in the browser.
  app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { persistAuthorization: false, tryItOutEnabled: false },
    logLevel: 'warn',
  });

  app.register(healthRoutes);

  const requireApiKey = createApiKeyHook(config.apiKey);
  app.register(async (v1) => {
    v1.addHook('onRequest', requireApiKey);
    v1.register(sessionRoutes);
    v1.register(messageRoutes);
    v1.register(receiptRoutes);
  }, { prefix: '/v1' });

  // Behind the same key as /v1 (queue depth and send outcomes are the
  // operator's business), unless BRIDGE_METRICS_PUBLIC=1 for a scraper that
  // cannot send headers or sits on a trusted network.
  app.register(metricsRoutes, { requireApiKey: config.metricsPublic ? null : requireApiKey });

  if (config.driver === 'fake') {
    app.register(fakeRoutes);
  }

  return app;
}

module.exports = { buildApp, REDACT_PATHS };

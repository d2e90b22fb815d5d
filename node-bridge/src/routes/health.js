'use strict';

const schemas = require('../schemas');
const { BridgeError } = require('../errors');
const { ErrorCode } = require('../error-codes');
const { SessionState } = require('../session-state');
const { routePlugin } = require('../plugin-meta');

/** What each not-ready state means for someone looking at a container. */
const NOT_READY_REASONS = Object.freeze({
  [SessionState.STARTING]: 'the WhatsApp client is starting',
  [SessionState.QR]: 'waiting for the login QR code to be scanned (GET /v1/session/qr)',
  [SessionState.AUTHENTICATED]: 'logged in; WhatsApp Web is still loading',
  [SessionState.DISCONNECTED]: 'the session is disconnected',
  [SessionState.FAILED]: 'the session failed and is being restarted',
});

/** 503 NOT_READY for /health/ready: the state, and in words why it is not READY. */
function notReadyForProbe(status) {
  const reason = NOT_READY_REASONS[status.state] || 'the session is not usable';
  const lastError = status.lastError ? `; last error: ${status.lastError}` : '';
  return new BridgeError(503, ErrorCode.NOT_READY, `WhatsApp session is not ready (state ${status.state}): ${reason}${lastError}`, { state: status.state });
}

/**
 * Unauthenticated routes: liveness (`/health`) and readiness
 * (`/health/ready`) probes for Docker and people, and the OpenAPI document
 * generated from the route schemas. Neither probe checks the API key, so
 * neither tells a client whether its key is right: the Python provider uses
 * the authenticated GET /v1/session for its health for that reason.
 */
async function healthRoutes(app) {
  const { gateway } = app;
  const { now, startedAt } = app.clock;
  const healthBody = () => {
    const status = gateway.status();
    return {
      status: 'ok',
      state: status.state,
      ready: status.state === SessionState.READY,
      since: status.since,
      lastError: status.lastError,
      uptimeSeconds: Math.max(0, Math.round((now() - startedAt) / 100) / 10),
    };
  };

  app.get('/health', {
    schema: {
      summary: 'Liveness',
      description: 'Always 200 while the process is alive, whatever the session state; `ready` is true only in state READY. No API key needed.',
      tags: ['health'],
      response: { 200: schemas.health },
    },
  }, async () => healthBody());

  app.get('/health/ready', {
    schema: {
      summary: 'Readiness',
      description: '200 only while the session is READY (sends can work); otherwise 503 NOT_READY with the state and, in the message, why. The Docker HEALTHCHECK uses this route. No API key needed.',
      tags: ['health'],
      response: { 200: schemas.health, ...schemas.errors(503) },
    },
  }, async () => {
    const body = healthBody();
    if (!body.ready) throw notReadyForProbe(gateway.status());
    return body;
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

module.exports = routePlugin(healthRoutes, { name: 'health-routes', decorators: ['gateway', 'clock'] });

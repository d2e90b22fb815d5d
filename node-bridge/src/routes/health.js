'use strict';

const schemas = require('../schemas');

/**
 * Unauthenticated routes: liveness/readiness for Docker and the Python side,
 * and the OpenAPI document generated from the route schemas.
 */
async function healthRoutes(app, { gateway, startedAt, now }) {
  app.get('/health', {
    schema: {
      summary: 'Liveness and session readiness',
      description: 'Always 200 while the process is alive; `ready` is true only in state READY. No API key needed.',
      tags: ['health'],
      response: { 200: schemas.health },
    },
  }, async () => {
    const status = gateway.status();
    return {
      status: 'ok',
      state: status.state,
      ready: status.state === 'READY',
      since: status.since,
      lastError: status.lastError,
      uptimeSeconds: Math.max(0, Math.round((now() - startedAt) / 100) / 10),
    };
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

module.exports = healthRoutes;

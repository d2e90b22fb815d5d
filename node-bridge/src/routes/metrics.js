'use strict';

const schemas = require('../schemas');
const { routePlugin } = require('../plugin-meta');

/**
 * GET /metrics: the app's Prometheus metrics (metrics.js) in the text
 * exposition format.
 *
 * Options: `requireApiKey`, the same onRequest hook that guards /v1, or null
 * when BRIDGE_METRICS_PUBLIC=1. The published document follows the choice
 * (security and the 401 answer appear only when the key is required), so
 * what /openapi.json promises is what this bridge does.
 */
async function metricsRoutes(app, { requireApiKey = null }) {
  const { metrics } = app;
  const guarded = requireApiKey !== null;

  app.get('/metrics', {
    schema: {
      summary: 'Prometheus metrics',
      description: guarded
        ? 'Requests by route and status, sends by outcome, queue depth and wait, session state, idempotent replays, in the Prometheus text format. Needs X-Api-Key unless BRIDGE_METRICS_PUBLIC=1.'
        : 'Requests by route and status, sends by outcome, queue depth and wait, session state, idempotent replays, in the Prometheus text format. Public on this bridge (BRIDGE_METRICS_PUBLIC=1).',
      tags: ['metrics'],
      ...(guarded ? { security: [{ apiKey: [] }] } : {}),
      response: {
        200: {
          description: 'Prometheus text exposition format, version 0.0.4',
          content: { 'text/plain': { schema: { type: 'string' } } },
        },
        ...(guarded ? schemas.errors(401) : {}),
      },
    },
    ...(guarded ? { onRequest: requireApiKey } : {}),
  }, async (request, reply) => {
    const text = await metrics.exposition();
    return reply.type(metrics.contentType).header('Cache-Control', 'no-store').send(text);
  });
}

module.exports = routePlugin(metricsRoutes, { name: 'metrics-routes', decorators: ['metrics'] });

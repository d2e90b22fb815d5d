'use strict';

const fp = require('fastify-plugin');

/**
 * How the bridge's fastify plugins declare what they need. Services reach
 * routes one way only: the services plugin (services.js) decorates the app,
 * and every plugin that uses a service names it in its meta, so a missing or
 * misspelt service stops `app.ready()` with fastify's own error naming the
 * plugin, instead of surfacing as `undefined` on the first request.
 */

/** Name of the services plugin, listed in the `dependencies` of its users. */
const SERVICES_PLUGIN = 'bridge-services';

/** Range of fastify the plugins are written for (checked at registration). */
const FASTIFY_RANGE = '5.x';

/**
 * A route plugin: encapsulated (its prefix, hooks and content-type parsers
 * stay its own, unlike a plain fastify-plugin), depending on the services
 * plugin and on the `decorators` it reads from the instance.
 */
function routePlugin(fn, { name, decorators }) {
  return fp(fn, {
    name,
    fastify: FASTIFY_RANGE,
    encapsulate: true,
    dependencies: [SERVICES_PLUGIN],
    decorators: { fastify: [...decorators] },
  });
}

module.exports = { SERVICES_PLUGIN, FASTIFY_RANGE, routePlugin };

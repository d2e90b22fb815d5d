'use strict';

const { Transform } = require('node:stream');
const fp = require('fastify-plugin');
const { incomingBusy } = require('./errors');
const { SERVICES_PLUGIN, FASTIFY_RANGE } = require('./plugin-meta');

/**
 * Bytes of request bodies that are being received right now, bounded. A
 * body is buffered whole before it is parsed, so every upload in transfer
 * holds memory up to its size; without a bound, many slow partial uploads
 * (each within the body limit) add up to any amount. Bodies that finished
 * arriving leave the budget: from then on the send queue's own limits
 * (BRIDGE_QUEUE_MAX, BRIDGE_QUEUE_MAX_BYTES) bound what is kept.
 */
class IncomingBudget {
  constructor({ maxBytes }) {
    this._maxBytes = maxBytes;
    this._inUse = 0;
  }

  /** Bytes currently reserved by bodies in transfer. */
  get inUse() {
    return this._inUse;
  }

  /** The bound, in bytes. */
  get maxBytes() {
    return this._maxBytes;
  }

  /** Reserve `bytes` if they fit; false (and nothing reserved) otherwise. */
  tryReserve(bytes) {
    if (this._inUse + bytes > this._maxBytes) return false;
    this._inUse += bytes;
    return true;
  }

  /** Give back bytes reserved earlier. */
  release(bytes) {
    this._inUse = Math.max(0, this._inUse - bytes);
  }
}

function hasBody(headers) {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * preParsing hook charging each request body against `budget`.
 *
 * A body with a Content-Length reserves that many bytes before a single one
 * is read, so a request that cannot fit is refused at once with 503 (a
 * declared length over the body limit is left to fastify's 413). A chunked
 * body is charged chunk by chunk as it arrives; when it no longer fits, its
 * share is returned at once, the rest of it is drained unread and the request
 * gets the same 503. Otherwise the reservation is returned when the request
 * stream closes, which node signals once the body was read completely or the
 * connection went away.
 */
function budgetHook(budget, bodyLimit) {
  return async function chargeIncomingBody(request, _reply, payload) {
    const headers = request.headers;
    if (!hasBody(headers)) return payload;

    let reserved = 0;
    request.raw.once('close', () => {
      budget.release(reserved);
      reserved = 0;
    });

    if (headers['transfer-encoding'] === undefined) {
      const declared = Number(headers['content-length']);
      if (!Number.isSafeInteger(declared) || declared > bodyLimit) return payload;
      if (!budget.tryReserve(declared)) throw incomingBusy();
      reserved = declared;
      return payload;
    }

    const metered = new Transform({
      transform(chunk, _encoding, callback) {
        if (!budget.tryReserve(chunk.length)) {
          // Nothing of this body is kept from here on: give its share back
          // now rather than when the client finally stops sending.
          budget.release(reserved);
          reserved = 0;
          payload.unpipe(metered);
          payload.resume();
          callback(incomingBusy());
          return;
        }
        reserved += chunk.length;
        callback(null, chunk);
      },
    });
    payload.on('error', (err) => metered.destroy(err));
    return payload.pipe(metered);
  };
}

/**
 * The budget hook as a plugin over the app's `incomingBudget` service
 * (services.js). fastify-plugin without encapsulation, so the hook applies to
 * every route; registered before the routes, so it is in place when they are.
 * Option: `bodyLimit`, the app's body limit (longer declared bodies are left
 * to fastify's own 413).
 */
async function chargeIncomingBodies(app, { bodyLimit }) {
  app.addHook('preParsing', budgetHook(app.incomingBudget, bodyLimit));
}

const incomingBudgetPlugin = fp(chargeIncomingBodies, {
  name: 'incoming-budget',
  fastify: FASTIFY_RANGE,
  dependencies: [SERVICES_PLUGIN],
  decorators: { fastify: ['incomingBudget'] },
});

module.exports = { IncomingBudget, budgetHook, incomingBudgetPlugin };

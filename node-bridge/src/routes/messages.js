'use strict';

const schemas = require('../schemas');
const { BridgeError } = require('../errors');
const { ErrorCode } = require('../error-codes');
const { routePlugin } = require('../plugin-meta');

/**
 * An AbortSignal that fires when the HTTP client goes away before its answer
 * was written, so a send still waiting in the queue is not made on behalf of
 * a caller that can no longer learn its outcome (and will likely retry).
 *
 * The response's 'close' is the reliable event: on Node 20 the request's own
 * 'close' fires as soon as its body has been read, long before any answer.
 * A response closing before it ended means the connection was lost.
 */
function clientGoneSignal(request, reply) {
  const controller = new AbortController();
  const res = reply.raw;
  if (res.destroyed || (request.raw.socket && request.raw.socket.destroyed)) {
    controller.abort();
  } else {
    res.once('close', () => {
      if (!res.writableEnded) controller.abort();
    });
  }
  return controller.signal;
}

/** Sending and delivery-status routes under /v1 (API key required). */
async function messageRoutes(app) {
  const { sendService, messageStore: messages } = app;
  const security = [{ apiKey: [] }];

  app.post('/messages', {
    schema: {
      summary: 'Send a text and/or media message',
      description: 'Sends are queued and paced (BRIDGE_MIN_INTERVAL_MS + jitter). 504 means the outcome is unknown; retry with the same Idempotency-Key to avoid a duplicate (a replay carries Idempotency-Replay: true and may itself be the stored 504). 409 SEND_OUTCOME_UNKNOWN: the send with this key was in progress when a previous bridge process stopped; it may have been delivered and is never sent again with this key (keys and their answers are kept across restarts in BRIDGE_DATA_DIR).',
      tags: ['messages'],
      security,
      headers: schemas.sendHeaders,
      body: schemas.sendBody,
      response: {
        201: schemas.sendResult,
        ...schemas.errors(400, 401, 409, 413, 422, 429, 502, 503, 504),
      },
    },
  }, async (request, reply) => {
    const key = request.headers['idempotency-key'];
    const result = await sendService.send(request.body, key === undefined ? null : key, { signal: clientGoneSignal(request, reply) });
    // A replay carries the stored status and body: a 201, or the 504 of a
    // send whose outcome is unknown (an error body, sent as is).
    if (result.replay) reply.header('Idempotency-Replay', 'true');
    return reply.code(result.statusCode).send(result.body);
  });

  app.get('/messages/:id', {
    schema: {
      summary: 'Delivery state of a message sent by this bridge',
      tags: ['messages'],
      security,
      params: {
        type: 'object',
        required: ['id'],
        additionalProperties: false,
        properties: { id: { type: 'string', minLength: 1, maxLength: 512 } },
      },
      // 414: an id over 512 characters is refused by the router itself.
      response: { 200: schemas.messageStatus, ...schemas.errors(400, 401, 404, 414) },
    },
  }, async (request) => {
    const entry = messages.get(request.params.id);
    if (!entry) throw new BridgeError(404, ErrorCode.MESSAGE_NOT_FOUND, 'No message with this id was sent by this bridge (or it was evicted)');
    return entry;
  });
}

module.exports = routePlugin(messageRoutes, { name: 'message-routes', decorators: ['sendService', 'messageStore'] });
module.exports.clientGoneSignal = clientGoneSignal;

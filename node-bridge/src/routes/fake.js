'use strict';

const schemas = require('../schemas');
const { BridgeError, validationError } = require('../errors');
const { ErrorCode } = require('../error-codes');
const { routePlugin } = require('../plugin-meta');
const { ACK_VALUES } = require('../gateways/base');
const { SESSION_STATES } = require('../session-state');
const { OUTCOME_TYPES } = require('../gateways/fake');
const { rejectJsonNull, acceptEmptyJson } = require('./no-body');

const resetResult = { type: 'object', properties: { ok: { type: 'boolean' }, state: schemas.sessionState } };

/**
 * Test-control routes for the fake driver. Registered only when
 * BRIDGE_DRIVER=fake (so they are 404 in real mode) and deliberately without
 * API-key auth: they exist for test harnesses on loopback.
 */
async function fakeRoutes(app) {
  const { gateway, idempotencyStore: idempotency, messageStore: messages, bridgeStore } = app;
  const tags = ['fake-control'];

  app.get('/__fake/sent', {
    schema: {
      summary: 'Messages the fake has delivered, oldest first',
      tags,
      response: {
        200: {
          type: 'object',
          required: ['messages'],
          properties: {
            messages: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  to: { type: 'string' },
                  text: { type: 'string', nullable: true },
                  media: {
                    type: 'object',
                    nullable: true,
                    properties: {
                      filename: { type: 'string' },
                      mimetype: { type: 'string' },
                      size: { type: 'integer' },
                      sha256: { type: 'string' },
                    },
                  },
                  idempotencyKey: { type: 'string', nullable: true },
                  at: { type: 'string', format: 'date-time' },
                },
              },
            },
          },
        },
      },
    },
  }, async () => ({ messages: gateway.sentMessages() }));

  app.get('/__fake/lookups', {
    schema: {
      summary: 'Numbers getNumberId was asked about (not answered from the number cache), oldest first',
      tags,
      response: {
        200: {
          type: 'object',
          required: ['lookups'],
          properties: { lookups: { type: 'array', items: { type: 'string' } } },
        },
      },
    },
  }, async () => ({ lookups: gateway.lookups() }));

  app.post('/__fake/state', {
    schema: {
      summary: 'Force the session state (QR generates and prints a fake QR)',
      tags,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['state'],
        properties: { state: { type: 'string', enum: SESSION_STATES }, error: { type: 'string', maxLength: 1000 } },
      },
      response: { 200: { type: 'object', properties: { state: schemas.sessionState } }, ...schemas.errors(400) },
    },
  }, async (request) => {
    gateway.setState(request.body.state, request.body.error ?? null);
    return { state: gateway.status().state };
  });

  app.post('/__fake/script', {
    schema: {
      summary: 'Append outcomes consumed one per send that reaches the gateway',
      tags,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['outcomes'],
        properties: {
          outcomes: {
            type: 'array',
            maxItems: 1000,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['type'],
              properties: {
                type: { type: 'string', enum: OUTCOME_TYPES },
                retryAfter: { type: 'integer', minimum: 1, maximum: 86400 },
                message: { type: 'string', maxLength: 1000 },
                ms: { type: 'integer', minimum: 0, maximum: 600000 },
              },
            },
          },
        },
      },
      response: { 200: { type: 'object', properties: { pending: { type: 'integer' } } }, ...schemas.errors(400) },
    },
  }, async (request) => {
    const outcomes = request.body.outcomes.map((outcome, i) => {
      if (outcome.type === 'delay' && outcome.ms === undefined) throw validationError(`outcomes.${i}.ms`, `outcomes.${i}.ms is required for a delay outcome`);
      if (outcome.type === 'rate_limited' && outcome.retryAfter === undefined) return { ...outcome, retryAfter: 1 };
      return outcome;
    });
    return { pending: gateway.addOutcomes(outcomes) };
  });

  app.post('/__fake/unregistered', {
    schema: {
      summary: 'Numbers the fake getNumberId() reports as not on WhatsApp',
      tags,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['numbers'],
        properties: {
          numbers: { type: 'array', maxItems: 10000, items: { type: 'string', pattern: '^\\+?[0-9]{6,20}(?:@c\\.us)?$' } },
        },
      },
      response: { 200: { type: 'object', properties: { count: { type: 'integer' } } }, ...schemas.errors(400) },
    },
  }, async (request) => ({ count: gateway.addUnregistered(request.body.numbers) }));

  app.post('/__fake/ack', {
    schema: {
      summary: 'Simulate a delivery receipt (message_ack) for a delivered message',
      tags,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'ack'],
        properties: { id: { type: 'string', minLength: 1 }, ack: { type: 'string', enum: ACK_VALUES } },
      },
      response: { 200: schemas.messageStatus, ...schemas.errors(400, 404) },
    },
  }, async (request) => {
    if (!gateway.emitAck(request.body.id, request.body.ack)) {
      throw new BridgeError(404, ErrorCode.MESSAGE_NOT_FOUND, 'The fake has not delivered a message with this id');
    }
    const entry = messages.get(request.body.id);
    if (!entry) throw new BridgeError(404, ErrorCode.MESSAGE_NOT_FOUND, 'The message is not in the message store (it was reset or evicted)');
    return entry;
  });

  // Own scope, so an empty JSON body counts as no body for reset only.
  app.register(async (scope) => {
    acceptEmptyJson(scope);
    scope.post('/__fake/reset', {
      schema: {
        summary: 'Clear sent messages, lookups, scripts, unregistered numbers, idempotency and message stores, the number cache; state READY',
        tags,
        body: schemas.emptyBody,
        response: { 200: resetResult, ...schemas.errors(400) },
      },
      preValidation: rejectJsonNull,
    }, async () => {
      gateway.reset();
      idempotency.clear();
      messages.clear();
      bridgeStore.numbers.clear();
      return { ok: true, state: gateway.status().state };
    });
  });
}

module.exports = routePlugin(fakeRoutes, { name: 'fake-routes', decorators: ['gateway', 'idempotencyStore', 'messageStore', 'bridgeStore'] });

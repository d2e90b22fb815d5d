'use strict';

const schemas = require('../schemas');
const { routePlugin } = require('../plugin-meta');
const { ACK_VALUES } = require('../gateways/base');

/**
 * Most message ids one POST /v1/receipts/query may ask about. A broadcast of
 * 10,000 recipients is then 20 requests instead of 10,000, while one request
 * stays a bounded amount of work (and of response bytes: about 250 bytes per
 * id, so ~125 KB at most). More ids are a 400 naming `ids`, never a truncated
 * answer a client could mistake for the whole.
 */
const RECEIPTS_MAX_IDS = 500;

const ackTimes = {
  type: 'object',
  additionalProperties: false,
  description: 'When the bridge recorded each ack this message reached (ISO-8601), for the stores that keep them; missing acks were not seen.',
  properties: Object.fromEntries(ACK_VALUES.map((ack) => [ack, { type: 'string', format: 'date-time' }])),
};

const receipt = {
  type: 'object',
  required: ['id', 'known', 'to', 'ack', 'updatedAt', 'acks'],
  properties: {
    id: { type: 'string', description: 'The message id, as asked.' },
    known: { type: 'boolean', description: 'False for an id this bridge never sent, or has forgotten (evicted, or past retention): every other field is then null or empty. Not an error.' },
    to: { type: 'string', nullable: true, description: 'Chat id the message went to.' },
    ack: { type: 'string', enum: ACK_VALUES, nullable: true, description: 'Latest delivery state: PENDING, SERVER (WhatsApp has it), DEVICE (on the recipient\'s phone), READ, PLAYED (voice/video opened), ERROR.' },
    updatedAt: { type: 'string', format: 'date-time', nullable: true, description: 'When the latest state was recorded.' },
    acks: ackTimes,
  },
};

const queryBody = {
  type: 'object',
  additionalProperties: false,
  required: ['ids'],
  properties: {
    ids: {
      type: 'array',
      minItems: 1,
      maxItems: RECEIPTS_MAX_IDS,
      items: { type: 'string', minLength: 1, maxLength: 512 },
      description: `Message ids returned by POST /v1/messages; 1 to ${RECEIPTS_MAX_IDS} per request (ask in batches). In the body, not the URL: a batch does not fit in a query string, and ids stay out of access logs.`,
    },
  },
};

/** The answer for one id: the store's entry, or "unknown". */
function receiptOf(id, entry) {
  if (!entry) return { id, known: false, to: null, ack: null, updatedAt: null, acks: {} };
  // `acks` (ack name -> ISO time) comes from stores that keep each ack's time;
  // a store that keeps only the latest state still answers with that one.
  const acks = entry.acks && typeof entry.acks === 'object' ? { ...entry.acks } : {};
  if (entry.ack && entry.updatedAt && acks[entry.ack] === undefined) acks[entry.ack] = entry.updatedAt;
  return { id, known: true, to: entry.to ?? null, ack: entry.ack, updatedAt: entry.updatedAt ?? null, acks };
}

/**
 * POST /v1/receipts/query (API key required): the delivery state of many
 * messages in one request, in the order asked (a repeated id is answered
 * each time). Ids the bridge does not know are answered `known: false`, not
 * with an error: a batch must not fail because one message was evicted.
 */
async function receiptRoutes(app) {
  const { messageStore: messages } = app;

  app.post('/receipts/query', {
    schema: {
      summary: 'Delivery receipts of many messages at once',
      description: `Answers each id's latest ack (PENDING, SERVER, DEVICE, READ, PLAYED, ERROR) and when it was recorded. At most ${RECEIPTS_MAX_IDS} ids per request (400 VALIDATION_FAILED naming ids beyond that). Unknown ids are answered with known: false.`,
      tags: ['messages'],
      security: [{ apiKey: [] }],
      body: queryBody,
      response: {
        200: {
          type: 'object',
          required: ['receipts'],
          properties: { receipts: { type: 'array', items: receipt } },
        },
        ...schemas.errors(400, 401, 413, 415),
      },
    },
  }, async (request) => {
    const { ids } = request.body;
    // The durable store answers a batch in one query (getMany); a store
    // without it is asked id by id.
    const entries = typeof messages.getMany === 'function' ? messages.getMany(ids) : ids.map((id) => messages.get(id));
    return { receipts: ids.map((id, i) => receiptOf(id, entries[i])) };
  });
}

module.exports = routePlugin(receiptRoutes, { name: 'receipt-routes', decorators: ['messageStore'] });
module.exports.RECEIPTS_MAX_IDS = RECEIPTS_MAX_IDS;
module.exports.receiptOf = receiptOf;

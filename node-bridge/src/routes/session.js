'use strict';

const schemas = require('../schemas');
const { BridgeError } = require('../errors');
const { ErrorCode } = require('../error-codes');
const { SessionState } = require('../session-state');
const { routePlugin } = require('../plugin-meta');
const { qrPng, qrDataUrl } = require('../qr');
const { rejectJsonNull, acceptEmptyJson } = require('./no-body');

/**
 * True when the client lists image/png (with a non-zero q) in Accept. A
 * bare wildcard does not count, so generic clients get JSON.
 */
function wantsPng(accept) {
  if (typeof accept !== 'string') return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.trim().split(';').map((s) => s.trim());
    if (type.toLowerCase() !== 'image/png') return false;
    const q = params.find((p) => /^q=/i.test(p));
    return !q || Number(q.slice(2)) > 0;
  });
}

/** Session inspection, QR login and logout under /v1 (API key required). */
async function sessionRoutes(app) {
  const { gateway, pacer } = app;
  const security = [{ apiKey: [] }];

  app.get('/session', {
    schema: {
      summary: 'Session state',
      tags: ['session'],
      security,
      response: { 200: schemas.session, ...schemas.errors(401) },
    },
  }, async () => {
    const status = gateway.status();
    const body = {
      state: status.state,
      ready: status.state === SessionState.READY,
      since: status.since,
      lastError: status.lastError,
      qrPending: status.qr !== null,
      pacing: pacer.status(),
    };
    if (status.info) body.info = status.info;
    return body;
  });

  app.get('/session/qr', {
    schema: {
      summary: 'Pending login QR code',
      description: 'With `Accept: image/png` the QR is returned as PNG bytes, otherwise as JSON. 404 NO_QR_PENDING when no QR is waiting to be scanned.',
      tags: ['session'],
      security,
      response: {
        200: {
          description: 'The pending QR code',
          content: {
            'application/json': { schema: schemas.qr },
            'image/png': { schema: { type: 'string', format: 'binary' } },
          },
        },
        ...schemas.errors(401, 404),
      },
    },
  }, async (request, reply) => {
    const { qr } = gateway.status();
    if (qr === null) throw new BridgeError(404, ErrorCode.NO_QR_PENDING, 'No QR code is pending (the session is not waiting for a scan)');
    if (wantsPng(request.headers.accept)) {
      const png = await qrPng(qr);
      return reply.type('image/png').header('Cache-Control', 'no-store').send(png);
    }
    reply.header('Cache-Control', 'no-store');
    return { qr, dataUrl: await qrDataUrl(qr) };
  });

  // Only bodyless routes live in this plugin, so an empty JSON body may
  // count as no body here without affecting /v1/messages.
  acceptEmptyJson(app);

  app.post('/session/logout', {
    schema: {
      summary: 'Log the WhatsApp session out',
      description: 'Unlinks this device and starts a fresh session that will show a new QR code. Takes no body (or an empty JSON object).',
      tags: ['session'],
      security,
      body: schemas.emptyBody,
      response: {
        200: { type: 'object', required: ['state'], properties: { state: schemas.sessionState } },
        ...schemas.errors(400, 401),
      },
    },
    preValidation: rejectJsonNull,
  }, async () => {
    const status = await gateway.logout();
    return { state: status.state };
  });
}

module.exports = routePlugin(sessionRoutes, { name: 'session-routes', decorators: ['gateway', 'pacer'] });
module.exports.wantsPng = wantsPng;

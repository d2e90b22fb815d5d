'use strict';

const { FakeGateway } = require('./fake');
const { WwebjsGateway } = require('./wwebjs');

/**
 * Pick the gateway for BRIDGE_DRIVER. The real client's sendMessage timeout
 * is kept well above BRIDGE_SEND_TIMEOUT_MS, so the HTTP layer's 504 fires
 * first and the underlying send still gets a chance to finish (and be
 * recorded for idempotent replay) instead of being cut short. If it does hit
 * that internal timeout, the outcome is just as ambiguous and is stored as a
 * replayable 504, never released for a second attempt.
 */
function createGateway(config, { logger } = {}) {
  if (config.driver === 'fake') {
    return new FakeGateway({ sendTimeoutMs: config.sendTimeoutMs });
  }
  return new WwebjsGateway({
    dataDir: config.dataDir,
    chromiumPath: config.chromiumPath,
    logger,
    callTimeouts: { sendMessage: Math.max(60000, config.sendTimeoutMs * 2) },
    authTimeoutMs: config.authTimeoutMs,
  });
}

module.exports = { createGateway };

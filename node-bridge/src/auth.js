'use strict';

const crypto = require('node:crypto');
const { BridgeError } = require('./errors');
const { ErrorCode } = require('./error-codes');

function digest(value) {
  return crypto.createHash('sha256').update(String(value), 'utf8').digest();
}

/**
 * Compare a presented key with the expected one in constant time. Both sides
 * are hashed first so timingSafeEqual always sees equal-length buffers and the
 * comparison leaks neither content nor the expected key's length.
 */
function keysMatch(presented, expectedDigest) {
  if (typeof presented !== 'string' || presented.length === 0) return false;
  return crypto.timingSafeEqual(digest(presented), expectedDigest);
}

/**
 * Build the onRequest hook that guards `/v1/*`. With no key configured (only
 * allowed for the fake driver) the hook lets everything through; the caller
 * is responsible for logging that auth is off. The key itself is captured in a
 * digest so the plain secret is not kept around in this closure.
 */
function createApiKeyHook(apiKey) {
  if (apiKey === null || apiKey === undefined) {
    return async function noAuth() {};
  }
  const expected = digest(apiKey);
  return async function requireApiKey(request) {
    const presented = request.headers['x-api-key'];
    if (presented === undefined) {
      throw new BridgeError(401, ErrorCode.UNAUTHORIZED, 'Missing X-Api-Key header');
    }
    if (!keysMatch(presented, expected)) {
      throw new BridgeError(401, ErrorCode.UNAUTHORIZED, 'Invalid API key');
    }
  };
}

module.exports = { createApiKeyHook, keysMatch };

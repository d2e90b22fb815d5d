'use strict';

const { BridgeError } = require('./errors');
const { ErrorCode } = require('./error-codes');

/**
 * Accepted `to` forms, kept in one place so the JSON schema (and therefore
 * the OpenAPI document) and the parser cannot drift apart.
 */
const TO_PATTERN = '^(?:\\+?[0-9]{6,20}|[0-9]{6,20}@c\\.us|[0-9]{1,30}(?:-[0-9]{1,30})?@g\\.us)$';

/**
 * Split a validated `to` into what the gateways need: a group id is used as
 * is; anything else is a phone number whose digits must be looked up first.
 */
function parseRecipient(to) {
  const value = String(to);
  if (value.endsWith('@g.us')) return { kind: 'group', chatId: value };
  const digits = value.replace(/^\+/, '').replace(/@c\.us$/, '');
  if (!/^[0-9]{6,20}$/.test(digits)) {
    throw new BridgeError(400, ErrorCode.VALIDATION_FAILED, 'to has an invalid format', { field: 'to' });
  }
  return { kind: 'user', digits };
}

/**
 * Resolve a recipient to a chat id. For numbers this asks WhatsApp through
 * `lookupNumberId(digits)` (whatsapp-web.js getNumberId semantics: null means
 * the number has no account), which both gateways share so the fake follows
 * the same NOT_ON_WHATSAPP path as the real client.
 */
async function resolveChatId(recipient, lookupNumberId) {
  if (recipient.kind === 'group') return recipient.chatId;
  const numberId = await lookupNumberId(recipient.digits);
  if (!numberId) {
    throw new BridgeError(422, ErrorCode.NOT_ON_WHATSAPP, `${recipient.digits} is not registered on WhatsApp`);
  }
  const serialized = typeof numberId === 'string' ? numberId : numberId._serialized;
  if (typeof serialized !== 'string' || serialized === '') {
    throw new BridgeError(502, ErrorCode.SEND_FAILED, 'WhatsApp returned an unusable id for the number');
  }
  return serialized;
}

module.exports = { TO_PATTERN, parseRecipient, resolveChatId };

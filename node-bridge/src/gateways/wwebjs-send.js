'use strict';

const { ackName, errorText } = require('./base');
const { BridgeError } = require('../errors');
const { ErrorCode } = require('../error-codes');
const { CallTimeoutError } = require('../call-timeout');
const { parseRecipient, resolveChatId } = require('../recipient');

/**
 * One send through a whatsapp-web.js client, with every failure mapped onto
 * the HTTP contract. `call(label, fn)` is the gateway's bounded call;
 * `lookupNumberId(digits, lookup)` answers from the number cache or calls
 * `lookup` (BaseGateway.lookupNumberId).
 *
 * The two timeouts mean different things, so they map to different statuses:
 *  - getNumberId timing out happens before anything was handed to WhatsApp:
 *    nothing was sent, 502 SEND_FAILED, the client may simply retry;
 *  - sendMessage timing out is ambiguous: the message may already be on its
 *    way (the page is wedged after the send, or just slow). That is the same
 *    situation as the HTTP layer's 504, so it is reported as 504 SEND_TIMEOUT
 *    and the send service keeps the Idempotency-Key instead of releasing it,
 *    which would let a retry deliver the message twice.
 */
async function sendViaClient({ client, call, createMedia, to, text, media, lookupNumberId = (digits, lookup) => lookup() }) {
  try {
    const chatId = await resolveChatId(parseRecipient(to), (digits) => lookupNumberId(digits, () => call('getNumberId', () => client.getNumberId(digits))));
    let content = text;
    const options = {};
    if (media) {
      content = createMedia(media);
      if (text) options.caption = text;
    }
    const message = await call('sendMessage', () => client.sendMessage(chatId, content, options));
    const id = message && message.id && message.id._serialized;
    if (typeof id !== 'string' || id === '') {
      // sendMessage returned, so WhatsApp Web took the message: it may well be
      // delivered. Not knowing its id is no reason to let a retry send it again.
      throw new BridgeError(502, ErrorCode.SEND_UNCONFIRMED, 'WhatsApp accepted the send but returned no message id; it may have been delivered', {}, { ambiguous: true });
    }
    return { id, to: chatId, ack: ackName(message.ack ?? 0) };
  } catch (err) {
    if (err instanceof BridgeError) throw err;
    if (err instanceof CallTimeoutError && err.label === 'sendMessage') {
      throw new BridgeError(504, ErrorCode.SEND_TIMEOUT, `${err.message}; the message may have been delivered`);
    }
    throw new BridgeError(502, ErrorCode.SEND_FAILED, errorText(err));
  }
}

module.exports = { sendViaClient };

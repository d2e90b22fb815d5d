'use strict';

const path = require('node:path');

/** Chromium flags for a headless server/container without a GPU or /dev/shm room. */
const CHROMIUM_ARGS = Object.freeze([
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]);

/**
 * Upper bounds for every call that goes through puppeteer. A wedged page must
 * never hang a request or a shutdown forever.
 */
const DEFAULT_CALL_TIMEOUTS = Object.freeze({
  initialize: 120000,
  getNumberId: 20000,
  sendMessage: 60000,
  destroy: 15000,
  logout: 20000,
  getState: 10000,
});

/**
 * Build a real whatsapp-web.js client. Loaded lazily so the fake driver never
 * pulls in puppeteer. The WhatsApp Web version cache would default to
 * ./.wwebjs_cache under the working directory, which is read-only for the
 * container's non-root user, so it lives next to the session data instead.
 */
function createWwebjsClient({ dataDir, chromiumPath }) {
  const { Client, LocalAuth } = require('whatsapp-web.js');
  return new Client({
    authStrategy: new LocalAuth({ dataPath: dataDir }),
    webVersionCache: { type: 'local', path: path.join(dataDir, 'wwebjs_cache') },
    puppeteer: { executablePath: chromiumPath, headless: true, args: [...CHROMIUM_ARGS] },
  });
}

/** whatsapp-web.js MessageMedia from the validated request media. */
function createWwebjsMedia({ mimetype, data, filename }) {
  const { MessageMedia } = require('whatsapp-web.js');
  return new MessageMedia(mimetype, data, filename);
}

/** The parts of client.info that /v1/session exposes. */
function describeInfo(info) {
  if (!info) return { wid: null, pushname: null, platform: null };
  const wid = info.wid && typeof info.wid === 'object' ? info.wid._serialized : info.wid;
  return {
    wid: typeof wid === 'string' ? wid : null,
    pushname: typeof info.pushname === 'string' ? info.pushname : null,
    platform: typeof info.platform === 'string' ? info.platform : null,
  };
}

module.exports = { CHROMIUM_ARGS, DEFAULT_CALL_TIMEOUTS, createWwebjsClient, createWwebjsMedia, describeInfo };

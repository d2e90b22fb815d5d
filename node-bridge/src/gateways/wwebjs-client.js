'use strict';

const path = require('node:path');
const { errorText } = require('./base');

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
 * puppeteer installs its own SIGINT/SIGTERM/SIGHUP handlers for every browser
 * it launches: on SIGINT it kills Chromium and calls process.exit(130), on
 * SIGTERM/SIGHUP it closes the browser immediately. Either way our graceful
 * shutdown (finish running requests, then destroy the client) is cut short
 * and a send in progress dies with its browser. The server handles these
 * signals itself, so puppeteer must not. Its process 'exit' hook stays on,
 * so Chromium is still killed if node exits any other way.
 */
const PUPPETEER_SIGNAL_OPTIONS = Object.freeze({ handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false });

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
    puppeteer: { executablePath: chromiumPath, headless: true, args: [...CHROMIUM_ARGS], ...PUPPETEER_SIGNAL_OPTIONS },
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

/**
 * destroy() through the bounded `call`; errors are logged, never thrown. If
 * the browser process is still alive afterwards it is killed, so a wedged
 * Chromium cannot outlive its client.
 */
async function destroyClient(client, { call, logger }) {
  try {
    await call('destroy', () => client.destroy());
  } catch (err) {
    logger.warn({ event: 'destroy_failed', error: errorText(err) }, 'client destroy() failed');
  }
  try {
    const browser = client.pupBrowser;
    const proc = browser && typeof browser.process === 'function' ? browser.process() : null;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      logger.warn({ event: 'browser_killed', pid: proc.pid }, 'killed leftover Chromium process');
    }
  } catch (err) {
    logger.warn({ event: 'browser_kill_failed', error: errorText(err) }, 'could not kill Chromium');
  }
}

/**
 * Log a client out remotely (unlinks the device) and destroy it. If the
 * remote logout fails, the local session data is removed anyway, so the next
 * start cannot silently log back in; the browser is closed first because it
 * holds those files open. Never throws.
 */
async function logoutClient(client, { call, logger }) {
  try {
    await call('logout', () => client.logout());
    logger.info({ event: 'logout' }, 'WhatsApp session logged out');
    await destroyClient(client, { call, logger });
  } catch (err) {
    logger.warn({ event: 'logout_failed', error: errorText(err) }, 'remote logout failed; removing local session data');
    await destroyClient(client, { call, logger });
    const strategy = client.authStrategy;
    if (strategy && typeof strategy.logout === 'function') {
      try {
        await call('logout', () => strategy.logout());
      } catch (cleanupErr) {
        logger.warn({ event: 'logout_cleanup_failed', error: errorText(cleanupErr) }, 'could not remove local session data');
      }
    }
  }
}

module.exports = { CHROMIUM_ARGS, DEFAULT_CALL_TIMEOUTS, PUPPETEER_SIGNAL_OPTIONS, createWwebjsClient, createWwebjsMedia, describeInfo, destroyClient, logoutClient };

'use strict';

const { loadConfig, describeConfig, ConfigError } = require('./config');
const { buildApp } = require('./app');
const { openStore, StoreOpenError } = require('./store');
const { PacingFileStore, PacingStateError } = require('./pacing-store');

const SHUTDOWN_GRACE_MS = 20000;

function urlFor(host, port) {
  const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${shown}:${port}`;
}

/**
 * Process entry point: validate config (exit 2 with one line on stderr if
 * invalid), listen, announce the bound port as a single JSON log line
 * (`event: "listening"`, which test harnesses parse to find BRIDGE_PORT=0's
 * port), start the gateway, and shut down cleanly on SIGTERM/SIGINT/SIGHUP:
 * stop accepting connections, let requests in progress finish (sends waiting
 * in the queue included), stop the gateway (which destroys Chromium), exit 0;
 * exit 1 if that takes longer than SHUTDOWN_GRACE_MS.
 */
async function main() {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`bridge: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  // Opened before the app, so a data directory the bridge cannot use is
  // reported like a configuration error instead of a failed listen.
  let store;
  try {
    store = openStore({ config });
  } catch (err) {
    if (err instanceof StoreOpenError) {
      process.stderr.write(`bridge: configuration error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  // A damaged pacing counters file likewise: ignoring it would silently
  // reset the caps that protect the account.
  if (config.pacing) {
    try {
      new PacingFileStore({ dataDir: config.dataDir }).load();
    } catch (err) {
      if (err instanceof PacingStateError) {
        if (typeof store.close === 'function') store.close();
        process.stderr.write(`bridge: configuration error: ${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
  }

  // The process metrics are per process: only the real server adds them.
  const app = buildApp({ config, processMetrics: true, store });
  const log = app.log;
  log.info({ event: 'config', config: describeConfig(config) }, 'configuration loaded');
  if (config.apiKey === null) {
    log.warn({ event: 'auth_disabled' }, 'BRIDGE_API_KEY is not set: /v1 authentication is DISABLED (allowed only with BRIDGE_DRIVER=fake)');
  }

  process.on('unhandledRejection', (reason) => {
    log.error({ event: 'unhandled_rejection', err: reason instanceof Error ? reason : { message: String(reason) } }, 'unhandled promise rejection');
  });
  process.on('uncaughtException', (err) => {
    log.fatal({ event: 'uncaught_exception', err }, 'uncaught exception; exiting');
    process.exit(1);
  });

  let shuttingDown = false;
  const shutdown = async (signal) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ event: 'shutdown', signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error({ event: 'shutdown_timeout', graceMs: SHUTDOWN_GRACE_MS }, 'shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    try {
      await app.close();
      log.info({ event: 'stopped' }, 'bridge stopped');
      process.exit(0);
    } catch (err) {
      log.error({ event: 'shutdown_failed', err }, 'error during shutdown');
      process.exit(1);
    }
  };
  // puppeteer is told not to handle these (see PUPPETEER_SIGNAL_OPTIONS), so
  // all three must be handled here. SIGHUP matters too: node's default
  // action would end the process without 'exit' hooks, leaving Chromium
  // running.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => shutdown(signal));

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    log.fatal({ event: 'listen_failed', err }, `could not listen on ${config.host}:${config.port}`);
    process.exit(1);
  }
  const { port } = app.server.address();
  log.info({ event: 'listening', port, url: urlFor(config.host, port) }, 'bridge listening');

  await app.gateway.start();
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`bridge: fatal: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  });
}

module.exports = { main, urlFor };

'use strict';

const path = require('node:path');
const { receiptWebhookConfig, describeReceiptWebhook } = require('./receipt-webhook');

const MIB = 1024 * 1024;
const DRIVERS = ['wwebjs', 'fake'];
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Raised for any invalid environment value. The server entry point prints
 * `message` as a single line and exits with status 2, so the message must name
 * the variable and the rule it broke without echoing secrets.
 */
class ConfigError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * Parse a non-negative integer env var. Rejects floats, signs, hex and empty
 * strings instead of silently truncating, because a typo such as
 * `BRIDGE_MIN_INTERVAL_MS=1s` would otherwise disable pacing.
 */
function intVar(env, name, fallback, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const text = String(raw).trim();
  if (!/^[0-9]+$/.test(text)) {
    throw new ConfigError(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be between ${min} and ${max}, got ${text}`);
  }
  return value;
}

function enumVar(env, name, allowed, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = String(raw).trim().toLowerCase();
  if (!allowed.includes(value)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * Parse an on/off env var: `1`/`true`/`yes` or `0`/`false`/`no` (any case),
 * unset or empty for the fallback. Anything else is refused rather than
 * read as off: `BRIDGE_METRICS_PUBLIC=on` silently keeping the key
 * requirement would be as surprising as the opposite.
 */
function flagVar(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = String(raw).trim().toLowerCase();
  if (['1', 'true', 'yes'].includes(value)) return true;
  if (['0', 'false', 'no'].includes(value)) return false;
  throw new ConfigError(`${name} must be 1 or 0 (or true/false, yes/no), got ${JSON.stringify(raw)}`);
}

const STORES = ['sqlite', 'memory'];
const STORE_SYNC = ['full', 'normal'];
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Where the bridge keeps idempotency keys, sent messages with their acks,
 * number lookups and the fake's deliveries (store.js). BRIDGE_STORE=sqlite
 * (a file in BRIDGE_DATA_DIR) is the default, so they survive restarts;
 * memory is the default only for the fake driver without BRIDGE_DATA_DIR
 * (tests and the demo, which need no state on disk). Retention and cache
 * lifetimes are validated like every other number here.
 */
function storeConfig(env, isFake) {
  const dataDirSet = env.BRIDGE_DATA_DIR !== undefined && env.BRIDGE_DATA_DIR !== '';
  return {
    store: enumVar(env, 'BRIDGE_STORE', STORES, isFake && !dataDirSet ? 'memory' : 'sqlite'),
    // normal: survives the process dying (kill -9), the requirement; full
    // also survives a power cut at one fsync per send (store-sqlite.js).
    storeSync: enumVar(env, 'BRIDGE_STORE_SYNC', STORE_SYNC, 'normal'),
    messageRetentionMs: intVar(env, 'BRIDGE_MESSAGE_RETENTION_MS', 30 * DAY_MS, { min: 60000, max: 365 * DAY_MS }),
    // A number's WhatsApp id does not change while the account exists; a
    // week spans a broadcast and its resumes without keeping a number that
    // left WhatsApp for long. "Not on WhatsApp" is kept an hour only: the
    // person may install it, and a retry tomorrow should find them.
    numberCacheTtlMs: intVar(env, 'BRIDGE_NUMBER_CACHE_TTL_MS', 7 * DAY_MS, { max: 365 * DAY_MS }),
    numberMissTtlMs: intVar(env, 'BRIDGE_NUMBER_MISS_TTL_MS', 60 * 60 * 1000, { max: 365 * DAY_MS }),
  };
}

/**
 * Request body limit derived from the decoded media limit: base64 inflates by
 * 4/3, and the rest of the JSON (recipient, a caption of up to 65 536
 * characters that may be \u-escaped, filename, mimetype) gets a fixed margin.
 * Bodies above this are rejected by fastify before parsing (413
 * PAYLOAD_TOO_LARGE); bodies below it whose decoded media is still too big are
 * rejected by the handler (413 MEDIA_TOO_LARGE).
 */
function bodyLimitFor(mediaMaxBytes) {
  const base64Length = Math.ceil(mediaMaxBytes / 3) * 4;
  const margin = 65536 * 6 + 64 * 1024;
  return base64Length + margin;
}

// Pacing defaults, chosen from the published advice of WhatsApp gateway
// projects and anti-ban libraries (docs/whatsapp.md lists the numbers and
// their sources): a random gap of 10 to 30 s between sends (2 to 6 a
// minute), at most 60 an hour and 200 a day, and a one-hour pause after
// WhatsApp itself pushes back.
const DEFAULT_MIN_INTERVAL_MS = 10000;
const DEFAULT_JITTER_MS = 20000;
const DEFAULT_HOURLY_CAP = 60;
const DEFAULT_DAILY_CAP = 200;
const DEFAULT_RISK_PAUSE_MS = 60 * 60 * 1000;
const PACING_CAP_VARS = ['BRIDGE_HOURLY_CAP', 'BRIDGE_DAILY_CAP', 'BRIDGE_WARMUP_START', 'BRIDGE_WARMUP_CAPS', 'BRIDGE_RISK_PAUSE_MS'];

/**
 * `BRIDGE_WARMUP_START` (a YYYY-MM-DD date, day 1 of the warm-up, UTC) and
 * `BRIDGE_WARMUP_CAPS` (comma-separated daily caps, one per day from the
 * start): both or neither.
 */
function warmupVar(env) {
  const rawStart = env.BRIDGE_WARMUP_START;
  const rawCaps = env.BRIDGE_WARMUP_CAPS;
  const hasStart = rawStart !== undefined && rawStart !== '';
  const hasCaps = rawCaps !== undefined && rawCaps !== '';
  if (!hasStart && !hasCaps) return null;
  if (!hasStart || !hasCaps) {
    throw new ConfigError(`BRIDGE_WARMUP_START and BRIDGE_WARMUP_CAPS go together: ${hasStart ? 'BRIDGE_WARMUP_CAPS' : 'BRIDGE_WARMUP_START'} is missing`);
  }
  const start = String(rawStart).trim();
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(start);
  const parsed = match ? new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) : null;
  if (!parsed || parsed.toISOString().slice(0, 10) !== start) {
    throw new ConfigError(`BRIDGE_WARMUP_START must be a date like 2026-12-01 (YYYY-MM-DD), got ${JSON.stringify(rawStart)}`);
  }
  const parts = String(rawCaps).split(',').map((part) => part.trim());
  if (parts.length > 366) throw new ConfigError(`BRIDGE_WARMUP_CAPS lists ${parts.length} days; at most 366`);
  const caps = parts.map((part, i) => {
    if (!/^[0-9]+$/.test(part) || Number(part) < 1 || Number(part) > 100000) {
      throw new ConfigError(`BRIDGE_WARMUP_CAPS must be daily caps (integers 1..100000) separated by commas, like 20,30,50; entry ${i + 1} is ${JSON.stringify(part)}`);
    }
    return Number(part);
  });
  return Object.freeze({ start, caps: Object.freeze(caps) });
}

/**
 * BRIDGE_PACING (default on, off with BRIDGE_DRIVER=fake) switches the
 * account-protecting defaults: the random gap, the caps and the risk pause.
 * Off, the caps and the warm-up cannot be set (they would silently do
 * nothing); the gap variables still apply when set, as before.
 */
function pacingConfig(env, isFake) {
  const enabled = flagVar(env, 'BRIDGE_PACING', !isFake);
  if (!enabled) {
    const set = PACING_CAP_VARS.filter((name) => env[name] !== undefined && env[name] !== '');
    if (set.length > 0) {
      throw new ConfigError(`${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} set but pacing is off (BRIDGE_PACING=0${isFake ? ', the default with BRIDGE_DRIVER=fake' : ''}); set BRIDGE_PACING=1 or unset ${set.length === 1 ? 'it' : 'them'}`);
    }
    return { enabled, hourlyCap: 0, dailyCap: 0, warmup: null, riskPauseMs: 0 };
  }
  return {
    enabled,
    hourlyCap: intVar(env, 'BRIDGE_HOURLY_CAP', DEFAULT_HOURLY_CAP, { max: 1000000 }),
    dailyCap: intVar(env, 'BRIDGE_DAILY_CAP', DEFAULT_DAILY_CAP, { max: 1000000 }),
    warmup: warmupVar(env),
    riskPauseMs: intVar(env, 'BRIDGE_RISK_PAUSE_MS', DEFAULT_RISK_PAUSE_MS, { max: 7 * 24 * 60 * 60 * 1000 }),
  };
}

/**
 * Build the validated configuration from an environment object. Pure (no
 * process access) so tests can exercise every rule; throws ConfigError.
 */
function loadConfig(env = process.env) {
  const driver = enumVar(env, 'BRIDGE_DRIVER', DRIVERS, 'wwebjs');
  const isFake = driver === 'fake';

  const rawKey = env.BRIDGE_API_KEY;
  const apiKey = rawKey === undefined || rawKey === '' ? null : String(rawKey);
  if (apiKey === null && !isFake) {
    throw new ConfigError('BRIDGE_API_KEY is required (set it to a long random secret); only BRIDGE_DRIVER=fake may run without it');
  }
  if (apiKey !== null && apiKey.trim() !== apiKey) {
    throw new ConfigError('BRIDGE_API_KEY must not start or end with whitespace');
  }

  const host = env.BRIDGE_HOST === undefined || env.BRIDGE_HOST === '' ? '127.0.0.1' : String(env.BRIDGE_HOST).trim();
  if (!/^[A-Za-z0-9.:\-[\]]+$/.test(host)) {
    throw new ConfigError(`BRIDGE_HOST must be a hostname or IP address, got ${JSON.stringify(env.BRIDGE_HOST)}`);
  }

  const mediaMaxBytes = intVar(env, 'BRIDGE_MEDIA_MAX_BYTES', 16 * MIB, { min: 1, max: 512 * MIB });
  const queueMaxBytes = intVar(env, 'BRIDGE_QUEUE_MAX_BYTES', 64 * MIB, { min: 1, max: 64 * 1024 * MIB });
  if (queueMaxBytes < mediaMaxBytes) {
    // Otherwise a single valid media send could never fit and would get
    // QUEUE_FULL forever, which no amount of retrying fixes.
    throw new ConfigError(`BRIDGE_QUEUE_MAX_BYTES (${queueMaxBytes}) must be at least BRIDGE_MEDIA_MAX_BYTES (${mediaMaxBytes})`);
  }
  const bodyLimit = bodyLimitFor(mediaMaxBytes);
  // Twice the body limit: two maximum-size uploads (or thousands of text
  // sends) may be in transfer at once; more wait for a 503 + Retry-After.
  const incomingMaxBytes = intVar(env, 'BRIDGE_INCOMING_MAX_BYTES', 2 * bodyLimit, { min: 1, max: 64 * 1024 * MIB });
  if (incomingMaxBytes < bodyLimit) {
    // Otherwise one valid maximum-size send could never be received.
    throw new ConfigError(`BRIDGE_INCOMING_MAX_BYTES (${incomingMaxBytes}) must be at least the body limit derived from BRIDGE_MEDIA_MAX_BYTES (${bodyLimit})`);
  }
  const requestTimeoutMs = intVar(env, 'BRIDGE_REQUEST_TIMEOUT_MS', 60000, { min: 100, max: 3600000 });
  const headersTimeoutMs = intVar(env, 'BRIDGE_HEADERS_TIMEOUT_MS', Math.min(10000, requestTimeoutMs), { min: 100, max: 3600000 });
  if (headersTimeoutMs > requestTimeoutMs) {
    // node refuses a headers timeout longer than the whole-request timeout.
    throw new ConfigError(`BRIDGE_HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not exceed BRIDGE_REQUEST_TIMEOUT_MS (${requestTimeoutMs})`);
  }
  const pacing = pacingConfig(env, isFake);
  const chromiumPath = env.CHROMIUM_PATH === undefined || env.CHROMIUM_PATH === '' ? '/usr/bin/chromium' : String(env.CHROMIUM_PATH);
  const dataDir = env.BRIDGE_DATA_DIR === undefined || env.BRIDGE_DATA_DIR === '' ? './.wwebjs_auth' : String(env.BRIDGE_DATA_DIR);

  return Object.freeze({
    driver,
    port: intVar(env, 'BRIDGE_PORT', 3000, { max: 65535 }),
    host,
    apiKey,
    dataDir: path.resolve(dataDir),
    chromiumPath,
    pacing: pacing.enabled,
    minIntervalMs: intVar(env, 'BRIDGE_MIN_INTERVAL_MS', pacing.enabled ? DEFAULT_MIN_INTERVAL_MS : 0, { max: 3600000 }),
    jitterMs: intVar(env, 'BRIDGE_JITTER_MS', pacing.enabled ? DEFAULT_JITTER_MS : 0, { max: 3600000 }),
    // 35 s: one send ahead (its gap of at most 30 s and the send) still fits
    // in the Python provider's 40 s read timeout; more are refused with
    // QUEUE_FULL and a Retry-After instead of waiting past it.
    queueMaxWaitMs: intVar(env, 'BRIDGE_QUEUE_MAX_WAIT_MS', pacing.enabled ? 35000 : 0, { max: 24 * 3600000 }),
    hourlyCap: pacing.hourlyCap,
    dailyCap: pacing.dailyCap,
    warmup: pacing.warmup,
    riskPauseMs: pacing.riskPauseMs,
    queueMax: intVar(env, 'BRIDGE_QUEUE_MAX', 100, { min: 1, max: 100000 }),
    queueMaxBytes,
    mediaMaxBytes,
    bodyLimit,
    incomingMaxBytes,
    requestTimeoutMs,
    headersTimeoutMs,
    sendTimeoutMs: intVar(env, 'BRIDGE_SEND_TIMEOUT_MS', 30000, { min: 1, max: 3600000 }),
    authTimeoutMs: intVar(env, 'BRIDGE_AUTH_TIMEOUT_MS', 180000, { min: 1000, max: 3600000 }),
    idempotencyTtlMs: intVar(env, 'BRIDGE_IDEMPOTENCY_TTL_MS', 24 * 60 * 60 * 1000, { min: 1, max: 30 * 24 * 60 * 60 * 1000 }),
    ...storeConfig(env, isFake),
    logLevel: enumVar(env, 'BRIDGE_LOG_LEVEL', LOG_LEVELS, 'info'),
    metricsPublic: flagVar(env, 'BRIDGE_METRICS_PUBLIC', false),
    receiptWebhook: receiptWebhookConfig(env, { intVar, ConfigError }),
  });
}

/**
 * The configuration as it may be logged: the API key is reduced to whether it
 * is set, and the receipt webhook to its origin and whether its secret is
 * set, so no secret (nor a URL's secret path) can reach the log stream.
 */
function describeConfig(config) {
  const { apiKey, receiptWebhook, ...rest } = config;
  return { ...rest, apiKeySet: apiKey !== null, receiptWebhook: describeReceiptWebhook(receiptWebhook) };
}

module.exports = { loadConfig, describeConfig, bodyLimitFor, ConfigError };

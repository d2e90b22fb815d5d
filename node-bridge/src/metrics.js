'use strict';

const { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } = require('prom-client');
const { SESSION_STATES } = require('./session-state');

/**
 * Route label for requests that matched no route (404s, and ids too long for
 * the router). Route patterns all start with "/", so this cannot collide
 * with one; and the raw URL is never used, because it would carry message
 * ids, and with them phone numbers, into the labels.
 */
const UNMATCHED_ROUTE = 'unmatched';

/** `outcome` label of a send that reached WhatsApp and got a message id. */
const SENT = 'sent';

/**
 * Bucket bounds (seconds). Requests: a health probe takes a millisecond, a
 * send answers after its place in the paced queue plus the send itself
 * (BRIDGE_SEND_TIMEOUT_MS, 30 s by default). Queue waits: pacing is about a
 * second per send ahead, and BRIDGE_QUEUE_MAX (100) sends ahead means
 * minutes.
 */
const REQUEST_BUCKETS = Object.freeze([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]);
const QUEUE_WAIT_BUCKETS = Object.freeze([0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]);

/**
 * The bridge's Prometheus metrics, in a registry of their own per app (tests
 * build several apps in one process; prom-client's global registry would
 * refuse the second set of names, and would mix their counts).
 *
 * Counters and histograms are fed by the code that sees the event (the
 * request log, the send service, the queue); the queue depth and the
 * session state are gauges read at scrape time from the services the app
 * attaches (attachQueue, attachGateway), so they are never stale and cost
 * nothing between scrapes.
 *
 * No label ever holds a recipient, a message id or a URL: routes are the
 * matched route pattern, outcomes are error codes from the catalogue.
 *
 * `processMetrics` adds prom-client's default process and Node.js metrics
 * (CPU, memory, event-loop lag, GC). Off unless asked: they install a
 * performance observer and an event-loop monitor per registry that are never
 * removed, which is fine once per process (the server) but not in a test
 * run that builds dozens of apps.
 */
class BridgeMetrics {
  constructor({ processMetrics = false } = {}) {
    this.registry = new Registry();
    const registers = [this.registry];

    this._httpRequests = new Counter({
      name: 'bridge_http_requests_total',
      help: 'HTTP requests answered (or aborted), by method, matched route pattern and status code ("unmatched" route: no route matched; status "none": the client left before an answer started).',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this._httpDuration = new Histogram({
      name: 'bridge_http_request_duration_seconds',
      help: 'Time from the start of a request to the end of its response, by method and matched route pattern.',
      labelNames: ['method', 'route'],
      buckets: [...REQUEST_BUCKETS],
      registers,
    });
    this._sends = new Counter({
      name: 'bridge_sends_total',
      help: 'Sends by outcome: "sent" (WhatsApp returned a message id), or the error code that ended the send (see the README\'s error code catalogue). Replays and requests refused before a send (validation, idempotency conflicts) are not counted.',
      labelNames: ['outcome'],
      registers,
    });
    this._replays = new Counter({
      name: 'bridge_idempotency_replays_total',
      help: 'Stored answers replayed for a repeated Idempotency-Key (nothing sent), by the replayed status code.',
      labelNames: ['status'],
      registers,
    });
    this._queueWait = new Histogram({
      name: 'bridge_send_queue_wait_seconds',
      help: 'Time a send waited in the paced queue before it started.',
      buckets: [...QUEUE_WAIT_BUCKETS],
      registers,
    });
    this._stateChanges = new Counter({
      name: 'bridge_session_state_changes_total',
      help: 'Transitions of the WhatsApp session into each state; shows flapping that scrapes of bridge_session_state miss.',
      labelNames: ['state'],
      registers,
    });
    // Zero series exist from the start, so rate() and absent-series alerts
    // work before the first send.
    this._sends.inc({ outcome: SENT }, 0);
    for (const state of SESSION_STATES) this._stateChanges.inc({ state }, 0);

    if (processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Content type of the exposition text (Prometheus text format 0.0.4). */
  get contentType() {
    return this.registry.contentType;
  }

  /** The exposition text of every metric, for GET /metrics. */
  exposition() {
    return this.registry.metrics();
  }

  /**
   * Gauges read from the send queue at scrape time: jobs waiting or running
   * (what BRIDGE_QUEUE_MAX limits) and their declared media bytes (what
   * BRIDGE_QUEUE_MAX_BYTES limits).
   */
  attachQueue(queue) {
    new Gauge({
      name: 'bridge_send_queue_depth',
      help: 'Sends waiting in the queue or running (limited by BRIDGE_QUEUE_MAX).',
      registers: [this.registry],
      collect() {
        this.set(queue.size);
      },
    });
    new Gauge({
      name: 'bridge_send_queue_bytes',
      help: 'Decoded media bytes of the sends waiting or running (limited by BRIDGE_QUEUE_MAX_BYTES).',
      registers: [this.registry],
      collect() {
        this.set(queue.bytes);
      },
    });
  }

  /**
   * Gauge read from the gateway at scrape time: one series per session
   * state, 1 for the current one and 0 for the others, so an alert on the
   * READY series being 0 and a per-state graph both work.
   */
  attachGateway(gateway) {
    new Gauge({
      name: 'bridge_session_state',
      help: 'WhatsApp session state: 1 for the current state, 0 for the others.',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const current = gateway.status().state;
        for (const state of SESSION_STATES) this.set({ state }, state === current ? 1 : 0);
      },
    });
  }

  /**
   * One finished (or aborted) request, from the request log's entry:
   * `method`, `route` (pattern or absent), `statusCode` (null when no answer
   * was started), `durationMs`.
   */
  requestFinished({ method, route, statusCode, durationMs }) {
    const routeLabel = route || UNMATCHED_ROUTE;
    this._httpRequests.inc({ method, route: routeLabel, status: statusCode === null ? 'none' : String(statusCode) });
    this._httpDuration.observe({ method, route: routeLabel }, durationMs / 1000);
  }

  /** A send ended: `outcome` is SENT or the error code that ended it. */
  sendFinished(outcome) {
    this._sends.inc({ outcome });
  }

  /** A stored answer with `statusCode` was replayed for a repeated key. */
  replayed(statusCode) {
    this._replays.inc({ status: String(statusCode) });
  }

  /** A send left the queue after waiting `waitedMs`. */
  queueWaited(waitedMs) {
    this._queueWait.observe(Math.max(0, waitedMs) / 1000);
  }

  /** The session entered `state`. */
  sessionStateChanged(state) {
    this._stateChanges.inc({ state });
  }
}

/**
 * Stand-in with the same methods that records nothing, for the services
 * built without an app (unit tests of the send service and the queue).
 */
const NO_METRICS = Object.freeze({
  requestFinished() {},
  sendFinished() {},
  replayed() {},
  queueWaited() {},
  sessionStateChanged() {},
});

module.exports = { BridgeMetrics, NO_METRICS, SENT, UNMATCHED_ROUTE };

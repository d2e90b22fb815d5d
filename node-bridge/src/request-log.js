'use strict';

/**
 * Runs of this many digits or more are treated as phone numbers. Message ids
 * (`true_15551234567@c.us_3EB0...`) and group ids carry the chat's number,
 * and a mistyped path may carry anything; five digits keep short numeric
 * path parts readable while no phone number (6 to 20 digits) gets through.
 */
const NUMBER_RUN = /[0-9]{5,}/g;

/**
 * The URL as it may be logged: the query string is replaced by a marker
 * (clients sometimes put the API key there, `?api_key=...`, and no query
 * parameter is part of the bridge's API, so none is worth logging), and long
 * digit runs in the path are masked so message ids do not leak the phone
 * numbers they contain.
 */
function redactUrl(rawUrl) {
  const url = String(rawUrl);
  const queryAt = url.indexOf('?');
  const path = queryAt === -1 ? url : url.slice(0, queryAt);
  const masked = path.replace(NUMBER_RUN, '[number]');
  return queryAt === -1 ? masked : `${masked}?[redacted]`;
}

/**
 * pino serializer for any `req` that some code logs: never the headers (the
 * API key), never the raw URL.
 */
function serializeRequest(req) {
  return { method: req.method, url: redactUrl(req.url) };
}

/** Milliseconds since `startedAt` (a process.hrtime.bigint()), to 0.1 ms. */
function elapsedMs(startedAt) {
  return Math.round(Number(process.hrtime.bigint() - startedAt) / 1e5) / 10;
}

/**
 * Log exactly one line for `request`, when its response is over: finished,
 * or cut off because the connection closed first (`aborted: true`, no
 * 'finish' before 'close'). The response's 'close' event fires once in both
 * cases, which is why the line is written from there and not from fastify's
 * onResponse hook (which misses aborted requests). `onFinished(entry)`, when
 * given, receives the same entry (the metrics count requests from it, so the
 * log and the counters agree on every request).
 */
function trackRequest(request, reply, onFinished = null) {
  const startedAt = process.hrtime.bigint();
  const response = reply.raw;
  let finished = false;
  response.once('finish', () => {
    finished = true;
  });
  response.once('close', () => {
    const entry = {
      event: 'request',
      method: request.method,
      url: redactUrl(request.url),
      // No status if the connection closed before an answer was started.
      statusCode: response.headersSent ? reply.statusCode : null,
      durationMs: elapsedMs(startedAt),
    };
    const route = request.routeOptions && request.routeOptions.url;
    if (route) entry.route = route;
    if (!finished) entry.aborted = true;
    request.log.info(entry, `${entry.method} ${entry.url} ${entry.statusCode}${entry.aborted ? ' (aborted)' : ''}`);
    if (!onFinished) return;
    try {
      onFinished(entry);
    } catch (err) {
      // An event handler: a throw here would be an uncaught exception.
      request.log.error({ event: 'metrics_failed', err }, 'could not record the request in the metrics');
    }
  });
}

/**
 * Replace fastify's two lines per request ("incoming request" and "request
 * completed", which the app turns off through its LogController) with one line carrying the
 * method, the redacted URL, the matched route, the status and the duration.
 * `onFinished` as for trackRequest.
 */
function installRequestLog(app, onFinished = null) {
  app.addHook('onRequest', async (request, reply) => {
    trackRequest(request, reply, onFinished);
  });
}

module.exports = { redactUrl, serializeRequest, trackRequest, installRequestLog };

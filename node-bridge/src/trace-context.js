'use strict';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/), the receiving
 * half only: the bridge does not trace anything itself, but a caller that
 * sends `traceparent` (the Python providers do when a span is active) gets
 * its trace id on the bridge's log lines for that request, so one search
 * finds both sides of a send.
 *
 * A header that breaks the format is ignored, never answered with an error:
 * tracing is advice from the caller, and a request must not fail over it.
 */

const HEX2 = /^[0-9a-f]{2}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const ZERO16 = '0'.repeat(16);
const ZERO32 = '0'.repeat(32);

/** Length of a version-00 header: 2 + 1 + 32 + 1 + 16 + 1 + 2. */
const VERSION_00_LENGTH = 55;

/**
 * Parse a `traceparent` header value. Returns `{ traceId, parentId, flags }`
 * (lower-case hex strings) or null when the value is absent or invalid.
 *
 * The rules, from the specification:
 *  - four dash-separated fields of lower-case hex: version (2), trace id
 *    (32), parent id (16), flags (2); upper case is invalid;
 *  - version `ff` is invalid; version `00` must have exactly these four
 *    fields;
 *  - a later version is parsed as far as version 00 goes, and may only be
 *    followed by more fields after a dash (so a 00-shaped prefix of some
 *    longer token does not pass);
 *  - a trace id or parent id of all zeros is invalid.
 *
 * Several `traceparent` headers reach here joined by node with ", ", which
 * makes the value invalid, as the specification wants for an ambiguous
 * parent.
 */
function parseTraceparent(value) {
  if (typeof value !== 'string' || value.length < VERSION_00_LENGTH) return null;
  const version = value.slice(0, 2);
  if (!HEX2.test(version) || version === 'ff') return null;
  if (version === '00' && value.length !== VERSION_00_LENGTH) return null;
  if (value.length > VERSION_00_LENGTH && value[VERSION_00_LENGTH] !== '-') return null;
  if (value[2] !== '-' || value[35] !== '-' || value[52] !== '-') return null;
  const traceId = value.slice(3, 35);
  const parentId = value.slice(36, 52);
  const flags = value.slice(53, 55);
  if (!HEX32.test(traceId) || traceId === ZERO32) return null;
  if (!HEX16.test(parentId) || parentId === ZERO16) return null;
  if (!HEX2.test(flags)) return null;
  return { traceId, parentId, flags };
}

/**
 * Log bindings for a request's `traceparent`: `trace_id` and
 * `parent_span_id` (the span current in the caller when it made the request,
 * which places the request under the right span when one trace holds
 * several sends), or an empty object when there is no valid header. snake_case, as in the
 * OpenTelemetry log data model, so log pipelines pick the ids up as they
 * are.
 */
function traceLogBindings(headers) {
  const context = parseTraceparent(headers && headers.traceparent);
  if (context === null) return {};
  return { trace_id: context.traceId, parent_span_id: context.parentId };
}

module.exports = { parseTraceparent, traceLogBindings };

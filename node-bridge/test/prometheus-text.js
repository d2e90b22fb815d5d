'use strict';

/**
 * A small, strict reader of the Prometheus text exposition format (0.0.4),
 * written for the tests so /metrics is checked by something other than the
 * library that produced it. It throws on any line it cannot read, on a
 * sample of a family without a `# TYPE`, on a repeated series and on a
 * family declared twice, so a malformed exposition fails the test that
 * scrapes it.
 */

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

/** Suffixes a sample of a family of each type may carry. */
const SUFFIXES = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/** Parse `{a="x",b="y\"z"}` starting at text[0] === '{'; returns [labels, rest]. */
function readLabels(text, line) {
  const labels = {};
  let i = 1;
  for (;;) {
    if (text[i] === '}') return [labels, text.slice(i + 1)];
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`label without "=" in: ${line}`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name ${JSON.stringify(name)} in: ${line}`);
    if (text[eq + 1] !== '"') throw new Error(`label value not quoted in: ${line}`);
    let value = '';
    let j = eq + 2;
    for (;;) {
      const c = text[j];
      if (c === undefined) throw new Error(`unterminated label value in: ${line}`);
      if (c === '"') break;
      if (c === '\\') {
        const next = text[j + 1];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new Error(`bad escape \\${next} in: ${line}`);
        j += 2;
        continue;
      }
      if (c === '\n') throw new Error(`raw newline in a label value: ${line}`);
      value += c;
      j += 1;
    }
    if (Object.hasOwn(labels, name)) throw new Error(`label ${name} twice in: ${line}`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i += 1;
    else if (text[i] !== '}') throw new Error(`expected "," or "}" after a label in: ${line}`);
  }
}

/**
 * A sample value as Prometheus reads it (Go's ParseFloat): decimal or
 * exponent notation, and Inf/Infinity/NaN in any case (prom-client writes
 * "Nan" for an empty event-loop histogram).
 */
function readValue(text, line) {
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(text);
  if (special) {
    if (special[2].toLowerCase() === 'nan') return NaN;
    return special[1] === '-' ? -Infinity : Infinity;
  }
  if (!/^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/.test(text)) throw new Error(`bad sample value ${JSON.stringify(text)} in: ${line}`);
  return Number(text);
}

/**
 * Parse an exposition. Returns a Map from family name to
 * `{ type, help, samples: [{ name, labels, value }] }`.
 */
function parseExposition(text) {
  const families = new Map();
  const seriesSeen = new Set();
  const family = (name) => {
    if (!families.has(name)) families.set(name, { type: null, help: null, samples: [] });
    return families.get(name);
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const match = /^# (HELP|TYPE) ([^ ]+) ?(.*)$/.exec(line);
      if (!match) continue; // a plain comment
      const [, kind, name, rest] = match;
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
      const entry = family(name);
      if (kind === 'TYPE') {
        if (!TYPES.includes(rest)) throw new Error(`unknown type in: ${line}`);
        if (entry.type !== null) throw new Error(`${name} declared twice`);
        entry.type = rest;
      } else {
        entry.help = rest;
      }
      continue;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (!nameMatch) throw new Error(`no metric name at the start of: ${line}`);
    const name = nameMatch[0];
    let rest = line.slice(name.length);
    let labels = {};
    if (rest.startsWith('{')) [labels, rest] = readLabels(rest, line);
    const parts = rest.trim().split(/ +/);
    if (parts.length < 1 || parts.length > 2 || parts[0] === '') throw new Error(`expected a value (and optional timestamp) in: ${line}`);
    const value = readValue(parts[0], line);

    let owner = null;
    for (const [familyName, entry] of families) {
      if (entry.type === null) continue;
      if (SUFFIXES[entry.type].some((suffix) => familyName + suffix === name)) owner = entry;
    }
    if (!owner) throw new Error(`sample ${name} belongs to no family declared with # TYPE: ${line}`);
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seriesSeen.has(series)) throw new Error(`series repeated: ${line}`);
    seriesSeen.add(series);
    owner.samples.push({ name, labels, value });
  }
  return families;
}

/**
 * Value of the one sample `name` whose labels include `labels`; 0 when
 * there is none (a counter series that was never touched), an error when
 * several match.
 */
function sampleValue(families, name, labels = {}) {
  const found = [];
  for (const entry of families.values()) {
    for (const sample of entry.samples) {
      if (sample.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) found.push(sample);
    }
  }
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found.length === 0 ? 0 : found[0].value;
}

/** Every label value in the exposition, with where it is. */
function labelValues(families) {
  const out = [];
  for (const entry of families.values()) {
    for (const sample of entry.samples) {
      for (const [label, value] of Object.entries(sample.labels)) out.push({ metric: sample.name, label, value });
    }
  }
  return out;
}

module.exports = { parseExposition, sampleValue, labelValues };

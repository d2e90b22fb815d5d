'use strict';

/**
 * One supported Node.js range, stated the same way everywhere: package.json
 * "engines", the README, the Docker image and the Python launcher's message;
 * and a lockfile whose every package accepts that range (so `npm ci` prints
 * no EBADENGINE warning on the oldest supported Node).
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const semver = require('semver');

const BRIDGE = path.join(__dirname, '..');
const read = (...parts) => fs.readFileSync(path.join(BRIDGE, ...parts), 'utf8');
const pkg = JSON.parse(read('package.json'));
const lock = JSON.parse(read('package-lock.json'));

/** LTS majors the bridge is tested against or shipped on. */
const LTS_MAJORS = [20, 22, 24];

test('package.json states the range; the oldest admitted Node is 20', () => {
  assert.equal(pkg.engines.node, '>=20');
  assert.equal(semver.minVersion(pkg.engines.node).major, 20);
  assert.equal(lock.packages[''].engines.node, pkg.engines.node, 'the lockfile was regenerated after the change');
});

test('every locked package accepts each supported LTS line (no EBADENGINE on npm ci)', () => {
  const refusing = [];
  for (const major of LTS_MAJORS) {
    const version = major === 20 ? semver.minVersion(pkg.engines.node).version : `${major}.0.0`;
    for (const [where, entry] of Object.entries(lock.packages)) {
      const wanted = entry.engines && entry.engines.node;
      if (typeof wanted === 'string' && !semver.satisfies(version, wanted)) refusing.push(`${where} wants node ${wanted}, not ${version}`);
    }
  }
  assert.deepEqual(refusing, []);
});

test('the Docker image is on a supported LTS line inside the range', () => {
  const from = /^FROM node:(\d+)-slim$/m.exec(read('Dockerfile'));
  assert.ok(from, 'FROM node:<major>-slim');
  const major = Number(from[1]);
  assert.ok(major >= 22 && major % 2 === 0, `node:${major} is not an LTS line still supported (Node 20 ended in April 2026)`);
  assert.ok(semver.satisfies(`${major}.0.0`, pkg.engines.node));
});

test('the README and the Python launcher state the same minimum', () => {
  assert.match(read('README.md'), /Node\.js 20 or newer/);
  assert.match(read('README.md'), /`package\.json` declares `>=20`/);
  const launcher = fs.readFileSync(path.join(BRIDGE, '..', 'scripts', 'local_bridge.py'), 'utf8');
  const stated = [...launcher.matchAll(/Node\.js >= (\d+)/g)].map((m) => Number(m[1]));
  assert.deepEqual(stated, [20]);
});

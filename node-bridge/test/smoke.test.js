'use strict';

/**
 * Opt-in smoke test (BRIDGE_SMOKE=1, `npm run test:smoke`): runs the real
 * server with the wwebjs driver and Debian's Chromium while WhatsApp is
 * unreachable. It proves the failure path end to end: the failure shows up
 * as FAILED with an error on /health, and after SIGTERM no Chromium process
 * started for this run survives.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const SERVER = path.join(__dirname, '..', 'src', 'server.js');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const enabled = process.env.BRIDGE_SMOKE === '1';

/** PIDs of processes whose command line mentions `needle`. */
function processesMentioning(needle) {
  const found = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p))) {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmdline.includes(needle)) found.push({ pid: Number(pid), cmd: cmdline.split('\0').slice(0, 2).join(' ') });
    } catch {
      // process exited while we looked
    }
  }
  return found;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForLine(lines, predicate, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = lines.find(predicate);
    if (found || Date.now() > deadline) return found;
    await sleep(50);
  }
}

test('real wwebjs driver without network: FAILED on /health, no Chromium left after SIGTERM', {
  skip: enabled ? false : 'set BRIDGE_SMOKE=1 (needs Debian chromium)',
  timeout: 240000,
}, async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} not found; apt-get install chromium`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-smoke-'));
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BRIDGE_')) env[k] = v;
  Object.assign(env, {
    BRIDGE_DRIVER: 'wwebjs',
    BRIDGE_API_KEY: 'smoke-key',
    BRIDGE_PORT: '0',
    BRIDGE_DATA_DIR: dataDir,
    CHROMIUM_PATH: CHROMIUM,
  });
  const child = spawn(process.execPath, [SERVER], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const lines = [];
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const listening = new Promise((resolve) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const entry = JSON.parse(line);
        lines.push(entry);
        if (entry.event === 'listening') resolve(entry);
      } catch {
        lines.push({ raw: line });
      }
    });
  });

  try {
    const { url } = await listening;
    let health = null;
    let sawBrowser = false;
    const deadline = Date.now() + 180000;
    while (Date.now() < deadline) {
      if (processesMentioning(dataDir).length > 0) sawBrowser = true;
      health = await (await fetch(`${url}/health`)).json();
      if (health.state === 'FAILED' || health.state === 'DISCONNECTED') break;
      await sleep(250);
    }
    assert.equal(health.state, 'FAILED', `final health ${JSON.stringify(health)}; log tail ${JSON.stringify(lines.slice(-5))}`);
    assert.equal(health.ready, false);
    assert.equal(typeof health.lastError, 'string');
    assert.ok(health.lastError.length > 0);
    assert.ok(sawBrowser, 'Chromium was launched with the LocalAuth data dir');
    // Log lines travel through a pipe and may trail the HTTP answer; the
    // restart is only scheduled once destroy() has finished.
    const failure = await waitForLine(lines, (l) => l.event === 'client_failed');
    assert.equal(failure.state, 'FAILED');
    const restart = await waitForLine(lines, (l) => l.event === 'restart_scheduled');
    assert.equal(restart.delayMs, 2000, 'first restart after 2 s');
    const send = await fetch(`${url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': 'smoke-key', 'content-type': 'application/json' },
      body: JSON.stringify({ to: '15551234567', text: 'x' }),
    });
    assert.equal(send.status, 503);
    process.stderr.write(`smoke: reported lastError=${JSON.stringify(health.lastError)}\n`);
  } finally {
    child.kill('SIGTERM');
    const { code } = await exited;
    assert.equal(code, 0, `exit code; stderr: ${stderr.slice(-2000)}`);
    await sleep(500);
    const leftovers = processesMentioning(dataDir);
    fs.rmSync(dataDir, { recursive: true, force: true });
    assert.deepEqual(leftovers, [], 'Chromium processes left behind');
  }
});

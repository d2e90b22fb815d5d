'use strict';

/**
 * Opt-in smoke tests (BRIDGE_SMOKE=1, `npm run test:smoke`): run the real
 * server with the wwebjs driver and Debian's Chromium while WhatsApp is
 * unreachable. They prove end to end that
 *  - the failure shows up as FAILED with an error on /health, and after
 *    SIGTERM no Chromium process started for this run survives;
 *  - a signal that arrives while Chromium is still loading (state STARTING)
 *    runs our graceful shutdown (exit 0, browser destroyed) instead of
 *    puppeteer's own handlers (which exit 130 on SIGINT).
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const net = require('node:net');

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

/** After a failed run: SIGKILL whatever this run's Chromium left behind, so no test leaks browsers. */
function killLeftovers(needle) {
  for (const { pid } of processesMentioning(needle)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function waitForLine(lines, predicate, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = lines.find(predicate);
    if (found || Date.now() > deadline) return found;
    await sleep(50);
  }
}

/** Start the real server on a fresh data dir; `extraEnv` is added to a BRIDGE_-free environment. */
function launch(extraEnv = {}) {
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
    ...extraEnv,
  });
  const child = spawn(process.execPath, [SERVER], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const run = { child, dataDir, lines: [], stderr: '' };
  run.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.stderr.on('data', (d) => { run.stderr += d; });
  run.listening = new Promise((resolve) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        const entry = JSON.parse(line);
        run.lines.push(entry);
        if (entry.event === 'listening') resolve(entry);
      } catch {
        run.lines.push({ raw: line });
      }
    });
  });
  return run;
}

const options = { skip: enabled ? false : 'set BRIDGE_SMOKE=1 (needs Debian chromium)', timeout: 240000 };

test('real wwebjs driver without network: FAILED on /health, no Chromium left after SIGTERM', options, async () => {
  const run = launch();
  const { child, dataDir, lines, exited, listening } = run;

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
    assert.equal(code, 0, `exit code; stderr: ${run.stderr.slice(-2000)}`);
    await sleep(500);
    const leftovers = processesMentioning(dataDir);
    killLeftovers(dataDir);
    fs.rmSync(dataDir, { recursive: true, force: true });
    assert.deepEqual(leftovers, [], 'Chromium processes left behind');
  }
});

/**
 * A proxy that accepts connections and never answers: Chromium on Linux
 * takes its proxy from the environment, so page.goto() hangs and the client
 * stays STARTING with Chromium running for as long as the test needs, which
 * makes "signal while the browser is up, before FAILED" deterministic.
 */
async function blackholeProxy() {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    env: { http_proxy: url, https_proxy: url, HTTP_PROXY: url, HTTPS_PROXY: url, no_proxy: '', NO_PROXY: '' },
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  test(`${signal} while Chromium is starting: graceful shutdown, exit 0, no Chromium left`, options, async () => {
    const proxy = await blackholeProxy();
    const run = launch(proxy.env);
    const { child, dataDir, lines, exited, listening } = run;
    try {
      const { url } = await listening;
      const deadline = Date.now() + 60000;
      while (processesMentioning(dataDir).length === 0 && Date.now() < deadline) await sleep(25);
      assert.ok(processesMentioning(dataDir).length > 0, 'Chromium was launched');
      await sleep(500); // let puppeteer finish launching and attach its handlers
      const health = await (await fetch(`${url}/health`)).json();
      assert.equal(health.state, 'STARTING', `signal must arrive before any failure: ${JSON.stringify(health)}`);

      child.kill(signal);
      const { code, signal: killedBy } = await exited;
      assert.equal(killedBy, null, `died of ${killedBy}; stderr: ${run.stderr.slice(-2000)}`);
      assert.equal(code, 0, `exit code (puppeteer's SIGINT handler would make it 130); stderr: ${run.stderr.slice(-2000)}`);
      assert.ok(lines.some((l) => l.event === 'shutdown' && l.signal === signal), 'our shutdown handler ran');
      assert.ok(lines.some((l) => l.event === 'stopped'), 'shutdown completed');
      assert.ok(!lines.some((l) => l.event === 'client_failed'), 'the client had not failed');
      await sleep(500);
      assert.deepEqual(processesMentioning(dataDir), [], 'Chromium processes left behind');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      killLeftovers(dataDir);
      await proxy.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

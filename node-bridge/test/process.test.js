'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');

const SERVER = path.join(__dirname, '..', 'src', 'server.js');
const SECRET = 'process-test-secret-93b1d7';

/** Environment without any BRIDGE_* leaking in from the caller. */
function cleanEnv(extra) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BRIDGE_') && k !== 'CHROMIUM_PATH') env[k] = v;
  return { ...env, ...extra };
}

/** Run the server to completion (for startup failures). */
function runToExit(env, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('server did not exit')); }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Start the server and resolve once it announced its port. */
function startServer(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    child.stderr.on('data', (d) => { out.stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no listening line: ${out.stdout} ${out.stderr}`)); }, 15000);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      out.stdout += `${line}\n`;
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (entry.event === 'listening') {
        clearTimeout(timer);
        resolve({ child, entry, out });
      }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited early with ${code}: ${out.stderr}`)); });
  });
}

function waitExit(child) {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
}

test('refuses to start in wwebjs mode without BRIDGE_API_KEY: exit 2, one-line reason', async () => {
  const res = await runToExit({ BRIDGE_PORT: '0' });
  assert.equal(res.code, 2);
  const lines = res.stderr.trim().split('\n');
  assert.equal(lines.length, 1);
  assert.match(lines[0], /BRIDGE_API_KEY is required/);
  assert.equal(res.stdout, '');
});

test('invalid values exit 2 without echoing the key', async () => {
  const res = await runToExit({ BRIDGE_API_KEY: SECRET, BRIDGE_PORT: 'eighty' });
  assert.equal(res.code, 2);
  assert.match(res.stderr, /BRIDGE_PORT must be an integer/);
  assert.ok(!res.stderr.includes(SECRET));
  const bad = await runToExit({ BRIDGE_API_KEY: SECRET, BRIDGE_DRIVER: 'selenium' });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /BRIDGE_DRIVER must be one of wwebjs, fake/);
});

test('announces the bound port as one JSON line, serves, never logs the key, exits 0 on SIGTERM', async () => {
  const { child, entry, out } = await startServer({ BRIDGE_DRIVER: 'fake', BRIDGE_API_KEY: SECRET, BRIDGE_PORT: '0', BRIDGE_LOG_LEVEL: 'trace' });
  assert.equal(entry.level, 30);
  assert.ok(Number.isInteger(entry.port) && entry.port > 0);
  assert.equal(entry.url, `http://127.0.0.1:${entry.port}`);
  const base = entry.url;

  const health = await fetch(`${base}/health`);
  assert.equal(health.status, 200);
  assert.equal((await health.json()).ready, true);
  assert.equal((await fetch(`${base}/v1/session`, { headers: { 'x-api-key': 'nope' } })).status, 401);
  const sendRes = await fetch(`${base}/v1/messages`, {
    method: 'POST',
    headers: { 'x-api-key': SECRET, 'content-type': 'application/json', 'idempotency-key': 'p-1' },
    body: JSON.stringify({ to: '+15551234567', text: 'from a real socket' }),
  });
  assert.equal(sendRes.status, 201);

  // A QR goes to the terminal on stderr; stdout stays JSON lines.
  assert.equal((await fetch(`${base}/__fake/state`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"state":"QR"}' })).status, 200);
  const { qr } = await (await fetch(`${base}/v1/session/qr`, { headers: { 'x-api-key': SECRET } })).json();
  assert.match(qr, /^fake-qr:/);

  const exit = waitExit(child);
  child.kill('SIGTERM');
  const { code } = await exit;
  assert.match(out.stderr, /Linked devices > Link a device/);
  assert.match(out.stderr, /[▄▀█]/, 'QR art on stderr');
  assert.equal(code, 0);
  const lines = out.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.filter((l) => l.event === 'listening').length, 1);
  assert.ok(lines.some((l) => l.event === 'shutdown' && l.signal === 'SIGTERM'));
  assert.ok(!out.stdout.includes(SECRET), 'key in stdout');
  assert.ok(!out.stderr.includes(SECRET), 'key in stderr');
});

test('fake mode without a key warns that auth is disabled and exits 0 on SIGINT', async () => {
  const { child, out, entry } = await startServer({ BRIDGE_DRIVER: 'fake', BRIDGE_PORT: '0' });
  assert.ok(out.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).some((l) => l.event === 'auth_disabled' && l.level === 40));
  assert.equal((await fetch(`${entry.url}/v1/session`)).status, 200);
  const exit = waitExit(child);
  child.kill('SIGINT');
  assert.equal((await exit).code, 0);
});

test('SIGHUP also runs the graceful shutdown (puppeteer no longer handles it)', async () => {
  const { child, out } = await startServer({ BRIDGE_DRIVER: 'fake', BRIDGE_PORT: '0' });
  const exit = waitExit(child);
  child.kill('SIGHUP');
  const { code, signal } = await exit;
  assert.equal(signal, null, 'not killed by the signal');
  assert.equal(code, 0);
  const lines = out.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => l.event === 'shutdown' && l.signal === 'SIGHUP'));
  assert.ok(lines.some((l) => l.event === 'stopped'));
});

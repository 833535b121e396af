'use strict';
// BULLRUSH_LOG turns on bullrush's diagnostics on stderr; without it the
// addon prints nothing. Runs a child process, as the variable is read once,
// when the addon loads. Redis only.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const h = require('./helpers');
const { startServer } = require('./errors-server');

const ROOT = path.resolve(__dirname, '..');

const SCRIPT = `
const { Queue } = require(${JSON.stringify(ROOT)});
(async () => {
  const queue = new Queue('log-test', { connection: JSON.parse(process.argv[1]) });
  await queue.add('x', {});
  await queue.close();
})().catch((err) => { console.log('FAILED', err && err.message); process.exitCode = 1; });
`;

// Connects a Queue and a QueueEvents, says 'ready', and once told (after
// the test restarted Redis) adds until an add goes through and the events
// reader has seen it.
const OUTAGE_SCRIPT = `
const { Queue, QueueEvents } = require(${JSON.stringify(ROOT)});
const connection = JSON.parse(process.argv[1]);
(async () => {
  const queue = new Queue('log-outage', { connection, commandTimeout: 1000 });
  const events = new QueueEvents('log-outage', { connection, blockingTimeout: 200, commandTimeout: 1000 });
  events.on('error', () => {});
  await events.waitUntilReady();
  await queue.add('before', {});
  console.log('ready');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  const seen = new Promise((resolve) => events.on('added', resolve));
  for (;;) {
    try {
      await queue.add('after', {});
      break;
    } catch (_) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await seen;
  await events.close();
  await queue.close();
})().catch((err) => { console.log('FAILED', err && err.message); process.exitCode = 1; });
`;

function run(connection, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', SCRIPT, JSON.stringify(connection)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function envWithout(...names) {
  const env = { ...process.env };
  for (const n of names) delete env[n];
  // The test runner's own variables would make the child a test file.
  delete env.NODE_TEST_CONTEXT;
  return env;
}

describe('BULLRUSH_LOG', { skip: h.isBullrush() ? h.redisOnly('its own redis-server') : 'bullrush diagnostics' }, () => {
  it('BULLRUSH_LOG=debug logs the connection on stderr, without the password', async (t) => {
    const server = await startServer(t, ['--requirepass', 'log-secret']);
    const connection = server.connection({ password: 'log-secret' });
    const result = await run(connection, { ...envWithout('BULLRUSH_LOG'), BULLRUSH_LOG: 'debug' });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stderr, new RegExp(`bullrush\\S*: connected to redis://127\\.0\\.0\\.1:${server.port}`));
    assert.doesNotMatch(result.stderr, /log-secret/);
  });

  it('a filter by target works too', async (t) => {
    const server = await startServer(t);
    const result = await run(server.connection(), { ...envWithout('BULLRUSH_LOG'), BULLRUSH_LOG: 'bullrush=debug' });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stderr, /connected to redis:\/\//);
  });

  it('logs an outage: the connection lost, the reconnect, the events reader stopping and resuming', async (t) => {
    const server = await startServer(t);
    const child = spawn(process.execPath, ['-e', OUTAGE_SCRIPT, JSON.stringify(server.connection())], {
      env: { ...envWithout('BULLRUSH_LOG'), BULLRUSH_LOG: 'bullrush=debug' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    t.after(() => child.kill('SIGKILL'));
    await h.waitFor(() => stdout.includes('ready'), 10000, 'the child connected');
    await server.restart();
    child.stdin.end('go\n');
    assert.equal(await exited, 0, stdout + stderr);
    assert.match(stderr, /WARN bullrush::redis::connection: connection lost: Redis at redis:\/\/127\.0\.0\.1:\d+\/0 is unreachable/);
    assert.match(stderr, /INFO bullrush::redis::connection: reconnected to redis:\/\/127\.0\.0\.1/);
    assert.match(stderr, /WARN bullrush::redis::events: events reader for \S+ stopped: /);
    assert.match(stderr, /INFO bullrush::redis::events: events reader for \S+ resumed/);
  });

  it('without BULLRUSH_LOG stderr stays empty', async (t) => {
    const server = await startServer(t);
    const result = await run(server.connection(), envWithout('BULLRUSH_LOG'));
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(result.stderr, '');
  });
});

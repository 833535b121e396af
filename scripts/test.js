#!/usr/bin/env node
'use strict';
// `npm test` runner (runs after the build).
//
// 1. finds redis-server on PATH and starts a private, throw-away instance on
//    a free port of 127.0.0.1 (no persistence, in a temp dir) — the Redis on
//    6379 is never touched;
// 2. runs the TypeScript check `npx tsc -p types-test/tsconfig.json --noEmit`
//    when types-test/tsconfig.json exists;
// 3. runs `node --test --test-concurrency=1 --test-timeout=60000 __test__/` with TEST_REDIS_URL /
//    TEST_REDIS_PORT set. Extra CLI args are passed through: options (e.g.
//    --test-name-pattern=x) go to node, other args replace `__test__/`
//    (e.g. `node scripts/test.js __test__/queue.test.js`);
// 4. runs the behaviour tests a second time on the embedded engine
//    (BULLRUSH_TEST_BACKEND=memory), leaving out the files that are about
//    Redis itself (interop with bullmq, outages, packaging);
// 5. stops redis-server in all cases (also on SIGINT/SIGTERM) and exits with
//    the test runner's exit code (non-zero too when the type check failed).
//
// BULLRUSH_TEST_BACKEND=redis|memory runs one pass only.
// BULLRUSH_TEST_IMPL=bullmq|bullmq5 in the environment runs the behaviour
// tests against the real BullMQ packages instead of bullrush (Redis pass only).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { findOnPath, freePort, ping } = require('./local-tools');

const ROOT = path.resolve(__dirname, '..');

// Tests of Redis itself: interop with bullmq, outages, packaging, module shape,
// and errors* (Redis's own failures: frozen, password-protected, ACL users).
const REDIS_ONLY_FILES = /(interop[^/]*|outage|package|esm|errors[^/]*)\.test\.js$/;

function allTestFiles() {
  const dir = path.join(ROOT, '__test__');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.test.js'))
    .map((f) => path.join('__test__', f));
}

function log(msg) {
  process.stderr.write(`[test] ${msg}\n`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let redisChild = null;
let testChild = null;
let tmpDir = null;

function stopRedisSync() {
  if (redisChild && redisChild.exitCode === null && redisChild.signalCode === null) {
    try {
      redisChild.kill('SIGTERM');
    } catch (_) {
      /* already gone */
    }
  }
  if (tmpDir) {
    try {
      fs.rmSync(tmpDir, { recursive: true, force: true });
    } catch (_) {
      /* ignore */
    }
    tmpDir = null;
  }
}

async function stopRedis() {
  const child = redisChild;
  if (!child || child.exitCode !== null || child.signalCode !== null) {
    stopRedisSync();
    return;
  }
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => {
    try {
      child.kill('SIGKILL');
    } catch (_) {
      /* ignore */
    }
  }, 3000);
  await exited;
  clearTimeout(t);
  stopRedisSync();
}

async function startRedis(redisBin) {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullrush-test-redis-'));
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await freePort();
    if (port === 6379) continue; // never the default instance
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    const child = spawn(redisBin, args, { cwd: tmpDir, stdio: ['ignore', 'pipe', 'pipe'] });
    redisChild = child;
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    let spawnError = null;
    child.on('error', (e) => (spawnError = e));

    const deadline = Date.now() + 10000;
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`could not start redis-server: ${spawnError.message}`);
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (await ping(port)) {
        // Keep draining its output so the pipe never fills up.
        return port;
      }
      await sleep(50);
    }
    log(`redis-server on port ${port} did not come up (attempt ${attempt}):\n${output.trim()}`);
    await stopRedis();
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullrush-test-redis-'));
  }
  throw new Error('could not start redis-server after 5 attempts');
}

function run(cmd, args, env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: 'inherit' });
    testChild = child;
    child.on('error', (e) => {
      log(`could not run ${cmd}: ${e.message}`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      testChild = null;
      resolve(code === null ? (signal ? 1 : 0) : code);
    });
  });
}

function onSignal(sig) {
  log(`${sig} received: stopping`);
  if (testChild) {
    try {
      testChild.kill(sig);
    } catch (_) {
      /* ignore */
    }
  }
  stopRedisSync();
  process.exit(sig === 'SIGINT' ? 130 : 143);
}

async function main() {
  const redisBin = findOnPath('redis-server');
  if (!redisBin) {
    process.stderr.write(
      'redis-server not found: install it (apt-get install redis-server) or put it on PATH; ' +
        'the tests start their own private instance on a free port.\n',
    );
    process.exit(1);
  }

  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('exit', stopRedisSync);

  let tscCode = 0;
  let testCode = 1;
  try {
    const port = await startRedis(redisBin);
    log(`redis-server ${redisBin} listening on 127.0.0.1:${port}`);
    const env = {
      ...process.env,
      TEST_REDIS_URL: `redis://127.0.0.1:${port}`,
      TEST_REDIS_PORT: String(port),
    };

    // Type check first, so the test runner's summary stays the last output.
    const tsconfig = path.join(ROOT, 'types-test', 'tsconfig.json');
    if (fs.existsSync(tsconfig)) {
      log('type check: npx tsc -p types-test/tsconfig.json --noEmit');
      tscCode = await run('npx', ['tsc', '-p', 'types-test/tsconfig.json', '--noEmit'], env);
      if (tscCode !== 0) log(`type check FAILED (exit ${tscCode})`);
    }

    const extra = process.argv.slice(2);
    const opts = extra.filter((a) => a.startsWith('-'));
    const files = extra.filter((a) => !a.startsWith('-'));
    // --test-timeout: a hung test fails after 60 s instead of stalling the run (override by passing one).
    const base = ['--test', '--test-concurrency=1', '--test-timeout=60000', ...opts];
    const only = process.env.BULLRUSH_TEST_BACKEND;
    testCode = 0;
    if (only !== 'memory') {
      log('pass 1: Redis backend');
      testCode = await run(process.execPath, [...base, ...(files.length ? files : ['__test__/'])], env);
    }
    const memoryFiles = (files.length ? files : allTestFiles()).filter((f) => !REDIS_ONLY_FILES.test(f));
    if (only !== 'redis' && !process.env.BULLRUSH_TEST_IMPL && memoryFiles.length > 0) {
      log('pass 2: embedded engine (BULLRUSH_TEST_BACKEND=memory)');
      const code = await run(process.execPath, [...base, ...memoryFiles], { ...env, BULLRUSH_TEST_BACKEND: 'memory' });
      if (testCode === 0) testCode = code;
    }
    if (tscCode !== 0) log(`type check failed earlier (exit ${tscCode})`);
  } catch (err) {
    log(err && err.message ? err.message : String(err));
    testCode = 1;
  } finally {
    await stopRedis();
  }
  process.exit(testCode !== 0 ? testCode : tscCode);
}

main();

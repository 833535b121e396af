'use strict';
// Shared helpers for the behaviour tests.
//
// The tests talk to a throw-away redis-server started by `npm test`
// (scripts/test.js), which exports TEST_REDIS_URL / TEST_REDIS_PORT.
// They never FLUSHALL: every test uses its own unique queue name, so they
// are also safe against a server somebody else started.
//
// BULLRUSH_TEST_IMPL=bullmq | bullmq5 runs the same tests against the real
// BullMQ packages (to validate the tests themselves); unset means bullrush.

const net = require('node:net');
const crypto = require('node:crypto');

function redisUrl() {
  const url = process.env.TEST_REDIS_URL;
  if (!url) {
    throw new Error(
      'TEST_REDIS_URL is not set: run the tests with `npm test` (or `node scripts/test.js`), ' +
        'which starts a private redis-server and sets it; never point the tests at a shared Redis',
    );
  }
  return url;
}

function redisHostPort() {
  const u = new URL(redisUrl());
  return { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) };
}

/**
 * The backend under test: 'redis' (the test server) or 'memory' (the
 * embedded engine, BULLRUSH_TEST_BACKEND=memory; bullrush only).
 */
function backendName() {
  return process.env.BULLRUSH_TEST_BACKEND === 'memory' && implName() === 'bullrush' ? 'memory' : 'redis';
}

/** The connection option for the backend under test. */
function connection() {
  return backendName() === 'memory' ? 'memory://' : redisHostPort();
}

/**
 * A `skip` value for tests of what only Redis has (other processes, its
 * keys, its connections): the reason on the memory backend, else false.
 */
function redisOnly(reason) {
  return backendName() === 'memory' ? `needs Redis: ${reason}` : false;
}

let counter = 0;
function uniqueQueueName(prefix = 'test') {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}-${crypto
    .randomBytes(3)
    .toString('hex')}`;
}

/** Which implementation is under test: 'bullrush' | 'bullmq' | 'bullmq5'. */
function implName() {
  const v = process.env.BULLRUSH_TEST_IMPL;
  if (v === 'bullmq' || v === 'bullmq5') return v;
  return 'bullrush';
}

function isBullrush() {
  return implName() === 'bullrush';
}

/** The module under test (same export surface as BullMQ). */
function impl() {
  switch (implName()) {
    case 'bullmq':
      return require('bullmq');
    case 'bullmq5':
      return require('bullmq5');
    default:
      return require('..');
  }
}

/** A plain ioredis client to the test server, for assertions. Close it (quit). */
function rawRedis() {
  const IORedis = require('ioredis');
  const { host, port } = redisHostPort();
  return new IORedis({ host, port, maxRetriesPerRequest: 3, lazyConnect: false });
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `predicate` (sync or async) until it returns a truthy value, which is
 * returned. Rejects after `timeoutMs` with `message`.
 */
async function waitFor(predicate, timeoutMs = 5000, message = 'condition', intervalMs = 20) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      const v = await predicate();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      const extra = lastErr ? ` (last error: ${lastErr.message})` : '';
      throw new Error(`waitFor timed out after ${timeoutMs} ms waiting for ${message}${extra}`);
    }
    await delay(intervalMs);
  }
}

/** Resolves with the args of the first `event` emitted by `emitter`, or rejects on timeout. */
function once(emitter, event, timeoutMs = 5000, filter = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.removeListener(event, handler);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for event '${event}'`));
    }, timeoutMs);
    function handler(...args) {
      if (!filter(...args)) return;
      clearTimeout(timer);
      emitter.removeListener(event, handler);
      resolve(args);
    }
    emitter.on(event, handler);
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on (at the time of the call). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const CLOSE_TIMEOUT_MS = 10000;

async function settleWithin(promise, ms, what) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => {
      const name = what && what.constructor ? what.constructor.name : typeof what;
      process.stderr.write(`# warning: ${name} close() still pending after ${ms} ms during cleanup\n`);
      resolve();
    }, ms);
  });
  try {
    await Promise.race([Promise.resolve(promise).catch(() => {}), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Collects closables and closes them in reverse order; errors are ignored so
 * that one failing close does not leave the others open.
 */
function closer() {
  const items = [];
  const firsts = [];
  return {
    add(x) {
      items.push(x);
      return x;
    },
    /** Runs fn before closing anything (e.g. to release a processor blocked on a gate). */
    first(fn) {
      firsts.push(fn);
      return fn;
    },
    /** A promise the processor can wait on; open() resolves it, and closeAll() opens it first. */
    gate() {
      let open;
      const promise = new Promise((r) => (open = r));
      firsts.push(() => open());
      return { promise, open };
    },
    async closeAll() {
      while (firsts.length) {
        try {
          await firsts.shift()();
        } catch (_) {
          /* ignore */
        }
      }
      while (items.length) {
        const x = items.pop();
        let p;
        try {
          if (typeof x === 'function') p = x();
          else if (x && typeof x.quit === 'function' && typeof x.close !== 'function') p = x.quit();
          else if (x && typeof x.close === 'function') p = x.close();
        } catch (_) {
          continue; // a synchronous throw from close(): nothing to wait for
        }
        // A close() that never settles must not hang the whole run.
        await settleWithin(p, CLOSE_TIMEOUT_MS, x);
      }
    },
  };
}

/**
 * closer() bound to a node:test context: everything added is closed (in
 * reverse order) when the test ends, pass or fail.
 */
function scope(t) {
  const c = closer();
  t.after(() => c.closeAll());
  return c;
}

/**
 * queue.getJobCounts(...types) restricted to `types`. BullMQ 5 adds a
 * 'paused' entry whenever 'waiting' is asked for (BullMQ 6 does not); an
 * extra 'paused' entry is tolerated but must be 0 (the queue is not paused).
 */
async function jobCounts(queue, ...types) {
  const counts = await queue.getJobCounts(...types);
  const out = {};
  for (const k of Object.keys(counts)) {
    if (types.includes(k)) out[k] = counts[k];
    else if (k === 'paused' && counts[k] === 0) continue;
    else out[k] = counts[k]; // unexpected key: let the caller's deepEqual show it
  }
  return out;
}

/** All keys of a queue (prefix "bull"), sorted, with the "bull:<name>:" part stripped. */
async function queueKeys(redis, queueName, prefix = 'bull') {
  const keys = await redis.keys(`${prefix}:${queueName}:*`);
  return keys.map((k) => k.slice(prefix.length + queueName.length + 2)).sort();
}

// Leak guard: node's test runner waits forever for a test file whose process
// stays alive. When every test of the file has ended and something (a Queue,
// Worker or client that close() did not fully release) still keeps the event
// loop alive after LEAK_GRACE_MS, fail the file instead of hanging the run.
const LEAK_GRACE_MS = 5000;
if (process.env.NODE_TEST_CONTEXT || process.execArgv.some((a) => a.startsWith('--test'))) {
  require('node:test').after(() => {
    setTimeout(() => {
      process.stderr.write(
        `# leak: ${process.argv[1]} still had open handles ${LEAK_GRACE_MS} ms after its last test ` +
          '(something was not closed, or close() did not release its sockets/timers); failing the file\n',
      );
      process.exit(1);
    }, LEAK_GRACE_MS).unref();
  });
}

module.exports = {
  redisUrl,
  connection,
  backendName,
  redisOnly,
  uniqueQueueName,
  impl,
  implName,
  isBullrush,
  rawRedis,
  waitFor,
  delay,
  once,
  freePort,
  closer,
  scope,
  queueKeys,
  jobCounts,
};

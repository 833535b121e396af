'use strict';
// Redis goes away mid-run and comes back on the same port: add() fails fast
// with RedisUnavailableError while it is down, the Worker reports the outage
// and resumes by itself afterwards.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./helpers');

const { Queue, Worker, RedisUnavailableError } = h.impl();

async function startRedis(port, dir) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  const probe = new Queue('probe', { connection: { host: '127.0.0.1', port }, commandTimeout: 500 });
  await h.waitFor(() => probe.waitUntilReady().then(() => true, () => false), 5000, 'redis up');
  await probe.close();
  return child;
}

function stopRedis(child) {
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGKILL');
  });
}

describe('Redis outage', { skip: h.isBullrush() ? false : 'bullrush error types' }, () => {
  it('add fails fast while Redis is down; the worker resumes when it returns', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullrush-outage-'));
    const port = await h.freePort();
    let redis = await startRedis(port, dir);
    const connection = { host: '127.0.0.1', port };
    const name = h.uniqueQueueName('outage');
    const c = h.scope(t);
    t.after(async () => {
      await stopRedis(redis);
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const queue = c.add(new Queue(name, { connection, commandTimeout: 1000 }));
    const processed = [];
    const errors = [];
    const worker = c.add(new Worker(name, async (job) => processed.push(job.data.n), { connection, drainDelay: 1 }));
    worker.on('error', (err) => errors.push(err));

    await queue.add('before', { n: 1 });
    await h.waitFor(() => processed.length === 1, 5000, 'first job');

    await stopRedis(redis);
    const t0 = Date.now();
    await assert.rejects(queue.add('during', { n: 2 }), (err) => {
      assert.ok(err instanceof RedisUnavailableError, `got ${err && err.name}: ${err && err.message}`);
      assert.equal(err.code, 'REDIS_UNAVAILABLE');
      return true;
    });
    assert.ok(Date.now() - t0 < 3000, `rejected after ${Date.now() - t0} ms`);
    await h.waitFor(() => errors.length > 0, 8000, 'worker error while Redis is down');

    redis = await startRedis(port, dir);
    await queue.add('after', { n: 3 });
    await h.waitFor(() => processed.includes(3), 10000, 'worker resumed after Redis returned');
    assert.deepEqual(processed, [1, 3]);
  });
});

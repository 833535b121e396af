'use strict';
// Crash safety: a worker process killed mid-job leaves its job locked until
// the lock expires; the stalled checker of another worker then recovers it.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const path = require('node:path');
const h = require('./helpers');

const { Queue, Worker } = h.impl();
const ROOT = path.resolve(__dirname, '..');

/** A worker in its own process that takes one job and hangs; resolves once it has. */
function crashingWorker(name) {
  const script = `
    const { Worker } = require(${JSON.stringify(ROOT)});
    new Worker(${JSON.stringify(name)}, async (job) => {
      console.log('started ' + job.id);
      await new Promise(() => {});
    }, { connection: process.env.TEST_REDIS_URL, lockDuration: 1000, skipStalledCheck: true });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const started = new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      const match = /started (\S+)/.exec(String(chunk));
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`worker process exited early (${code})`)));
  });
  return { child, started };
}

function kill(child) {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', resolve);
    child.kill('SIGKILL');
  });
}

async function crashMidJob(t) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('stalled');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  const job = await queue.add('survives', { n: 7 });
  const { child, started } = crashingWorker(name);
  assert.equal(await started, job.id);
  await kill(child);
  assert.equal(await queue.getJobState(job.id), 'active', 'the dead worker left it active');
  return { c, name, queue, job };
}

describe('stalled jobs', { skip: (h.isBullrush() ? false : 'runs bullrush in the child process') || h.redisOnly('worker processes share the queue through Redis') }, () => {
  it('a job whose worker was SIGKILLed is recovered and completed by another worker', async (t) => {
    const { c, name, queue, job } = await crashMidJob(t);
    const stalled = [];
    const worker = c.add(
      new Worker(name, async (j) => j.data.n * 6, { connection: h.connection(), stalledInterval: 300 }),
    );
    worker.on('stalled', (id, prev) => stalled.push([id, prev]));
    const [done] = await h.once(worker, 'completed', 15000);
    assert.equal(done.id, job.id);
    assert.deepEqual(stalled, [[job.id, 'active']]);
    const stored = await queue.getJob(job.id);
    assert.equal(stored.returnvalue, 42);
    assert.equal(stored.stalledCounter, 1);
    assert.deepEqual(await h.jobCounts(queue, 'active', 'waiting', 'completed'), { active: 0, waiting: 0, completed: 1 });
  });

  it('a job that stalled more than maxStalledCount fails with BullMQ\'s reason', async (t) => {
    const { c, name, queue, job } = await crashMidJob(t);
    let ran = false;
    const worker = c.add(
      new Worker(name, async () => { ran = true; }, { connection: h.connection(), stalledInterval: 300, maxStalledCount: 0 }),
    );
    const [failed, err] = await h.once(worker, 'failed', 15000);
    assert.equal(failed.id, job.id);
    assert.equal(err.message, 'job stalled more than allowable limit');
    assert.equal(ran, false, 'the processor is not run for a job marked to fail');
    assert.equal(await queue.getJobState(job.id), 'failed');
    assert.equal((await queue.getJob(job.id)).failedReason, 'job stalled more than allowable limit');
  });

  it('renews the locks of running jobs, and bullmq\'s stalled checker leaves them alone', async (t) => {
    const c = h.scope(t);
    const bullmq = require('bullmq');
    const name = h.uniqueQueueName('stalled-renew');
    const queue = c.add(new Queue(name, { connection: h.connection() }));
    const holder = c.add(
      new Worker(name, async () => { await h.delay(2500); return 'bullrush'; }, { connection: h.connection(), lockDuration: 800 }),
    );
    const renewals = [];
    holder.on('locksRenewed', (info) => renewals.push(info));
    const job = await queue.add('long', {});
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'active', 5000, 'active');
    const stalled = [];
    const checker = c.add(new bullmq.Worker(name, async () => 'bullmq', { connection: h.connection(), stalledInterval: 200 }));
    checker.on('stalled', (id) => stalled.push(id));
    const [done, result] = await h.once(holder, 'completed', 10000);
    assert.equal(done.id, job.id);
    assert.equal(result, 'bullrush');
    assert.deepEqual(stalled, []);
    assert.ok(renewals.length >= 2, `renewed ${renewals.length} times`);
    assert.deepEqual(renewals[0], { count: 1, jobIds: [job.id] });
  });

  it('does not take a job that a live bullmq worker holds', async (t) => {
    const c = h.scope(t);
    const bullmq = require('bullmq');
    const name = h.uniqueQueueName('stalled-interop');
    const queue = c.add(new Queue(name, { connection: h.connection() }));
    const holder = c.add(
      new bullmq.Worker(name, async () => { await h.delay(2500); return 'bullmq'; }, { connection: h.connection(), lockDuration: 800 }),
    );
    const job = await queue.add('long', {});
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'active', 5000, 'active');
    const stalled = [];
    const checker = c.add(new Worker(name, async () => 'bullrush', { connection: h.connection(), stalledInterval: 200 }));
    checker.on('stalled', (id) => stalled.push(id));
    const [done, result] = await h.once(holder, 'completed', 10000);
    assert.equal(done.id, job.id);
    assert.equal(result, 'bullmq');
    assert.deepEqual(stalled, []);
    assert.equal((await queue.getJob(job.id)).returnvalue, 'bullmq');
  });
});

describe('stalled jobs in one process', () => {
  it('a job left active by close(true) is recovered by another worker once its lock expires', async (t) => {
    const c = h.scope(t);
    const name = h.uniqueQueueName('abandoned');
    const queue = c.add(new Queue(name, { connection: h.connection() }));
    const opts = { connection: h.connection(), lockDuration: 500, stalledInterval: 300 };
    const first = new Worker(name, () => new Promise(() => {}), { ...opts, skipStalledCheck: true });
    const job = await queue.add('survives', { n: 7 });
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'active', 5000, 'taken by the first worker');
    await first.close(true);
    assert.equal(await queue.getJobState(job.id), 'active', 'the abandoned job stays active');
    const second = c.add(new Worker(name, async (j) => j.data.n * 6, opts));
    const stalled = h.once(second, 'stalled', 5000);
    const [done, result] = await h.once(second, 'completed', 8000);
    assert.deepEqual((await stalled)[0], job.id);
    assert.equal(done.id, job.id);
    assert.equal(result, 42);
    assert.equal(await queue.getActiveCount(), 0);
  });
});

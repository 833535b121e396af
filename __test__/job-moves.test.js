'use strict';
// Moving jobs: moveToDelayed + DelayedError, changeDelay, changePriority,
// promote, updateData, extendLock, clearLogs; Queue#clean, #retryJobs,
// #promoteJobs, #getCountsPerPriority; Worker#rateLimit + RateLimitError.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const { Queue, Worker, DelayedError } = h.impl();

function setup(t) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('moves');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  const worker = (processor, opts = {}) => c.add(new Worker(name, processor, { connection: h.connection(), ...opts }));
  return { c, name, queue, worker };
}

describe('Job moves', () => {
  it('moveToDelayed + DelayedError puts the job back for later without counting an attempt', async (t) => {
    const { queue, worker } = setup(t);
    let calls = 0;
    const failed = [];
    const w = worker(async (job, token) => {
      calls += 1;
      if (calls === 1) {
        await job.moveToDelayed(Date.now() + 300, token);
        throw new DelayedError();
      }
      return 'later';
    });
    w.on('failed', (job, err) => failed.push(err));
    const job = await queue.add('x', {});
    const [done, result] = await h.once(w, 'completed', 8000);
    assert.equal(done.id, job.id);
    assert.equal(result, 'later');
    assert.equal(calls, 2);
    assert.deepEqual(failed, []);
    assert.equal((await queue.getJob(job.id)).attemptsMade, 1);
  });

  it('changeDelay, promote and their state errors', async (t) => {
    const { queue } = setup(t);
    const job = await queue.add('d', {}, { delay: 60000 });
    await job.changeDelay(120000);
    assert.equal(await job.getState(), 'delayed');
    await job.promote();
    assert.equal(await job.getState(), 'waiting');
    await assert.rejects(job.promote(), /is not in the delayed state/);
    await assert.rejects(job.changeDelay(10), /is not in the delayed state/);
  });

  it('changePriority reorders waiting jobs', async (t) => {
    const { queue, worker } = setup(t);
    const jobs = [];
    for (const p of [5, 6, 7]) jobs.push(await queue.add(`p${p}`, {}, { priority: p }));
    await jobs[2].changePriority({ priority: 1 });
    const order = [];
    const w = worker(async (job) => order.push(job.name));
    await h.waitFor(() => order.length === 3, 8000, 'all processed');
    assert.deepEqual(order, ['p7', 'p5', 'p6']);
    assert.equal((await queue.getJob(jobs[2].id)).priority, 1);
    await w.close();
  });

  it('updateData, extendLock and clearLogs', async (t) => {
    const { queue, worker } = setup(t);
    const job = await queue.add('u', { v: 1 });
    await job.updateData({ v: 2 });
    assert.deepEqual((await queue.getJob(job.id)).data, { v: 2 });
    const lockResults = [];
    const w = worker(async (j, token) => {
      lockResults.push(await j.extendLock(token, 10000), await j.extendLock('not-the-token', 10000));
      await j.log('a');
      await j.log('b');
      await j.log('c');
      await j.clearLogs(1);
    });
    await h.once(w, 'completed', 8000);
    await w.close();
    assert.deepEqual(lockResults, [1, 0]);
    const logs = await queue.getJobLogs(job.id);
    assert.deepEqual([logs.logs, logs.count], [['c'], 1]);
    const gone = await queue.add('gone', {});
    await gone.remove();
    await assert.rejects(gone.updateData({}), /Missing key for job/);
  });
});

describe('Queue bulk moves', () => {
  it('clean removes finished jobs older than the grace period', async (t) => {
    const { queue, worker } = setup(t);
    const w = worker(async () => 'ok');
    await queue.addBulk([1, 2, 3].map((n) => ({ name: 'c', data: { n } })));
    await h.waitFor(async () => (await queue.getCompletedCount()) === 3, 8000, 'completed');
    await w.close();
    assert.deepEqual(await queue.clean(60000, 0, 'completed'), []);
    await h.delay(20);
    const removed = await queue.clean(10, 0, 'completed');
    assert.equal(removed.length, 3);
    assert.equal(await queue.getCompletedCount(), 0);
  });

  it('retryJobs brings failed jobs back; promoteJobs moves delayed ones to wait', async (t) => {
    const { queue, worker } = setup(t);
    let fail = true;
    const w = worker(async () => {
      if (fail) throw new Error('down');
      return 'up';
    });
    await queue.addBulk([1, 2].map((n) => ({ name: 'r', data: { n } })));
    await h.waitFor(async () => (await queue.getFailedCount()) === 2, 8000, 'failed');
    fail = false;
    await queue.retryJobs({ state: 'failed' });
    await h.waitFor(async () => (await queue.getCompletedCount()) === 2, 8000, 'retried and completed');
    await w.close();
    await queue.add('later', {}, { delay: 60000 });
    await queue.promoteJobs();
    assert.equal(await queue.getDelayedCount(), 0);
    assert.equal(await queue.getWaitingCount(), 1);
  });

  it('getCountsPerPriority', async (t) => {
    const { queue } = setup(t);
    await queue.add('a', {});
    await queue.add('b', {}, { priority: 1 });
    await queue.add('c', {}, { priority: 1 });
    await queue.add('d', {}, { priority: 3 });
    assert.deepEqual(await queue.getCountsPerPriority([0, 1, 2, 3]), { 0: 1, 1: 2, 2: 0, 3: 1 });
  });
});

describe('Worker rate limiting', () => {
  it('rateLimit + RateLimitError puts the job back without failing it', async (t) => {
    const { queue, worker } = setup(t);
    let calls = 0;
    const failed = [];
    let w;
    const started = [];
    w = worker(async () => {
      calls += 1;
      started.push(Date.now());
      if (calls === 1) {
        await w.rateLimit(400);
        throw Worker.RateLimitError();
      }
      return 'through';
    }, { limiter: { max: 10, duration: 1000 } });
    w.on('failed', (job, err) => failed.push(err));
    const job = await queue.add('limited', {});
    const [done, result] = await h.once(w, 'completed', 8000);
    assert.equal(done.id, job.id);
    assert.equal(result, 'through');
    assert.deepEqual(failed, []);
    assert.ok(started[1] - started[0] >= 350, `retried after ${started[1] - started[0]} ms`);
    assert.equal((await queue.getJob(job.id)).attemptsMade, 1);
  });
});

'use strict';
// Job objects: fields, state helpers, remove, retry, toJSON, Job.fromId.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const { Queue, Worker, Job } = h.impl();

function setup(t) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('job');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  const worker = (processor, opts = {}) =>
    c.add(new Worker(name, processor, { connection: h.connection(), ...opts }));
  return { c, name, queue, worker };
}

describe('Job fields', () => {
  it('a new waiting job has the documented defaults', async (t) => {
    const { queue, name } = setup(t);
    const added = await queue.add('fresh', { k: 'v' });
    const job = await queue.getJob(added.id);
    assert.equal(job.id, added.id);
    assert.equal(job.name, 'fresh');
    assert.deepEqual(job.data, { k: 'v' });
    assert.equal(typeof job.opts, 'object');
    assert.equal(job.progress, 0);
    assert.equal(job.attemptsMade, 0);
    assert.equal(job.attemptsStarted, 0);
    assert.equal(job.returnvalue, null);
    assert.equal(job.failedReason, undefined);
    assert.deepEqual(job.stacktrace, []);
    assert.equal(job.processedOn, undefined);
    assert.equal(job.finishedOn, undefined);
    assert.equal(job.delay, 0);
    assert.equal(job.priority, 0);
    assert.equal(job.queueName, name);
    assert.equal(job.timestamp, added.timestamp);
  });

  it('delay and priority are exposed on the job', async (t) => {
    const { queue } = setup(t);
    const d = await queue.getJob((await queue.add('d', {}, { delay: 30000 })).id);
    assert.equal(d.delay, 30000);
    assert.equal(d.opts.delay, 30000);
    const p = await queue.getJob((await queue.add('p', {}, { priority: 9 })).id);
    assert.equal(p.priority, 9);
    assert.equal(p.opts.priority, 9);
  });

  it('a completed job has returnvalue, processedOn, finishedOn, attempts and progress', async (t) => {
    const { queue, worker } = setup(t);
    worker(async (job) => {
      await job.updateProgress(100);
      return { answer: 42 };
    });
    const added = await queue.add('c', { q: 'life' });
    await h.waitFor(async () => (await queue.getJobState(added.id)) === 'completed', 5000, 'completed');
    const job = await queue.getJob(added.id);
    assert.deepEqual(job.returnvalue, { answer: 42 });
    assert.equal(job.progress, 100);
    assert.equal(job.attemptsMade, 1);
    assert.equal(job.attemptsStarted, 1);
    assert.equal(typeof job.processedOn, 'number');
    assert.equal(typeof job.finishedOn, 'number');
    assert.ok(job.timestamp <= job.processedOn && job.processedOn <= job.finishedOn);
    assert.equal(job.failedReason, undefined);
  });
});

describe('Job state helpers', () => {
  it('getState and isX follow the job through waiting, active, completed', async (t) => {
    const { c, queue, worker } = setup(t);
    const gate = c.gate();
    const job = await queue.add('x', {});
    assert.equal(await job.getState(), 'waiting');
    assert.equal(await job.isWaiting(), true);
    assert.equal(await job.isActive(), false);
    assert.equal(await job.isCompleted(), false);
    worker(() => gate.promise.then(() => 'ok'));
    await h.waitFor(() => job.isActive(), 5000, 'active');
    assert.equal(await job.getState(), 'active');
    assert.equal(await job.isWaiting(), false);
    gate.open();
    await h.waitFor(() => job.isCompleted(), 5000, 'completed');
    assert.equal(await job.getState(), 'completed');
    assert.equal(await job.isFailed(), false);
    assert.equal(await job.isActive(), false);
  });

  it('isDelayed and isFailed', async (t) => {
    const { queue, worker } = setup(t);
    const d = await queue.add('d', {}, { delay: 60000 });
    assert.equal(await d.isDelayed(), true);
    assert.equal(await d.getState(), 'delayed');
    assert.equal(await d.isWaiting(), false);
    worker(async () => {
      throw new Error('nope');
    });
    const f = await queue.add('f', {});
    await h.waitFor(() => f.isFailed(), 5000, 'failed');
    assert.equal(await f.getState(), 'failed');
    assert.equal(await f.isCompleted(), false);
    assert.equal(await f.isDelayed(), false);
  });

  it('getState of a prioritized job', async (t) => {
    const { queue } = setup(t);
    const p = await queue.add('p', {}, { priority: 4 });
    assert.equal(await p.getState(), 'prioritized');
    assert.equal(await p.isWaiting(), false);
  });
});

describe('Job.remove and Job.retry', () => {
  it('remove() deletes a waiting job and its hash', async (t) => {
    const { c, name, queue } = setup(t);
    const redis = c.add(h.rawRedis());
    const job = await queue.add('x', {});
    const other = await queue.add('y', {});
    await job.remove();
    assert.equal(await queue.getJob(job.id), undefined);
    assert.equal(await redis.exists(`bull:${name}:${job.id}`), 0);
    assert.equal(await job.getState(), 'unknown');
    assert.deepEqual((await queue.getWaiting()).map((j) => j.id), [other.id]);
  });

  it('remove() deletes a completed and a delayed job', async (t) => {
    const { queue, worker } = setup(t);
    const d = await queue.add('d', {}, { delay: 60000 });
    await d.remove();
    assert.equal(await queue.getDelayedCount(), 0);
    worker(async () => 'ok');
    const done = await queue.add('c', {});
    await h.waitFor(() => done.isCompleted(), 5000, 'completed');
    const stored = await queue.getJob(done.id);
    await stored.remove();
    assert.equal(await queue.getCompletedCount(), 0);
    assert.equal(await queue.getJob(done.id), undefined);
  });

  it('retry() moves a failed job back to wait and it gets processed', async (t) => {
    const { queue, worker } = setup(t);
    let calls = 0;
    const w = worker(
      async () => {
        calls += 1;
        if (calls === 1) throw new Error('first time fails');
        return 'second time works';
      },
      { autorun: true },
    );
    const job = await queue.add('x', {});
    await h.waitFor(() => job.isFailed(), 5000, 'failed');
    await w.pause();
    const failed = await queue.getJob(job.id);
    assert.equal(failed.failedReason, 'first time fails');
    await failed.retry();
    assert.equal(await queue.getJobState(job.id), 'waiting');
    assert.equal(await queue.getFailedCount(), 0);
    w.resume();
    await h.waitFor(() => job.isCompleted(), 5000, 'completed after retry');
    assert.equal(calls, 2);
    assert.equal((await queue.getJob(job.id)).returnvalue, 'second time works');
  });
});

describe('Job.toJSON and Job.fromId', () => {
  it('toJSON returns the plain job fields', async (t) => {
    const { name, queue } = setup(t);
    const job = await queue.getJob((await queue.add('j', { a: [1, 2] }, { attempts: 2, delay: 5000 })).id);
    const json = job.toJSON();
    assert.equal(json.id, job.id);
    assert.equal(json.name, 'j');
    assert.deepEqual(json.data, { a: [1, 2] });
    assert.equal(json.opts.attempts, 2);
    assert.equal(json.opts.delay, 5000);
    assert.equal(json.progress, 0);
    assert.equal(json.attemptsMade, 0);
    assert.equal(json.delay, 5000);
    assert.equal(json.priority, 0);
    assert.equal(json.timestamp, job.timestamp);
    assert.equal(json.returnvalue, null);
    assert.deepEqual(json.stacktrace, []);
    assert.equal(json.queueQualifiedName, `bull:${name}`);
    // it is JSON-serialisable and round-trips
    const round = JSON.parse(JSON.stringify(job));
    assert.deepEqual(round.data, { a: [1, 2] });
    assert.equal(round.id, job.id);
  });

  it('Job.fromId loads a job, and resolves undefined for an unknown id', async (t) => {
    const { queue } = setup(t);
    const added = await queue.add('f', { x: 'y' }, { priority: 2 });
    const job = await Job.fromId(queue, added.id);
    assert.ok(job instanceof Job);
    assert.equal(job.id, added.id);
    assert.equal(job.name, 'f');
    assert.deepEqual(job.data, { x: 'y' });
    assert.equal(job.priority, 2);
    assert.equal(await job.getState(), 'prioritized');
    assert.equal(await Job.fromId(queue, 'missing'), undefined);
  });

  it('jobs returned by Queue.add and getters are Job instances', async (t) => {
    const { queue } = setup(t);
    const added = await queue.add('i', {});
    assert.ok(added instanceof Job);
    assert.ok((await queue.getJob(added.id)) instanceof Job);
    assert.ok((await queue.getWaiting())[0] instanceof Job);
  });
});

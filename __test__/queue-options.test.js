'use strict';
// Job options given to Queue.add: defaultJobOptions, delay, priority, lifo,
// removeOnComplete / removeOnFail, timestamp.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const { Queue, Worker } = h.impl();

function setup(t, queueOpts = {}) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('qopts');
  const queue = c.add(new Queue(name, { connection: h.connection(), ...queueOpts }));
  const worker = (processor, opts = {}) =>
    c.add(new Worker(name, processor, { connection: h.connection(), ...opts }));
  return { c, name, queue, worker };
}

/** Starts a concurrency-1 worker recording job names in processing order. */
function recorder(worker) {
  const order = [];
  const w = worker(async (job) => {
    order.push(job.name);
    if (job.data && job.data.fail) throw new Error(`fail ${job.name}`);
    return job.name;
  });
  return { order, w };
}

describe('defaultJobOptions', () => {
  it('are applied to every added job and can be overridden per job', async (t) => {
    const { queue } = setup(t, { defaultJobOptions: { attempts: 4, removeOnComplete: 10, priority: 7 } });
    const a = await queue.add('a', {});
    assert.equal(a.opts.attempts, 4);
    assert.equal(a.opts.removeOnComplete, 10);
    assert.equal(a.priority, 7);
    const b = await queue.add('b', {}, { attempts: 2, priority: 1 });
    assert.equal(b.opts.attempts, 2);
    assert.equal(b.opts.removeOnComplete, 10);
    assert.equal(b.priority, 1);
    const stored = await queue.getJob(a.id);
    assert.equal(stored.opts.attempts, 4);
    assert.equal(await queue.getJobState(a.id), 'prioritized');
  });

  it('defaultJobOptions.attempts drives retries', async (t) => {
    const { queue, worker } = setup(t, { defaultJobOptions: { attempts: 2 } });
    let calls = 0;
    worker(async () => {
      calls += 1;
      throw new Error('always');
    });
    const job = await queue.add('x', {});
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'failed', 5000, 'failed');
    assert.equal(calls, 2);
    assert.equal((await queue.getJob(job.id)).attemptsMade, 2);
  });
});

describe('delay', () => {
  it('a delayed job is delayed, then processed after about the delay', async (t) => {
    const { queue, worker } = setup(t);
    const processedAt = [];
    worker(async () => {
      processedAt.push(Date.now());
      return 'done';
    });
    const added = Date.now();
    const job = await queue.add('later', { x: 1 }, { delay: 700 });
    assert.equal(job.delay, 700);
    assert.equal(job.opts.delay, 700);
    assert.equal(await queue.getJobState(job.id), 'delayed');
    assert.equal(await queue.getDelayedCount(), 1);
    assert.equal(await queue.getWaitingCount(), 0);
    await h.delay(300);
    assert.equal(processedAt.length, 0, 'not processed before the delay');
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'completed', 5000, 'completed');
    const elapsed = processedAt[0] - added;
    assert.ok(elapsed >= 650, `processed too early: ${elapsed} ms`);
    assert.ok(elapsed < 3000, `processed too late: ${elapsed} ms`);
    const done = await queue.getJob(job.id);
    assert.equal(done.returnvalue, 'done');
    assert.ok(done.processedOn - done.timestamp >= 650);
  });
});

describe('priority', () => {
  it('non-prioritized jobs first (FIFO), then lower priority number first, FIFO within a priority', async (t) => {
    const { queue, worker } = setup(t);
    await queue.add('a', {});
    await queue.add('b3', {}, { priority: 3 });
    await queue.add('c1', {}, { priority: 1 });
    await queue.add('d2', {}, { priority: 2 });
    await queue.add('e', {}, { priority: 0 });
    await queue.add('f1', {}, { priority: 1 });
    await queue.add('g', {});
    const b3 = (await queue.getPrioritized()).find((j) => j.name === 'b3');
    assert.equal(b3.priority, 3);
    assert.equal(await queue.getPrioritizedCount(), 4);
    assert.equal(await queue.getWaitingCount(), 3);
    const { order } = recorder(worker);
    await h.waitFor(() => order.length === 7, 5000, 'all processed');
    assert.deepEqual(order, ['a', 'e', 'g', 'c1', 'f1', 'd2', 'b3']);
  });
});

describe('lifo', () => {
  it('a lifo job goes to the head of the wait list', async (t) => {
    const { queue, worker } = setup(t);
    await queue.add('a', {});
    await queue.add('b', {});
    await queue.add('c', {}, { lifo: true });
    await queue.add('d', {}, { lifo: true });
    assert.deepEqual(
      (await queue.getWaiting()).map((j) => j.name),
      ['d', 'c', 'a', 'b'],
      'getWaiting lists in processing order',
    );
    const { order } = recorder(worker);
    await h.waitFor(() => order.length === 4, 5000, 'all processed');
    assert.deepEqual(order, ['d', 'c', 'a', 'b']);
  });
});

describe('removeOnComplete / removeOnFail', () => {
  it('removeOnComplete: true deletes the job when it completes', async (t) => {
    const { c, name, queue, worker } = setup(t);
    const redis = c.add(h.rawRedis());
    const { order } = recorder(worker);
    const job = await queue.add('x', {}, { removeOnComplete: true });
    const kept = await queue.add('y', {});
    await h.waitFor(() => order.length === 2, 5000, 'processed');
    await h.waitFor(async () => (await queue.getJobState(kept.id)) === 'completed', 5000, 'y completed');
    assert.equal(await queue.getJob(job.id), undefined);
    assert.equal(await redis.exists(`bull:${name}:${job.id}`), 0);
    assert.deepEqual((await queue.getCompleted()).map((j) => j.id), [kept.id]);
  });

  it('removeOnComplete: N keeps only the newest N completed jobs', async (t) => {
    const { queue, worker } = setup(t);
    const { order } = recorder(worker);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await queue.add(`j${i}`, {}, { removeOnComplete: 2 })).id);
    await h.waitFor(() => order.length === 5, 5000, 'processed');
    await h.waitFor(async () => (await queue.getActiveCount()) === 0, 5000, 'idle');
    assert.equal(await queue.getCompletedCount(), 2);
    assert.deepEqual((await queue.getCompleted()).map((j) => j.id).sort(), [ids[3], ids[4]].sort());
    assert.equal(await queue.getJob(ids[0]), undefined);
  });

  it('removeOnComplete: {age, count} removes completed jobs older than age seconds', async (t) => {
    const { queue, worker } = setup(t);
    const { order } = recorder(worker);
    const first = await queue.add('old', {}, { removeOnComplete: { age: 1, count: 100 } });
    await h.waitFor(async () => (await queue.getJobState(first.id)) === 'completed', 5000, 'first completed');
    await h.delay(1300);
    const second = await queue.add('new', {}, { removeOnComplete: { age: 1, count: 100 } });
    await h.waitFor(() => order.length === 2, 5000, 'second processed');
    await h.waitFor(async () => (await queue.getJobState(second.id)) === 'completed', 5000, 'second completed');
    assert.equal(await queue.getJob(first.id), undefined, 'older than age: removed');
    assert.ok(await queue.getJob(second.id), 'fresh job kept');
  });

  it('removeOnComplete: {count} keeps that many', async (t) => {
    const { queue, worker } = setup(t);
    const { order } = recorder(worker);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await queue.add(`j${i}`, {}, { removeOnComplete: { count: 1 } })).id);
    await h.waitFor(() => order.length === 3, 5000, 'processed');
    await h.waitFor(async () => (await queue.getJobState(ids[2])) === 'completed', 5000, 'last completed');
    assert.deepEqual((await queue.getCompleted()).map((j) => j.id), [ids[2]]);
  });

  it('removeOnFail: true deletes a failed job; removeOnFail: N keeps N', async (t) => {
    const { queue, worker } = setup(t);
    const { order } = recorder(worker);
    const gone = await queue.add('gone', { fail: true }, { removeOnFail: true });
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await queue.add(`f${i}`, { fail: true }, { removeOnFail: 3 })).id);
    await h.waitFor(() => order.length === 5, 5000, 'processed');
    await h.waitFor(async () => (await queue.getJobState(ids[3])) === 'failed', 5000, 'last failed');
    assert.equal(await queue.getJob(gone.id), undefined);
    assert.equal(await queue.getFailedCount(), 3);
    assert.deepEqual((await queue.getFailed()).map((j) => j.id).sort(), ids.slice(1).sort());
  });

  it('removeOnFail: {age, count} keeps count newest failed jobs', async (t) => {
    const { queue, worker } = setup(t);
    const { order } = recorder(worker);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await queue.add(`f${i}`, { fail: true }, { removeOnFail: { age: 3600, count: 2 } })).id);
    await h.waitFor(() => order.length === 3, 5000, 'processed');
    await h.waitFor(async () => (await queue.getJobState(ids[2])) === 'failed', 5000, 'last failed');
    assert.equal(await queue.getFailedCount(), 2);
    assert.equal(await queue.getJob(ids[0]), undefined);
  });
});

describe('timestamp option', () => {
  it('opts.timestamp becomes the job timestamp', async (t) => {
    const { queue } = setup(t);
    const ts = Date.now() - 3600 * 1000;
    const job = await queue.add('old', {}, { timestamp: ts });
    assert.equal(job.timestamp, ts);
    const stored = await queue.getJob(job.id);
    assert.equal(stored.timestamp, ts);
  });
});

describe('events stream length', () => {
  it('streams.events.maxLen caps the events stream', { skip: h.redisOnly('reads the stream length from Redis') }, async (t) => {
    const c = h.scope(t);
    const name = h.uniqueQueueName('maxlen');
    const queue = c.add(new Queue(name, { connection: h.connection(), streams: { events: { maxLen: 50 } } }));
    const redis = c.add(h.rawRedis());
    await h.delay(200); // BullMQ writes the cap a moment after construction
    await queue.addBulk(Array.from({ length: 500 }, (_, i) => ({ name: 'e', data: { i } })));
    assert.equal(await redis.hget(`bull:${name}:meta`, 'opts.maxLenEvents'), '50');
    const length = await redis.xlen(`bull:${name}:events`);
    assert.ok(length < 300, `events stream has ${length} entries for 1000 written`);
  });
});

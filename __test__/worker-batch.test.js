'use strict';
// The Redis worker finishes and starts jobs in batches: one script call reads
// all locks, deletes keys and takes the next jobs for many jobs at once.
// These tests put jobs that need a different answer into the same batch.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const { Queue, Worker } = h.impl();

function setup(t) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('batch');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  const worker = (processor, opts) =>
    c.add(new Worker(name, processor, { connection: h.connection(), ...opts }));
  return { c, name, queue, worker, redis: c.add(h.rawRedis()) };
}

/** A processor whose jobs all wait until `count` of them have started. */
function gate(count) {
  const started = [];
  let open;
  const opened = new Promise((resolve) => { open = resolve; });
  const processor = async (job) => {
    started.push(job.name);
    if (started.length === count) open();
    await opened;
    return job.name;
  };
  return { started, processor };
}

describe('batched finish and fetch (Redis)', { skip: h.redisOnly('looks at keys in Redis') }, () => {
  it('a job with pending children is refused; the rest of its batch completes', async (t) => {
    const { queue, worker, redis, name } = setup(t);
    const jobs = await queue.addBulk(['a', 'b', 'c', 'd'].map((n) => ({ name: n, data: {} })));
    const blocked = jobs[2];
    // What BullMQ's FlowProducer leaves on a parent whose child has not finished.
    await redis.sadd(`bull:${name}:${blocked.id}:dependencies`, `bull:${name}-child:1`);
    const { processor } = gate(4);
    const w = worker(processor, { concurrency: 4 });
    const errors = [];
    w.on('error', (err) => errors.push(err.message));
    await h.waitFor(async () => (await queue.getCompletedCount()) === 3 && errors.length === 1, 5000, 'three completed, one refused');
    assert.match(errors[0], new RegExp(`Job ${blocked.id} has pending dependencies`));
    const completed = (await queue.getCompleted()).map((j) => j.name).sort();
    assert.deepEqual(completed, ['a', 'b', 'd']);
    assert.equal(await queue.getJobState(blocked.id), 'active');
  });

  it('one fetch takes waiting jobs first, then prioritized ones, in order', async (t) => {
    const { queue, worker, redis, name } = setup(t);
    await queue.add('a', {});
    await queue.add('p2', {}, { priority: 2 });
    await queue.add('p1', {}, { priority: 1 });
    await queue.add('b', {});
    const { started, processor } = gate(4);
    worker(processor, { concurrency: 10 });
    await h.waitFor(async () => (await queue.getCompletedCount()) === 4, 5000, 'all completed');
    assert.deepEqual(started, ['a', 'b', 'p1', 'p2']);
    assert.equal(await redis.exists(`bull:${name}:pc`), 0, 'priority counter reset once both are empty');
    assert.equal(await redis.llen(`bull:${name}:active`), 0);
  });

  it('markers that old BullMQ versions pushed into wait are dropped, not started', async (t) => {
    const { queue, worker, redis, name } = setup(t);
    await queue.addBulk(['a', 'b'].map((n) => ({ name: n, data: {} })));
    // Workers pop from the right: the marker comes first.
    await redis.rpush(`bull:${name}:wait`, '0:1');
    const { started, processor } = gate(2);
    worker(processor, { concurrency: 5 });
    await h.waitFor(async () => (await queue.getCompletedCount()) === 2, 5000, 'both completed');
    assert.deepEqual(started, ['a', 'b']);
    assert.deepEqual(await redis.lrange(`bull:${name}:active`, 0, -1), []);
    assert.deepEqual(await redis.lrange(`bull:${name}:wait`, 0, -1), []);
  });

  it('a job whose name holds a NUL byte reaches the processor intact', async (t) => {
    const { queue, worker } = setup(t);
    // Started jobs travel as one NUL-joined string; this one is read again.
    await queue.addBulk([{ name: 'a\u0000b', data: { n: 1 } }, { name: 'plain', data: { n: 2 } }]);
    const seen = [];
    worker(async (job) => { seen.push([job.name, job.data.n]); });
    await h.waitFor(async () => (await queue.getCompletedCount()) === 2, 5000, 'both completed');
    assert.deepEqual(seen.sort(), [['a\u0000b', 1], ['plain', 2]]);
  });

  it('a marker taking a slot of the fetch does not let a prioritized job jump the wait list', async (t) => {
    const { queue, worker, redis, name } = setup(t);
    await queue.addBulk(['a', 'b'].map((n) => ({ name: n, data: {} })));
    await queue.add('p', {}, { priority: 1 });
    await redis.rpush(`bull:${name}:wait`, '0:1');
    const started = [];
    worker(async (job) => { started.push(job.name); }, { concurrency: 2 });
    await h.waitFor(async () => (await queue.getCompletedCount()) === 3, 5000, 'all completed');
    assert.deepEqual(started, ['a', 'b', 'p']);
  });

  it('locks of a finished batch are released and removed jobs leave no keys', async (t) => {
    const { queue, worker, redis, name } = setup(t);
    const jobs = await queue.addBulk([1, 2, 3, 4, 5, 6].map((n) => ({
      name: `j${n}`, data: { n }, opts: { removeOnComplete: n % 2 === 0 },
    })));
    const { processor } = gate(6);
    worker(processor, { concurrency: 6 });
    await h.waitFor(async () => (await queue.getCompletedCount()) === 3, 5000, 'three kept');
    await h.waitFor(async () => (await redis.keys(`bull:${name}:*:lock`)).length === 0, 2000, 'locks released');
    for (const job of jobs) {
      assert.equal(await redis.exists(`bull:${name}:${job.id}`), job.data.n % 2 === 0 ? 0 : 1, `job ${job.name}`);
    }
  });
});

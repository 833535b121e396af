'use strict';
// Queue API: add / ids / getters / counts / states / pause / drain /
// obliterate / remove / lifecycle. Job options (delay, priority, lifo,
// removeOn*, timestamp, defaultJobOptions) are in queue-options.test.js.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const { Queue, Worker } = h.impl();

function setup(t, queueOpts = {}) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('queue');
  const queue = c.add(new Queue(name, { connection: h.connection(), ...queueOpts }));
  const worker = (processor, opts = {}) =>
    c.add(new Worker(name, processor, { connection: h.connection(), ...opts }));
  return { c, name, queue, worker };
}

describe('Queue.add', () => {
  it('returns a Job with id, name, data, opts and timestamp', async (t) => {
    const { queue, name } = setup(t);
    const before = Date.now();
    const job = await queue.add('send-email', { to: 'a@b.c', n: 1 }, { attempts: 2 });
    const after = Date.now();
    assert.equal(job.id, '1');
    assert.equal(job.name, 'send-email');
    assert.deepEqual(job.data, { to: 'a@b.c', n: 1 });
    assert.equal(job.opts.attempts, 2);
    assert.equal(typeof job.timestamp, 'number');
    assert.ok(job.timestamp >= before - 5 && job.timestamp <= after + 5, `timestamp ${job.timestamp}`);
    assert.equal(job.queueName, name);
  });

  it('scripts flushed from Redis (SCRIPT FLUSH, a restart) are loaded again', { skip: h.redisOnly('flushes Redis\'s script cache') }, async (t) => {
    const { queue, worker, c } = setup(t);
    const redis = c.add(h.rawRedis());
    await queue.add('before', {});
    await redis.script('FLUSH');
    const job = await queue.add('after', { n: 1 });
    assert.equal(job.id, '2');
    await redis.script('FLUSH');
    const done = new Promise((resolve) => worker(async (j) => j.name).on('completed', (j) => j.name === 'after' && resolve()));
    await done;
    assert.equal(await queue.getCompletedCount(), 2);
  });

  it('auto ids are increasing decimal strings "1","2","3"', async (t) => {
    const { queue } = setup(t);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await queue.add('n', { i })).id);
    assert.deepEqual(ids, ['1', '2', '3']);
  });

  it('custom jobId is used; adding the same jobId twice keeps the first job', async (t) => {
    const { queue } = setup(t);
    const first = await queue.add('n', { v: 1 }, { jobId: 'my-job' });
    assert.equal(first.id, 'my-job');
    const second = await queue.add('n', { v: 2 }, { jobId: 'my-job' });
    assert.equal(second.id, 'my-job');
    assert.equal(await queue.count(), 1);
    assert.equal(await queue.getWaitingCount(), 1);
    const stored = await queue.getJob('my-job');
    assert.deepEqual(stored.data, { v: 1 }, 'the duplicate must not overwrite the stored job');
    // BullMQ still consumes an id from the counter for custom ids.
    const auto = await queue.add('n', {});
    assert.equal(auto.id, '3');
  });

  it('addBulk adds all jobs in order and returns them', async (t) => {
    const { queue } = setup(t);
    const jobs = await queue.addBulk([
      { name: 'a', data: { i: 1 } },
      { name: 'b', data: { i: 2 }, opts: { jobId: 'custom-b' } },
      { name: 'c', data: { i: 3 }, opts: { delay: 60000 } },
    ]);
    assert.deepEqual(
      jobs.map((j) => [j.id, j.name, j.data.i]),
      [
        ['1', 'a', 1],
        ['custom-b', 'b', 2],
        ['3', 'c', 3],
      ],
    );
    assert.equal(await queue.getWaitingCount(), 2);
    assert.equal(await queue.getDelayedCount(), 1);
    assert.deepEqual((await queue.getWaiting()).map((j) => j.id), ['1', 'custom-b']);
    assert.deepEqual((await queue.getJob('custom-b')).data, { i: 2 });
  });
});

describe('Queue getters', () => {
  it('getJob returns the job, or undefined for an unknown id', async (t) => {
    const { queue } = setup(t);
    const added = await queue.add('x', { deep: { arr: [1, 'two', null, true] } });
    const got = await queue.getJob(added.id);
    assert.equal(got.id, added.id);
    assert.equal(got.name, 'x');
    assert.deepEqual(got.data, { deep: { arr: [1, 'two', null, true] } });
    assert.equal(got.timestamp, added.timestamp);
    assert.equal(await queue.getJob('does-not-exist'), undefined);
    assert.equal(await queue.getJob('999'), undefined);
  });

  it('getJobs(types, start, end, asc) orders and slices', async (t) => {
    const { queue } = setup(t);
    for (let i = 1; i <= 5; i++) await queue.add('n', { i });
    const ids = async (...args) => (await queue.getJobs(...args)).map((j) => j.id);
    assert.deepEqual(await ids(['waiting'], 0, -1, true), ['1', '2', '3', '4', '5']);
    assert.deepEqual(await ids(['waiting'], 0, -1, false), ['5', '4', '3', '2', '1']);
    assert.deepEqual(await ids(['waiting']), ['5', '4', '3', '2', '1'], 'default is newest first');
    assert.deepEqual(await ids(['waiting'], 0, 1, true), ['1', '2']);
    assert.deepEqual(await ids(['waiting'], 1, 2, false), ['4', '3']);
    assert.deepEqual(await ids('waiting', 0, 0, true), ['1'], 'a single type string works');
    assert.deepEqual(await ids(['completed', 'failed']), []);
  });

  it('counts, lists and states across every state', async (t) => {
    const { c, queue, worker } = setup(t);
    const hold = c.gate();
    const w = worker(async (job) => {
      if (job.name === 'bad') throw new Error('bad job');
      if (job.name === 'hold') await hold.promise;
      return job.name;
    });

    const ok = await queue.add('ok', {});
    const bad = await queue.add('bad', {});
    await h.waitFor(async () => (await queue.getFailedCount()) === 1 && (await queue.getCompletedCount()) === 1, 5000, 'ok+bad finished');
    const held = await queue.add('hold', {});
    await h.waitFor(async () => (await queue.getActiveCount()) === 1, 5000, 'hold active');
    const w1 = await queue.add('w1', {});
    const w2 = await queue.add('w2', {});
    const delayed = await queue.add('d', {}, { delay: 60000 });
    const prio = await queue.add('p', {}, { priority: 5 });

    const counts = await h.jobCounts(queue, 'waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
    assert.deepEqual(counts, { waiting: 2, active: 1, completed: 1, failed: 1, delayed: 1, prioritized: 1 });
    assert.equal(await queue.getJobCountByTypes('waiting', 'prioritized'), 3);
    assert.equal(await queue.getJobCountByTypes('completed', 'failed', 'active'), 3);
    assert.equal(await queue.count(), 4, 'count = waiting + delayed + prioritized');
    assert.equal(await queue.getWaitingCount(), 2);
    assert.equal(await queue.getActiveCount(), 1);
    assert.equal(await queue.getDelayedCount(), 1);
    assert.equal(await queue.getPrioritizedCount(), 1);
    assert.equal(await queue.getCompletedCount(), 1);
    assert.equal(await queue.getFailedCount(), 1);

    const ids = (jobs) => jobs.map((j) => j.id);
    assert.deepEqual(ids(await queue.getWaiting()), [w1.id, w2.id]);
    assert.deepEqual(ids(await queue.getActive()), [held.id]);
    assert.deepEqual(ids(await queue.getDelayed()), [delayed.id]);
    assert.deepEqual(ids(await queue.getPrioritized()), [prio.id]);
    assert.deepEqual(ids(await queue.getCompleted()), [ok.id]);
    assert.deepEqual(ids(await queue.getFailed()), [bad.id]);
    assert.equal((await queue.getCompleted())[0].returnvalue, 'ok');
    assert.equal((await queue.getFailed())[0].failedReason, 'bad job');

    assert.equal(await queue.getJobState(ok.id), 'completed');
    assert.equal(await queue.getJobState(bad.id), 'failed');
    assert.equal(await queue.getJobState(held.id), 'active');
    assert.equal(await queue.getJobState(w1.id), 'waiting');
    assert.equal(await queue.getJobState(delayed.id), 'delayed');
    assert.equal(await queue.getJobState(prio.id), 'prioritized');
    assert.equal(await queue.getJobState('nope'), 'unknown');

    hold.open();
    await h.waitFor(async () => (await queue.getJobState(held.id)) === 'completed', 5000, 'hold completed');
    await w.close();
  });
});

describe('Queue pause / resume', () => {
  it('a paused queue is not processed until resumed', async (t) => {
    const { queue, worker } = setup(t);
    assert.equal(await queue.isPaused(), false);
    await queue.pause();
    assert.equal(await queue.isPaused(), true);
    const processed = [];
    worker(async (job) => {
      processed.push(job.id);
    });
    const job = await queue.add('n', { x: 1 });
    await h.delay(600);
    assert.deepEqual(processed, [], 'nothing processed while paused');
    assert.equal(await queue.getJobState(job.id), 'waiting');
    assert.equal(await queue.getActiveCount(), 0);

    await queue.resume();
    assert.equal(await queue.isPaused(), false);
    await h.waitFor(() => processed.length === 1, 5000, 'job processed after resume');
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'completed', 5000, 'completed');
  });
});

describe('Queue.drain', () => {
  it('removes waiting and prioritized jobs but keeps delayed ones', async (t) => {
    const { queue } = setup(t);
    const a = await queue.add('a', {});
    await queue.add('b', {}, { priority: 2 });
    const d = await queue.add('d', {}, { delay: 60000 });
    await queue.drain();
    const counts = await h.jobCounts(queue, 'waiting', 'prioritized', 'delayed');
    assert.deepEqual(counts, { waiting: 0, prioritized: 0, delayed: 1 });
    assert.equal(await queue.getJob(a.id), undefined, 'drained job hash is deleted');
    assert.equal(await queue.getJobState(d.id), 'delayed');
  });

  it('drain(true) also removes delayed jobs', async (t) => {
    const { queue } = setup(t);
    await queue.add('a', {});
    const d = await queue.add('d', {}, { delay: 60000 });
    await queue.drain(true);
    assert.deepEqual(await h.jobCounts(queue, 'waiting', 'delayed'), { waiting: 0, delayed: 0 });
    assert.equal(await queue.getJob(d.id), undefined);
  });
});

describe('Queue.obliterate', () => {
  it('removes every job, count and id of the queue', async (t) => {
    const { queue } = setup(t);
    await queue.add('a', { x: 1 });
    await queue.add('b', {}, { delay: 60000 });
    await queue.add('c', {}, { priority: 3 });
    await queue.obliterate();
    const counts = await queue.getJobCounts('waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed');
    assert.deepEqual(Object.values(counts), [0, 0, 0, 0, 0, 0]);
    assert.equal(await queue.getJob('1'), undefined);
    assert.equal((await queue.add('again', {})).id, '1', 'the id counter starts again');
  });

  it('removes every key of the queue', { skip: h.redisOnly('lists Redis keys') }, async (t) => {
    const { c, queue, name } = setup(t);
    const redis = c.add(h.rawRedis());
    await queue.add('a', { x: 1 });
    await queue.add('b', {}, { delay: 60000 });
    await queue.add('c', {}, { priority: 3 });
    assert.ok((await h.queueKeys(redis, name)).length > 0);
    await queue.obliterate();
    assert.deepEqual(await h.queueKeys(redis, name), []);
    assert.equal(await queue.count(), 0);
  });

  it('rejects while jobs are active unless {force: true}', async (t) => {
    const { c, queue, name, worker } = setup(t);
    const redis = c.add(h.rawRedis());
    const hold = c.gate();
    worker(() => hold.promise);
    const job = await queue.add('held', {});
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'active', 5000, 'active');
    await queue.pause();
    await assert.rejects(queue.obliterate(), /active jobs/i);
    assert.equal(await queue.getJobState(job.id), 'active', 'nothing removed by the failed call');
    await queue.obliterate({ force: true });
    assert.deepEqual(await h.queueKeys(redis, name), []);
    hold.open();
  });
});

describe('Queue.remove and lifecycle', () => {
  it('remove(id) deletes a waiting job and returns 1', async (t) => {
    const { c, queue, name } = setup(t);
    const redis = c.add(h.rawRedis());
    const a = await queue.add('a', {});
    const b = await queue.add('b', {});
    assert.equal(await queue.remove(a.id), 1);
    assert.equal(await queue.getJob(a.id), undefined);
    assert.equal(await redis.exists(`bull:${name}:${a.id}`), 0);
    assert.deepEqual((await queue.getWaiting()).map((j) => j.id), [b.id]);
    // Note: BullMQ 5 and 6 also resolve 1 for an unknown id; only require no throw.
    await queue.remove('no-such-job');
    assert.equal(await queue.count(), 1);
  });

  it('waitUntilReady resolves and close() lets the process exit', async (t) => {
    const name = h.uniqueQueueName('queue');
    const queue = new Queue(name, { connection: h.connection() });
    t.after(() => queue.close());
    // BullMQ 5 resolves with the client, BullMQ 6 with undefined: only require it resolves.
    await queue.waitUntilReady();
    assert.equal(queue.name, name);
    await queue.add('a', {});
    await queue.close();
    await queue.close(); // closing twice is harmless
  });
});

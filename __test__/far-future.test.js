'use strict';
// Times far in the future. A delayed job's score is its due time times
// 0x1000 (see src/redis/lua/prelude.lua); the embedded store keeps scores as
// 64-bit integers, where such times used to wrap around to "now": the job
// ran at once where Redis kept it delayed. Delays given as input beyond
// 1e15 ms (about 31,700 years) are refused; times the engine computes
// (backoff, timestamp + delay) are clamped, the same way in both stores.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const { Queue, Worker, DelayedError } = h.impl();

// BullMQ accepts any delay: the refusals are bullrush's own.
const REFUSALS = h.isBullrush()
  ? false
  : `BULLRUSH_TEST_IMPL=${h.implName()}: BullMQ does not refuse far-future delays`;

const LIMIT = 1e15;
const LIMIT_TEXT = /1e15 ms|1000000000000000 ms/;

function setup(t) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('far');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  const worker = (processor, opts = {}) =>
    c.add(new Worker(name, processor, { connection: h.connection(), ...opts }));
  return { c, name, queue, worker };
}

async function assertEmpty(queue, label) {
  const counts = await h.jobCounts(queue, 'waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed');
  assert.deepEqual(
    counts,
    { waiting: 0, delayed: 0, prioritized: 0, active: 0, completed: 0, failed: 0 },
    `${label}: nothing may be added`,
  );
}

function refusal(...patterns) {
  return (err) => {
    assert.ok(err instanceof TypeError, `expected a TypeError, got ${err && err.constructor.name}: ${err && err.message}`);
    for (const re of patterns) assert.match(err.message, re);
    return true;
  };
}

describe('far-future delays given as input are refused', { skip: REFUSALS }, () => {
  for (const [label, delay] of [['2^53', 2 ** 53], ['1e300', 1e300]]) {
    it(`add with delay ${label} is refused and adds nothing`, async (t) => {
      const { queue } = setup(t);
      await assert.rejects(queue.add('far', {}, { delay }), refusal(/\bdelay\b/, LIMIT_TEXT));
      await assert.rejects(queue.addBulk([{ name: 'ok', data: {} }, { name: 'far', data: {}, opts: { delay } }]), refusal(/\bdelay\b/));
      await assertEmpty(queue, `delay ${label}`);
    });
  }

  it('add with a fixed backoff of 2^63 is refused and adds nothing', async (t) => {
    const { queue } = setup(t);
    await assert.rejects(
      queue.add('far', {}, { attempts: 2, backoff: { type: 'fixed', delay: 2 ** 63 } }),
      refusal(/backoff\.delay/, LIMIT_TEXT),
    );
    await assert.rejects(queue.add('far', {}, { attempts: 2, backoff: 2 ** 63 }), refusal(/backoff/, LIMIT_TEXT));
    await assertEmpty(queue, 'backoff 2^63');
  });

  it('a delay at the limit is accepted and the job stays delayed while a worker runs', async (t) => {
    const { queue, worker } = setup(t);
    let calls = 0;
    worker(async () => {
      calls += 1;
    });
    const job = await queue.add('edge', {}, { delay: LIMIT, attempts: 2, backoff: { type: 'fixed', delay: LIMIT } });
    await h.delay(500);
    assert.equal(await job.getState(), 'delayed');
    assert.equal(calls, 0);
  });

  // BullMQ leaves such a job below the range it promotes from, for ever.
  it('a job due before 1970 (negative timestamp) runs, as on the embedded store', async (t) => {
    const { queue, worker } = setup(t);
    const job = await queue.add('past', {}, { timestamp: -1e15, delay: 1000 });
    worker(async () => 'ran');
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'completed', 5000, 'the job completed');
  });

  for (const [label, delay] of [['2^53', 2 ** 53], ['1e300', 1e300]]) {
    it(`changeDelay(${label}) is refused and the job keeps its delay`, async (t) => {
      const { queue, worker } = setup(t);
      let calls = 0;
      worker(async () => {
        calls += 1;
      });
      const job = await queue.add('d', {}, { delay: 60000 });
      await assert.rejects(job.changeDelay(delay), refusal(/\bdelay\b/, LIMIT_TEXT));
      await h.delay(500);
      assert.equal(await job.getState(), 'delayed');
      assert.equal((await queue.getJob(job.id)).delay, 60000);
      assert.equal(calls, 0);
    });
  }
});

describe('far-future times the engine computes stay in the future', () => {
  it('a custom backoff of 2^63 keeps the job delayed instead of retrying at once', async (t) => {
    const { queue, worker } = setup(t);
    let calls = 0;
    worker(
      async () => {
        calls += 1;
        throw new Error('fails');
      },
      { settings: { backoffStrategy: () => 2 ** 63 } },
    );
    const job = await queue.add('b', {}, { attempts: 5, backoff: { type: 'far' } });
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'delayed', 5000, 'the job delayed by its backoff');
    await h.delay(1000);
    assert.equal(calls, 1, 'the processor ran once, not again at once');
    assert.equal(await queue.getJobState(job.id), 'delayed');
  });

  it('moveToDelayed(1e300) is refused or clamped: the processor does not run in a loop', async (t) => {
    const { queue, worker } = setup(t);
    let calls = 0;
    const refused = [];
    worker(async (job, token) => {
      calls += 1;
      try {
        await job.moveToDelayed(1e300, token);
      } catch (err) {
        refused.push(err);
        return 'refused';
      }
      throw new DelayedError();
    });
    const job = await queue.add('m', {});
    await h.waitFor(() => calls > 0, 5000, 'the processor to run');
    await h.delay(1000);
    assert.equal(calls, 1, 'the processor ran once');
    if (refused.length) {
      refusal(/moveToDelayed/, /timestamp/, LIMIT_TEXT)(refused[0]);
      await h.waitFor(async () => (await queue.getJobState(job.id)) === 'completed', 5000, 'the job completed');
    } else {
      assert.equal(await queue.getJobState(job.id), 'delayed');
    }
  });

  it('a job whose timestamp is far in the future stays delayed', async (t) => {
    const { queue, worker } = setup(t);
    let calls = 0;
    worker(async () => {
      calls += 1;
    });
    const job = await queue.add('ts', {}, { timestamp: 8e15, delay: 1000 });
    await h.delay(500);
    assert.equal(calls, 0);
    assert.equal(await job.getState(), 'delayed');
  });
});

describe('rate limits far in the future', { skip: REFUSALS }, () => {
  it('rateLimit(1e300) is refused with a clear error on both stores', async (t) => {
    const c = h.scope(t);
    const name = h.uniqueQueueName('far-rate');
    const queue = c.add(new Queue(name, { connection: h.connection() }));
    await assert.rejects(queue.rateLimit(1e300), (err) => err instanceof TypeError && /rateLimit needs/.test(err.message));
    await assert.rejects(queue.rateLimit(-5), TypeError);
    await queue.rateLimit(50);
    assert.ok((await queue.getRateLimitTtl()) > 0);
  });
});

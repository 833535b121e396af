'use strict';
// What BullMQ sets on a Job instance once its result is stored: finishedOn
// when it completed or failed for good, delay to the backoff used when a
// retry was delayed. Listeners and manual processing read them.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const { Queue, Worker } = h.impl();

function setup(t) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('outcome');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  const worker = (processor, opts = {}) =>
    c.add(new Worker(name, processor, { connection: h.connection(), ...opts }));
  return { queue, worker };
}

describe('job fields after a result', () => {
  it('a job that failed for good has finishedOn in the failed listener', async (t) => {
    const { queue, worker } = setup(t);
    const w = worker(async () => {
      throw new Error('nope');
    });
    const failed = h.once(w, 'failed', 8000);
    const before = Date.now();
    await queue.add('x', {}, { attempts: 1 });
    const [job] = await failed;
    assert.equal(typeof job.finishedOn, 'number', 'finishedOn is set');
    assert.ok(job.finishedOn >= before - 1000, `finishedOn ${job.finishedOn} is the time it failed`);
    const stored = await queue.getJob(job.id);
    assert.equal(stored.finishedOn, job.finishedOn, 'the same time as stored');
  });

  it('a failed attempt that will retry leaves finishedOn unset and delay at the backoff used', async (t) => {
    const { queue, worker } = setup(t);
    let calls = 0;
    const w = worker(async () => {
      calls += 1;
      if (calls === 1) throw new Error('once');
      return 'ok';
    });
    const failed = h.once(w, 'failed', 8000);
    await queue.add('x', {}, { attempts: 2, backoff: { type: 'fixed', delay: 400 } });
    const [job] = await failed;
    assert.equal(job.finishedOn, undefined, 'not finished: it will retry');
    assert.equal(job.delay, 400, 'delay holds the backoff delay actually used');
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'completed', 8000, 'retried');
  });

  it('a jittered backoff reports the delay it drew', async (t) => {
    const { queue, worker } = setup(t);
    let calls = 0;
    const w = worker(async () => {
      calls += 1;
      if (calls === 1) throw new Error('once');
      return 'ok';
    });
    const failed = h.once(w, 'failed', 8000);
    await queue.add('x', {}, { attempts: 2, backoff: { type: 'fixed', delay: 1000, jitter: 0.5 } });
    const [job] = await failed;
    assert.ok(job.delay >= 500 && job.delay <= 1000, `delay ${job.delay} within the jitter range`);
    const stored = await queue.getJob(job.id);
    assert.equal(stored.delay, job.delay, 'the delay stored is the one reported');
  });

  it('manual moveToFailed of a job with no attempts left sets finishedOn', async (t) => {
    const { queue, worker } = setup(t);
    const w = worker(null, { autorun: false });
    await queue.add('x', {}, { attempts: 1 });
    const token = 'manual-token';
    const job = await h.waitFor(async () => w.getNextJob(token, { block: false }), 5000, 'a job');
    await job.moveToFailed(new Error('manual'), token);
    assert.equal(typeof job.finishedOn, 'number');
    assert.equal(job.attemptsMade, 1);
    assert.equal(await queue.getJobState(job.id), 'failed');
  });
});

'use strict';
// Manual processing (getNextJob + moveToCompleted/moveToFailed) and
// cancelling a running job through the processor's AbortSignal.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const { Queue, Worker } = h.impl();

function setup(t) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('manual');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  const worker = (processor, opts = {}) => c.add(new Worker(name, processor, { connection: h.connection(), ...opts }));
  return { queue, worker };
}

describe('manual processing', () => {
  it('getNextJob hands out a locked job; moveToCompleted finishes it', async (t) => {
    const { queue, worker } = setup(t);
    const w = worker(null);
    assert.equal(await w.getNextJob('t-0', { block: false }), undefined);
    const added = await queue.add('manual', { n: 1 });
    const job = await w.getNextJob('t-1');
    assert.equal(job.id, added.id);
    assert.deepEqual(job.data, { n: 1 });
    assert.equal(await queue.getJobState(job.id), 'active');
    await job.moveToCompleted({ ok: true }, 't-1', false);
    const stored = await queue.getJob(job.id);
    assert.equal(await stored.getState(), 'completed');
    assert.deepEqual(stored.returnvalue, { ok: true });
  });

  it('moveToFailed retries while attempts remain, then fails; a wrong token is refused', async (t) => {
    const { queue, worker } = setup(t);
    const w = worker(null);
    const added = await queue.add('manual', {}, { attempts: 2 });
    let job = await w.getNextJob('t-1');
    await assert.rejects(job.moveToCompleted('x', 'not-the-token', false), /Lock mismatch|Missing lock/);
    await job.moveToFailed(new Error('first'), 't-1');
    assert.equal(await queue.getJobState(added.id), 'waiting');
    job = await w.getNextJob('t-2');
    await job.moveToFailed(new Error('second'), 't-2');
    const stored = await queue.getJob(added.id);
    assert.equal(await stored.getState(), 'failed');
    assert.equal(stored.failedReason, 'second');
    assert.equal(stored.attemptsMade, 2);
  });
});

describe('cancelling a running job', () => {
  it('cancelJob aborts the processor\'s signal; the attempt fails with its error', async (t) => {
    const { queue, worker } = setup(t);
    const w = worker(
      (job, token, signal) =>
        new Promise((resolve, reject) => {
          signal.addEventListener('abort', () => reject(new Error('stopped by request')));
        }),
    );
    // Listening first: the worker may start the job before add() resolves.
    const started = h.once(w, 'active', 5000);
    const job = await queue.add('long', {});
    await started;
    await h.waitFor(() => w.cancelJob(job.id), 2000, 'cancelJob accepted');
    assert.equal(w.cancelJob('no-such-job'), false);
    const [failed, err] = await h.once(w, 'failed', 5000);
    assert.equal(failed.id, job.id);
    assert.equal(err.message, 'stopped by request');
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'failed', 5000, 'failed in Redis');
  });
});

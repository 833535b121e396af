'use strict';
// Small behaviours apps rely on, each as BullMQ 6 has it (this file also
// runs against bullmq itself: BULLRUSH_TEST_IMPL=bullmq npm test).

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const { Queue, Worker, QueueEvents } = h.impl();

function setup(t) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('details');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  const worker = (processor, opts = {}) =>
    c.add(new Worker(name, processor, { connection: h.connection(), ...opts }));
  const events = () => c.add(new QueueEvents(name, { connection: h.connection() }));
  return { queue, worker, events };
}

describe('BullMQ details', () => {
  it('isRunning() is false once a worker paused, true again after resume', async (t) => {
    const { worker } = setup(t);
    const w = worker(async () => 'ok');
    await h.waitFor(() => w.isRunning(), 3000, 'running');
    await w.pause();
    assert.equal(w.isRunning(), false);
    w.resume();
    await h.waitFor(() => w.isRunning(), 3000, 'running again');
  });

  it('a paused worker hands out no job to getNextJob', async (t) => {
    const { queue, worker } = setup(t);
    const w = worker(null, { autorun: false });
    await queue.add('x', {});
    await w.pause(true);
    assert.equal(await w.getNextJob('tok', { block: false }), undefined);
    w.resume();
    const job = await h.waitFor(() => w.getNextJob('tok', { block: false }), 3000, 'a job after resume');
    assert.equal(job.name, 'x');
  });

  it('getNextJob emits active', async (t) => {
    const { queue, worker } = setup(t);
    const w = worker(null, { autorun: false });
    await queue.add('x', {});
    const active = h.once(w, 'active', 5000);
    const job = await h.waitFor(() => w.getNextJob('tok', { block: false }), 3000, 'a job');
    const [seen] = await active;
    assert.equal(seen.id, job.id);
  });

  it('cancelJob answers true for every call while the job runs', async (t) => {
    const { queue, worker } = setup(t);
    let release;
    const running = new Promise((resolve) => {
      release = resolve;
    });
    const w = worker(async (job, token, signal) => {
      await new Promise((resolve) => signal.addEventListener('abort', resolve));
      await running;
    });
    const job = await queue.add('x', {});
    await h.waitFor(() => w.cancelJob(job.id), 3000, 'first cancel');
    assert.equal(w.cancelJob(job.id), true, 'a second cancel while it runs');
    release();
  });

  it("clean of waiting jobs reports the type as 'wait'", async (t) => {
    const { queue } = setup(t);
    await queue.add('x', {});
    const cleaned = h.once(queue, 'cleaned', 3000);
    await queue.clean(0, 0, 'waiting');
    const [ids, type] = await cleaned;
    assert.equal(ids.length, 1);
    assert.equal(type, 'wait');
  });

  it('job.retry() leaves failedReason, processedOn and finishedOn null', async (t) => {
    const { queue, worker } = setup(t);
    const w = worker(async () => {
      throw new Error('nope');
    });
    const failed = h.once(w, 'failed', 5000);
    await queue.add('x', {}, { attempts: 1 });
    await failed;
    await w.close();
    const [job] = await queue.getFailed();
    await job.retry();
    assert.equal(job.failedReason, null);
    assert.equal(job.processedOn, null);
    assert.equal(job.finishedOn, null);
  });

  it('waitUntilFinished of a job removed on completion rejects with Missing key', async (t) => {
    const { queue, worker, events } = setup(t);
    const qe = events();
    await qe.waitUntilReady();
    const w = worker(async () => 'ok');
    // Seen by the QueueEvents too: a late event would settle the wait.
    const seen = h.once(qe, 'completed', 5000);
    const completed = h.once(w, 'completed', 5000);
    const job = await queue.add('x', {}, { removeOnComplete: true });
    await completed;
    await seen;
    await h.waitFor(async () => !(await queue.getJob(job.id)), 3000, 'removed');
    await assert.rejects(job.waitUntilFinished(qe, 3000), /Missing key for job/);
  });

  it('a paused queue still moves due delayed jobs to wait', async (t) => {
    const { queue, worker, events } = setup(t);
    const qe = events();
    await qe.waitUntilReady();
    worker(async () => 'ok', { drainDelay: 5 });
    await queue.pause();
    const job = await queue.add('x', {}, { delay: 300 });
    const waiting = h.once(qe, 'waiting', 4000, ({ jobId }) => jobId === job.id);
    await waiting;
    assert.equal(await queue.getJobState(job.id), 'waiting');
    assert.equal(await queue.getWaitingCount(), 1);
  });

  it('a retried job goes behind delayed jobs that were already due', async (t) => {
    const { queue, worker } = setup(t);
    const order = [];
    let failedOnce = false;
    const w = worker(async (job) => {
      order.push(job.name);
      if (job.name === 'retried' && !failedOnce) {
        failedOnce = true;
        await h.delay(600);
        throw new Error('once');
      }
    }, { autorun: false });
    await queue.add('retried', {}, { attempts: 2 });
    await queue.add('delayed', {}, { delay: 200 });
    w.run().catch(() => {});
    await h.waitFor(() => order.length === 3, 8000, 'three runs');
    assert.deepEqual(order, ['retried', 'delayed', 'retried']);
  });
});

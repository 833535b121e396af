'use strict';
// Worker: processing, events, concurrency, autorun/run, pause/resume, close.
// Retries, backoff, errors, progress and logs are in worker-retry.test.js.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const { Queue, Worker } = h.impl();

function setup(t) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('worker');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  const worker = (processor, opts = {}) =>
    c.add(new Worker(name, processor, { connection: h.connection(), ...opts }));
  return { c, name, queue, worker };
}

describe('Worker processing and events', () => {
  it('processes a job and stores its returnvalue', async (t) => {
    const { queue, worker } = setup(t);
    const seen = [];
    worker(async (job) => {
      seen.push({ id: job.id, name: job.name, data: job.data });
      return { sum: job.data.a + job.data.b, list: [1, 'x'] };
    });
    const job = await queue.add('add', { a: 2, b: 3 });
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'completed', 5000, 'completed');
    assert.deepEqual(seen, [{ id: job.id, name: 'add', data: { a: 2, b: 3 } }]);
    const done = await queue.getJob(job.id);
    assert.deepEqual(done.returnvalue, { sum: 5, list: [1, 'x'] });
    assert.equal(typeof done.processedOn, 'number');
    assert.equal(typeof done.finishedOn, 'number');
    assert.ok(done.finishedOn >= done.processedOn);
    assert.ok(done.processedOn >= done.timestamp);
  });

  it("emits 'ready', 'active', 'completed', 'failed' and 'drained' with BullMQ's arguments", async (t) => {
    const { queue, worker } = setup(t);
    const events = [];
    const w = worker(async (job) => {
      if (job.name === 'bad') throw new Error('it broke');
      return `result-${job.name}`;
    });
    const ready = h.once(w, 'ready', 5000);
    w.on('active', (job, prev) => events.push(['active', job.id, job.name, prev]));
    w.on('completed', (job, result) => events.push(['completed', job.id, result, job.returnvalue]));
    w.on('failed', (job, err) => events.push(['failed', job.id, err instanceof Error, err.message, job.failedReason]));
    await ready;

    const drained = h.once(w, 'drained', 5000);
    const good = await queue.add('good', {});
    const bad = await queue.add('bad', {});
    await h.waitFor(() => events.filter((e) => e[0] !== 'active').length === 2, 5000, 'both finished');
    await drained;
    const byType = (type) => events.filter((e) => e[0] === type);
    assert.deepEqual(byType('active').map((e) => [e[1], e[2]]), [
      [good.id, 'good'],
      [bad.id, 'bad'],
    ]);
    assert.equal(byType('active')[0][3], 'waiting', "active's 2nd argument is the previous state");
    assert.deepEqual(byType('completed'), [['completed', good.id, 'result-good', 'result-good']]);
    assert.deepEqual(byType('failed'), [['failed', bad.id, true, 'it broke', 'it broke']]);
    // 'active' comes before the outcome of the same job
    const idx = (type, id) => events.findIndex((e) => e[0] === type && e[1] === id);
    assert.ok(idx('active', good.id) < idx('completed', good.id));
    assert.ok(idx('active', bad.id) < idx('failed', bad.id));
  });

  it("emits 'closing' then 'closed' on close()", async (t) => {
    const { worker } = setup(t);
    const w = worker(async () => {});
    await w.waitUntilReady();
    const events = [];
    w.on('closing', (msg) => events.push(['closing', typeof msg]));
    w.on('closed', () => events.push(['closed']));
    await w.close();
    assert.deepEqual(events, [['closing', 'string'], ['closed']]);
    assert.equal(w.isRunning(), false);
  });
});

describe('Worker concurrency', () => {
  async function maxInFlight(t, { concurrency, jobs, setConcurrency }) {
    const { queue, worker } = setup(t);
    let inFlight = 0;
    let max = 0;
    let done = 0;
    const w = worker(
      async () => {
        inFlight += 1;
        max = Math.max(max, inFlight);
        await h.delay(250);
        inFlight -= 1;
        done += 1;
      },
      { concurrency, autorun: !setConcurrency },
    );
    if (setConcurrency) {
      w.concurrency = setConcurrency;
      assert.equal(w.concurrency, setConcurrency);
    }
    await queue.addBulk(Array.from({ length: jobs }, (_, i) => ({ name: `j${i}`, data: { i } })));
    const start = Date.now();
    if (setConcurrency) w.run().catch(() => {});
    await h.waitFor(() => done === jobs, 10000, 'all jobs done');
    return { max, elapsed: Date.now() - start, worker: w };
  }

  it('runs up to `concurrency` jobs at the same time', async (t) => {
    const { max, elapsed, worker } = await maxInFlight(t, { concurrency: 3, jobs: 7 });
    assert.equal(worker.concurrency, 3);
    assert.equal(max, 3, `max simultaneous processor calls was ${max}`);
    assert.ok(elapsed < 7 * 250, `took ${elapsed} ms: jobs did not overlap`);
  });

  it('concurrency 1 runs jobs one at a time', async (t) => {
    const { max } = await maxInFlight(t, { concurrency: 1, jobs: 3 });
    assert.equal(max, 1);
  });

  it('the concurrency setter changes the limit', async (t) => {
    const { max, worker } = await maxInFlight(t, { concurrency: 1, jobs: 8, setConcurrency: 4 });
    assert.equal(worker.concurrency, 4);
    assert.equal(max, 4, `max simultaneous processor calls was ${max}`);
  });
});

describe('Worker lifecycle', () => {
  it('autorun: false processes nothing until run()', async (t) => {
    const { queue, worker } = setup(t);
    const processed = [];
    const w = worker(async (job) => processed.push(job.id), { autorun: false });
    assert.equal(w.isRunning(), false);
    const job = await queue.add('x', {});
    await h.delay(500);
    assert.deepEqual(processed, []);
    assert.equal(await queue.getJobState(job.id), 'waiting');
    const running = w.run();
    await h.waitFor(() => processed.length === 1, 5000, 'processed after run()');
    assert.equal(w.isRunning(), true);
    await assert.rejects(w.run(), 'run() twice rejects');
    await w.close();
    await running; // run() resolves once the worker is closed
    assert.equal(w.isRunning(), false);
  });

  it('pause() stops taking jobs, resume() continues', async (t) => {
    const { queue, worker } = setup(t);
    const processed = [];
    const w = worker(async (job) => processed.push(job.name));
    await w.waitUntilReady();
    await queue.add('before', {});
    await h.waitFor(() => processed.length === 1, 5000, 'first job');
    await w.pause();
    assert.equal(w.isPaused(), true);
    const job = await queue.add('during', {});
    await h.delay(500);
    assert.deepEqual(processed, ['before'], 'nothing taken while paused');
    assert.equal(await queue.getJobState(job.id), 'waiting');
    w.resume();
    assert.equal(w.isPaused(), false);
    await h.waitFor(() => processed.length === 2, 5000, 'processed after resume');
    assert.deepEqual(processed, ['before', 'during']);
    assert.equal(w.isRunning(), true);
  });

  it('close() waits for the active job to finish', async (t) => {
    const { queue, worker } = setup(t);
    let finished = false;
    const w = worker(async () => {
      await h.delay(600);
      finished = true;
      return 'finished';
    });
    const job = await queue.add('slow', {});
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'active', 5000, 'active');
    const t0 = Date.now();
    await w.close();
    assert.equal(finished, true, 'processor finished before close() resolved');
    assert.ok(Date.now() - t0 >= 200, 'close() actually waited');
    assert.equal(await queue.getJobState(job.id), 'completed');
    assert.equal((await queue.getJob(job.id)).returnvalue, 'finished');
  });

  it('a closed worker takes no more jobs', async (t) => {
    const { queue, worker } = setup(t);
    const processed = [];
    const w = worker(async (job) => processed.push(job.id));
    await w.waitUntilReady();
    await w.close();
    const job = await queue.add('x', {});
    await h.delay(400);
    assert.deepEqual(processed, []);
    assert.equal(await queue.getJobState(job.id), 'waiting');
  });
});

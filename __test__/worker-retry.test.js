'use strict';
// Worker: attempts and backoff, UnrecoverableError, failure details,
// processor arguments, progress and logs.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const { Queue, Worker, UnrecoverableError } = h.impl();

function setup(t) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('retry');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  const worker = (processor, opts = {}) =>
    c.add(new Worker(name, processor, { connection: h.connection(), ...opts }));
  return { c, name, queue, worker };
}

/** Processor failing the first `failures` calls of each job; records call times. */
function flaky(failures) {
  const calls = [];
  const processor = async (job) => {
    calls.push({ at: Date.now(), attemptsMade: job.attemptsMade });
    if (calls.length <= failures) throw new Error(`failure ${calls.length}`);
    return 'ok';
  };
  return { calls, processor };
}

const gaps = (calls) => calls.slice(1).map((c, i) => c.at - calls[i].at);

describe('attempts and backoff', () => {
  it('retries with fixed backoff until it succeeds; attemptsMade increments', async (t) => {
    const { queue, worker } = setup(t);
    const { calls, processor } = flaky(2);
    const w = worker(processor);
    const failedEvents = [];
    w.on('failed', (job, err) => failedEvents.push([job.id, job.attemptsMade, err.message]));
    const job = await queue.add('x', { v: 1 }, { attempts: 3, backoff: { type: 'fixed', delay: 300 } });
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'completed', 8000, 'completed');
    assert.equal(calls.length, 3);
    assert.deepEqual(calls.map((c) => c.attemptsMade), [0, 1, 2], 'processor sees attempts made so far');
    for (const gap of gaps(calls)) {
      assert.ok(gap >= 280 && gap < 2500, `fixed backoff gap ${gap} ms, expected ~300`);
    }
    assert.deepEqual(failedEvents, [
      [job.id, 1, 'failure 1'],
      [job.id, 2, 'failure 2'],
    ]);
    const done = await queue.getJob(job.id);
    assert.equal(done.attemptsMade, 3);
    assert.equal(done.attemptsStarted, 3);
    assert.equal(done.returnvalue, 'ok');
    assert.equal(done.failedReason, 'failure 2', 'last failure reason is kept');
    assert.equal(done.stacktrace.length, 2);
  });

  it('a job in backoff is delayed between attempts', async (t) => {
    const { queue, worker } = setup(t);
    const { processor } = flaky(1);
    worker(processor);
    const job = await queue.add('x', {}, { attempts: 2, backoff: { type: 'fixed', delay: 1500 } });
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'delayed', 5000, 'delayed for backoff');
    const mid = await queue.getJob(job.id);
    assert.equal(mid.attemptsMade, 1);
    assert.equal(mid.failedReason, 'failure 1');
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'completed', 6000, 'completed');
  });

  it('exponential backoff doubles the delay', async (t) => {
    const { queue, worker } = setup(t);
    const { calls, processor } = flaky(2);
    worker(processor);
    const job = await queue.add('x', {}, { attempts: 3, backoff: { type: 'exponential', delay: 250 } });
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'completed', 8000, 'completed');
    const [g1, g2] = gaps(calls);
    assert.ok(g1 >= 230 && g1 < 2500, `first gap ${g1} ms, expected ~250`);
    assert.ok(g2 >= 480 && g2 < 3000, `second gap ${g2} ms, expected ~500`);
    assert.ok(g2 > g1 + 100, `second gap (${g2}) should be about twice the first (${g1})`);
  });

  it('backoff as a number means fixed', async (t) => {
    const { queue, worker } = setup(t);
    const { calls, processor } = flaky(1);
    worker(processor);
    const job = await queue.add('x', {}, { attempts: 2, backoff: 300 });
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'completed', 6000, 'completed');
    const [g1] = gaps(calls);
    assert.ok(g1 >= 280 && g1 < 2500, `gap ${g1} ms, expected ~300`);
  });

  it('custom backoff through settings.backoffStrategy', async (t) => {
    const { queue, worker } = setup(t);
    const { calls, processor } = flaky(2);
    const strategyCalls = [];
    worker(processor, {
      settings: {
        backoffStrategy: (attemptsMade, type, err, job) => {
          strategyCalls.push([attemptsMade, type, err && err.message, job && job.name]);
          return attemptsMade * 200;
        },
      },
    });
    const job = await queue.add('cust', {}, { attempts: 3, backoff: { type: 'custom' } });
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'completed', 8000, 'completed');
    assert.deepEqual(strategyCalls, [
      [1, 'custom', 'failure 1', 'cust'],
      [2, 'custom', 'failure 2', 'cust'],
    ]);
    const [g1, g2] = gaps(calls);
    assert.ok(g1 >= 180 && g1 < 2500, `first gap ${g1} ms, expected ~200`);
    assert.ok(g2 >= 380 && g2 < 3000, `second gap ${g2} ms, expected ~400`);
  });

  it('fails for good after the last attempt', async (t) => {
    const { queue, worker } = setup(t);
    const { calls, processor } = flaky(100);
    const w = worker(processor);
    const failed = [];
    w.on('failed', (job) => failed.push(job.attemptsMade));
    const job = await queue.add('x', {}, { attempts: 2, backoff: { type: 'fixed', delay: 100 } });
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'failed', 6000, 'failed');
    await h.delay(300);
    assert.equal(calls.length, 2);
    assert.deepEqual(failed, [1, 2]);
    const f = await queue.getJob(job.id);
    assert.equal(f.attemptsMade, 2);
    assert.equal(f.failedReason, 'failure 2');
  });

  it('UnrecoverableError fails the job at once despite attempts left', async (t) => {
    const { queue, worker } = setup(t);
    let calls = 0;
    const w = worker(async () => {
      calls += 1;
      throw new UnrecoverableError('give up now');
    });
    const failed = h.once(w, 'failed', 5000);
    const job = await queue.add('x', {}, { attempts: 5, backoff: { type: 'fixed', delay: 50 } });
    const [fjob, err] = await failed;
    assert.equal(fjob.id, job.id);
    assert.ok(err instanceof UnrecoverableError);
    assert.equal(err.message, 'give up now');
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'failed', 5000, 'failed');
    await h.delay(300);
    assert.equal(calls, 1);
    const f = await queue.getJob(job.id);
    assert.equal(f.attemptsMade, 1);
    assert.equal(f.failedReason, 'give up now');
  });
});

describe('failure details', () => {
  it('a failed job has failedReason and stacktrace', async (t) => {
    const { queue, worker } = setup(t);
    worker(async () => {
      throw new TypeError('wrong type of thing');
    });
    const job = await queue.add('x', {});
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'failed', 5000, 'failed');
    const f = await queue.getJob(job.id);
    assert.equal(f.failedReason, 'wrong type of thing');
    assert.ok(Array.isArray(f.stacktrace));
    assert.equal(f.stacktrace.length, 1);
    assert.equal(typeof f.stacktrace[0], 'string');
    assert.match(f.stacktrace[0], /^TypeError: wrong type of thing/);
    assert.match(f.stacktrace[0], /worker-retry\.test\.js/, 'the stack points at the processor');
    assert.equal(f.attemptsMade, 1);
    assert.equal(f.returnvalue, null);
    assert.equal(typeof f.finishedOn, 'number');
  });
});

describe('processor arguments, progress and logs', () => {
  it('the processor receives (job, token) with a string token', async (t) => {
    const { queue, worker } = setup(t);
    const seen = [];
    worker(async (job, token) => {
      seen.push({ id: job.id, data: job.data, tokenType: typeof token, tokenLen: token && token.length });
    });
    const job = await queue.add('x', { hello: 'world' });
    await h.waitFor(() => seen.length === 1, 5000, 'processed');
    assert.equal(seen[0].id, job.id);
    assert.deepEqual(seen[0].data, { hello: 'world' });
    assert.equal(seen[0].tokenType, 'string');
    assert.ok(seen[0].tokenLen > 0);
  });

  it('job.updateProgress emits worker progress and stores job.progress', async (t) => {
    const { queue, worker } = setup(t);
    let localProgress;
    const w = worker(async (job) => {
      await job.updateProgress(42);
      await job.updateProgress({ step: 2, of: 3 });
      localProgress = job.progress;
      return 'done';
    });
    const progress = [];
    w.on('progress', (job, p) => progress.push([job.id, p]));
    const job = await queue.add('x', {});
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'completed', 5000, 'completed');
    await h.waitFor(() => progress.length === 2, 2000, 'progress events');
    assert.deepEqual(progress, [
      [job.id, 42],
      [job.id, { step: 2, of: 3 }],
    ]);
    assert.deepEqual(localProgress, { step: 2, of: 3 });
    assert.deepEqual((await queue.getJob(job.id)).progress, { step: 2, of: 3 });
  });

  it('a number progress is stored as a number', async (t) => {
    const { queue, worker } = setup(t);
    worker(async (job) => {
      await job.updateProgress(77);
    });
    const job = await queue.add('x', {});
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'completed', 5000, 'completed');
    assert.equal((await queue.getJob(job.id)).progress, 77);
  });

  it('job.log appends to the <prefix>:<queue>:<id>:logs list', { skip: h.redisOnly('reads the list in Redis') }, async (t) => {
    const { c, name, queue, worker } = setup(t);
    const redis = c.add(h.rawRedis());
    const counts = [];
    worker(async (job) => {
      counts.push(await job.log('first line'));
      counts.push(await job.log('second line'));
    });
    const job = await queue.add('x', {});
    await h.waitFor(async () => (await queue.getJobState(job.id)) === 'completed', 5000, 'completed');
    assert.deepEqual(await redis.lrange(`bull:${name}:${job.id}:logs`, 0, -1), ['first line', 'second line']);
    assert.deepEqual(counts, [1, 2], 'log() resolves with the number of log lines');
  });
});

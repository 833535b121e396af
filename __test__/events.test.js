'use strict';
// QueueEvents: BullMQ's event names and argument shapes, the <event>:<jobId>
// forms, replay with lastEventId, custom events, waitUntilFinished.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const { Queue, Worker, QueueEvents, QueueEventsProducer } = h.impl();

function setup(t) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('events');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  const events = (opts = {}) => c.add(new QueueEvents(name, { connection: h.connection(), ...opts }));
  const worker = (processor, opts = {}) => c.add(new Worker(name, processor, { connection: h.connection(), ...opts }));
  return { c, name, queue, events, worker };
}

/** Collects every event of the given names, in order. */
function record(emitter, names) {
  const seen = [];
  for (const name of names) emitter.on(name, (...args) => seen.push([name, ...args]));
  return seen;
}

describe('QueueEvents', () => {
  it('reports a job from added to completed with BullMQ\'s argument shapes', async (t) => {
    const { queue, events, worker } = setup(t);
    const qe = events();
    await qe.waitUntilReady();
    await h.delay(200); // BullMQ's reader starts reading a moment after ready
    const seen = record(qe, ['added', 'waiting', 'active', 'progress', 'completed']);
    const perJob = [];
    const job = await queue.add('email', { to: 'x' });
    qe.on(`completed:${job.id}`, (args) => perJob.push(args));
    await h.delay(50); // added/waiting are read before the worker starts
    worker(async (j) => {
      await j.updateProgress({ pct: 50 });
      return { sent: true };
    });
    await h.waitFor(() => seen.some(([n]) => n === 'completed'), 10000, 'completed event');
    const names = seen.map(([n]) => n);
    assert.deepEqual(names, ['added', 'waiting', 'active', 'progress', 'completed']);
    const byName = Object.fromEntries(seen.map(([n, args, id]) => [n, { args, id }]));
    assert.deepEqual(byName.added.args, { jobId: job.id, name: 'email' });
    assert.deepEqual(byName.active.args, { jobId: job.id, prev: 'waiting' });
    assert.deepEqual(byName.progress.args, { jobId: job.id, data: { pct: 50 } });
    assert.deepEqual(byName.completed.args, { jobId: job.id, returnvalue: { sent: true }, prev: 'active' });
    assert.match(byName.completed.id, /^\d+-\d+$/, 'the stream id is the second argument');
    await h.waitFor(() => perJob.length === 1, 2000, 'completed:<id> form');
    assert.deepEqual(perJob[0].returnvalue, { sent: true });
  });

  it('reports failures, delays and retries-exhausted', async (t) => {
    const { queue, events, worker } = setup(t);
    const qe = events();
    await qe.waitUntilReady();
    const seen = record(qe, ['failed', 'delayed', 'retries-exhausted']);
    const job = await queue.add('flaky', {}, { attempts: 2, backoff: 100 });
    worker(async () => {
      throw new Error('boom');
    });
    await h.waitFor(() => seen.some(([n]) => n === 'retries-exhausted'), 10000, 'retries-exhausted');
    const delayed = seen.find(([n]) => n === 'delayed')[1];
    assert.equal(delayed.jobId, job.id);
    assert.equal(typeof delayed.delay, 'number');
    const failed = seen.filter(([n]) => n === 'failed');
    assert.equal(failed.length, 1, 'the retried attempt writes no failed event');
    assert.deepEqual(failed[0][1], { jobId: job.id, failedReason: 'boom', prev: 'active' });
  });

  it('replays the stream from lastEventId', async (t) => {
    const { queue, events } = setup(t);
    await queue.add('a', {});
    await queue.add('b', {});
    const qe = events({ lastEventId: '0' });
    const added = [];
    qe.on('added', ({ name }) => added.push(name));
    await h.waitFor(() => added.length === 2, 5000, 'replayed added events');
    assert.deepEqual(added, ['a', 'b']);
  });

  it('delivers custom events from QueueEventsProducer', async (t) => {
    const { c, name, events } = setup(t);
    const qe = events();
    await qe.waitUntilReady();
    await h.delay(50);
    const producer = c.add(new QueueEventsProducer(name, { connection: h.connection() }));
    const got = h.once(qe, 'invoice-ready', 5000);
    await producer.publishEvent({ eventName: 'invoice-ready', invoiceId: 'inv-1' });
    const [args] = await got;
    assert.equal(args.invoiceId, 'inv-1');
  });

  it('job.waitUntilFinished resolves with the result, or rejects with the failure', async (t) => {
    const { queue, events, worker } = setup(t);
    const qe = events();
    await qe.waitUntilReady();
    worker(async (j) => {
      if (j.data.fail) throw new Error('nope');
      return j.data.n * 2;
    });
    const ok = await queue.add('ok', { n: 21 });
    const bad = await queue.add('bad', { fail: true });
    assert.equal(await ok.waitUntilFinished(qe, 10000), 42);
    await assert.rejects(bad.waitUntilFinished(qe, 10000), /nope/);
    // Already finished: answered from the job's state.
    assert.equal(await ok.waitUntilFinished(qe, 10000), 42);
  });
});

describe('QueueEvents in bullrush', { skip: h.isBullrush() ? false : 'bullrush only' }, () => {
  it('after waitUntilReady, no event is missed', async (t) => {
    const { queue, events } = setup(t);
    const qe = events();
    await qe.waitUntilReady();
    const added = h.once(qe, 'added', 5000);
    await queue.add('right-away', {});
    const [args] = await added;
    assert.equal(args.name, 'right-away');
  });

  it('200 listeners on one queue share one Redis connection', { skip: h.redisOnly('counts Redis connections') }, async (t) => {
    const { c, name, queue } = setup(t);
    const redis = c.add(h.rawRedis());
    const listeners = Array.from({ length: 200 }, () => c.add(new QueueEvents(name, { connection: h.connection() })));
    const received = new Array(listeners.length).fill(0);
    listeners.forEach((qe, i) => qe.on('added', () => (received[i] += 1)));
    await h.delay(300);
    await queue.add('fan-out', {});
    await h.waitFor(() => received.every((n) => n === 1), 5000, 'every listener got the event');
    const qeName = `bull:${Buffer.from(name).toString('base64')}:qe`;
    const clients = String(await redis.call('CLIENT', 'LIST')).split('\n').filter((l) => l.includes(`name=${qeName} `));
    assert.equal(clients.length, 1, `connections named ${qeName}`);
  });

  it('events written while the reader\'s connection was down arrive after it reconnects', { skip: h.redisOnly('stops the Redis server') }, async (t) => {
    const { c, name, queue, events } = setup(t);
    const redis = c.add(h.rawRedis());
    const qe = events();
    await qe.waitUntilReady();
    const added = [];
    const errors = [];
    qe.on('added', ({ name: jobName }) => added.push(jobName));
    qe.on('error', (err) => errors.push(err));
    await queue.add('before', {});
    await h.waitFor(() => added.length === 1, 5000, 'first event');
    const qeName = `bull:${Buffer.from(name).toString('base64')}:qe`;
    const line = String(await redis.call('CLIENT', 'LIST')).split('\n').find((l) => l.includes(`name=${qeName} `));
    const id = /(?:^|\s)id=(\d+)/.exec(line)[1];
    await redis.call('CLIENT', 'KILL', 'ID', id);
    await queue.add('while-away-1', {});
    await queue.add('while-away-2', {});
    await h.waitFor(() => added.length === 3, 8000, 'missed events delivered');
    assert.deepEqual(added, ['before', 'while-away-1', 'while-away-2']);
    assert.ok(errors.length >= 1, 'the outage was reported');
  });

  it('reads the events bullmq writes', { skip: h.redisOnly('bullmq runs on Redis') }, async (t) => {
    const { c, name, events } = setup(t);
    const bullmq = require('bullmq');
    const qe = events();
    await qe.waitUntilReady();
    const done = h.once(qe, 'completed', 10000);
    const progress = h.once(qe, 'progress', 10000);
    const bq = c.add(new bullmq.Queue(name, { connection: h.connection() }));
    c.add(new bullmq.Worker(name, async (job) => {
      await job.updateProgress({ step: 1 });
      return { from: 'bullmq' };
    }, { connection: h.connection() }));
    const job = await bq.add('x', {});
    const [p] = await progress;
    assert.deepEqual(p, { jobId: job.id, data: { step: 1 } });
    const [args] = await done;
    assert.deepEqual(args, { jobId: job.id, returnvalue: { from: 'bullmq' }, prev: 'active' });
  });

  it('bullmq\'s QueueEvents reads the events bullrush writes', { skip: h.redisOnly('bullmq runs on Redis') }, async (t) => {
    const { c, name, queue, worker } = setup(t);
    const bullmq = require('bullmq');
    const qe = c.add(new bullmq.QueueEvents(name, { connection: h.connection() }));
    await qe.waitUntilReady();
    await h.delay(100);
    const done = h.once(qe, 'completed', 10000);
    worker(async () => ({ from: 'bullrush' }));
    const job = await queue.add('x', {});
    const [args] = await done;
    assert.equal(args.jobId, job.id);
    assert.deepEqual(args.returnvalue, { from: 'bullrush' });
  });
});

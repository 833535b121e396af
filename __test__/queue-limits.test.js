'use strict';
// Queue-wide limits and inspection: global concurrency and rate limit in the
// meta hash (shared with BullMQ workers), rate-limit ttl, meta, workers.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const { Queue, Worker } = h.impl();

function setup(t) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('limits');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  return { c, name, queue };
}

describe('Queue limits and meta', () => {
  it('global concurrency caps active jobs across workers and can be removed', async (t) => {
    const { c, name, queue } = setup(t);
    await queue.setGlobalConcurrency(2);
    assert.equal(await queue.getGlobalConcurrency(), 2);
    let running = 0;
    let peak = 0;
    const processor = async () => {
      running += 1;
      peak = Math.max(peak, running);
      await h.delay(60);
      running -= 1;
    };
    c.add(new Worker(name, processor, { connection: h.connection(), concurrency: 5 }));
    c.add(new Worker(name, processor, { connection: h.connection(), concurrency: 5 }));
    await queue.addBulk(Array.from({ length: 12 }, (_, i) => ({ name: 'j', data: { i } })));
    await h.waitFor(async () => (await queue.getActiveCount()) === 2, 5000, 'two active');
    assert.equal(await queue.isMaxed(), true, 'maxed while 2 of 2 are active');
    await h.waitFor(async () => (await queue.getCompletedCount()) === 12, 10000, 'all completed');
    assert.equal(peak, 2, `at most 2 at once, saw ${peak}`);
    assert.equal(await queue.isMaxed(), false);
    await queue.removeGlobalConcurrency();
    assert.equal(await queue.getGlobalConcurrency(), null);
  });

  it('global rate limit is stored in meta and bounds the rate', async (t) => {
    const { c, name, queue } = setup(t);
    await queue.setGlobalRateLimit(2, 400);
    const meta = await queue.getMeta();
    assert.equal(meta.max, 2);
    assert.equal(meta.duration, 400);
    const starts = [];
    c.add(new Worker(name, async () => starts.push(Date.now()), { connection: h.connection(), concurrency: 5 }));
    await queue.addBulk(Array.from({ length: 6 }, (_, i) => ({ name: 'j', data: { i } })));
    await h.waitFor(() => starts.length === 6, 10000, 'all started');
    // 6 jobs at 2 per 400 ms need at least two full windows after the first.
    assert.ok(starts[5] - starts[0] >= 700, `took ${starts[5] - starts[0]} ms`);
    await queue.removeGlobalRateLimit();
    const after = await queue.getMeta();
    assert.equal(after.max, undefined);
  });

  it('a worker limiter of 2 per 500 ms holds across two workers', async (t) => {
    const { c, name, queue } = setup(t);
    const starts = [];
    const opts = { connection: h.connection(), concurrency: 4, limiter: { max: 2, duration: 500 } };
    c.add(new Worker(name, async () => starts.push(Date.now()), opts));
    c.add(new Worker(name, async () => starts.push(Date.now()), opts));
    await queue.addBulk(Array.from({ length: 6 }, (_, i) => ({ name: 'j', data: { i } })));
    await h.waitFor(() => starts.length === 6, 10000, 'all started');
    starts.sort((a, b) => a - b);
    // Any three consecutive starts span at least one window.
    for (let i = 2; i < starts.length; i++) {
      assert.ok(starts[i] - starts[i - 2] >= 450, `starts ${i - 2}..${i} within ${starts[i] - starts[i - 2]} ms`);
    }
  });

  it('rateLimit(ms) sets a ttl that getRateLimitTtl reports and removeRateLimitKey clears', async (t) => {
    const { queue } = setup(t);
    await queue.rateLimit(5000);
    const ttl = await queue.getRateLimitTtl();
    assert.ok(ttl > 4000 && ttl <= 5000, `ttl ${ttl}`);
    assert.ok((await queue.getRateLimitTtl(1)) > 4000, 'with a max of 1 the limit applies');
    assert.equal(await queue.removeRateLimitKey(), 1);
    assert.ok((await queue.getRateLimitTtl()) < 0, 'no limiter key left');
  });

  it('getMeta, getVersion and trimEvents', async (t) => {
    const { queue } = setup(t);
    for (let i = 0; i < 30; i++) await queue.add('j', { i });
    const meta = await queue.getMeta();
    assert.equal(meta.maxLenEvents, 10000);
    assert.equal(meta.paused, false);
    assert.match(await queue.getVersion(), /^(bullrush|bullmq):\d+\.\d+\.\d+/);
    assert.equal(typeof (await queue.trimEvents(0)), 'number');
  });

  it('getWorkers lists the workers connected to the queue', async (t) => {
    const { c, name, queue } = setup(t);
    c.add(new Worker(name, async () => {}, { connection: h.connection(), name: 'mailer' }));
    c.add(new Worker(name, async () => {}, { connection: h.connection() }));
    await h.waitFor(async () => (await queue.getWorkersCount()) === 2, 5000, 'two workers');
    const workers = await queue.getWorkers();
    assert.ok(workers.every((w) => w.name === name));
    assert.ok(workers.some((w) => w.rawname.endsWith(':w:mailer')), JSON.stringify(workers.map((w) => w.rawname)));
  });
});

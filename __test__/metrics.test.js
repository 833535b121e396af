'use strict';
// Metrics: with the Worker's `metrics: { maxDataPoints }`, finished jobs are
// counted per minute in BullMQ's metrics keys, read by Queue#getMetrics.

const { it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const { Queue, Worker } = h.impl();

it('counts completed jobs and keeps one data point per elapsed minute', { skip: h.redisOnly('backdates the metrics hash in Redis (the embedded engine\'s metrics have a Rust unit test)') }, async (t) => {
  const c = h.scope(t);
  const name = h.uniqueQueueName('metrics');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  const redis = c.add(h.rawRedis());
  const worker = c.add(new Worker(name, async () => 'ok', { connection: h.connection(), metrics: { maxDataPoints: 10 } }));
  await queue.addBulk([1, 2, 3, 4, 5].map((n) => ({ name: 'm', data: { n } })));
  await h.waitFor(async () => (await queue.getCompletedCount()) === 5, 8000, 'completed');
  let metrics = await queue.getMetrics('completed');
  assert.equal(metrics.meta.count, 5);
  assert.deepEqual(metrics.data, []);

  // Pretend the last data point was taken three minutes ago.
  await redis.hset(`bull:${name}:metrics:completed`, 'prevTS', Date.now() - 3 * 60000);
  await queue.add('m', { n: 6 });
  await h.waitFor(async () => (await queue.getCompletedCount()) === 6, 8000, 'sixth completed');
  metrics = await queue.getMetrics('completed');
  assert.equal(metrics.meta.count, 6);
  assert.deepEqual(metrics.data, [0, 0, 5]);
  assert.equal(metrics.count, 3);
  assert.deepEqual((await queue.getMetrics('failed')).meta.count, 0);
  await worker.close();
});

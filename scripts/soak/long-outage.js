'use strict';

// 2. An outage longer than drainDelay: the Worker's blocking wait and the
// QueueEvents reader both time out and retry while Redis is down (drainDelay
// 1 s, Redis down 5 s, or longer in the full run). Neither is restarted by
// hand: jobs added after the restart must be processed by the Worker, and
// their 'completed' events must reach the QueueEvents opened before the outage.

const { Queue, Worker, QueueEvents } = require('../..');
const { RedisServer } = require('./lib/redis-server');
const { Checks, delay, waitFor, within } = require('./lib/util');

const SIZES = { quick: { outagesMs: [5000], jobs: 100 }, full: { outagesMs: [5000, 15000, 30000], jobs: 1000 } };
const RESUME_LIMIT_MS = 30000;

async function run({ quick, log }) {
  const size = quick ? SIZES.quick : SIZES.full;
  const checks = new Checks();
  const redis = await RedisServer.start();
  const connection = redis.connection;
  const name = `soak-outage-${process.pid}`;
  const queue = new Queue(name, { connection, commandTimeout: 1000 });
  queue.on('error', () => {});
  const processed = new Set();
  const worker = new Worker(name, async (job) => {
    processed.add(job.id);
    return job.data.n;
  }, { connection, drainDelay: 1 });
  let workerErrors = 0;
  worker.on('error', () => workerErrors++);
  const events = new QueueEvents(name, { connection });
  let eventErrors = 0;
  events.on('error', () => eventErrors++);
  const completedEvents = new Set();
  events.on('completed', ({ jobId }) => completedEvents.add(jobId));
  await within(events.waitUntilReady(), 10000, 'QueueEvents ready');

  // Proof that both work before the first outage.
  const first = await queue.add('before', { n: -1 });
  checks.check(await waitFor(() => completedEvents.has(first.id), 10000), 'no completed event before the outage');

  const figures = { outagesMs: size.outagesMs, jobsPerOutage: size.jobs, workerResumeMs: [], eventsResumeMs: [],
    processed: 0, completedEvents: 0 };
  for (const outageMs of size.outagesMs) {
    log(`Redis down for ${outageMs} ms`);
    await redis.kill();
    await delay(outageMs);
    await redis.boot();
    const back = Date.now();
    // The queue's own connection may need a moment too: retry the first add, bounded.
    const ids = [];
    for (let n = 0; n < size.jobs; n++) {
      const job = await waitFor(() => queue.add('after', { n }), RESUME_LIMIT_MS, 100);
      if (!job) break;
      ids.push(job.id);
    }
    checks.check(ids.length === size.jobs, `only ${ids.length} of ${size.jobs} adds succeeded after a ${outageMs} ms outage`);
    const done = await waitFor(() => ids.every((id) => processed.has(id)), RESUME_LIMIT_MS);
    const workerMs = Date.now() - back;
    const heard = await waitFor(() => ids.every((id) => completedEvents.has(id)), RESUME_LIMIT_MS);
    const eventsMs = Date.now() - back;
    const got = ids.filter((id) => processed.has(id)).length;
    const gotEvents = ids.filter((id) => completedEvents.has(id)).length;
    checks.check(done, `after a ${outageMs} ms outage the Worker processed ${got} of ${ids.length} new jobs within ${RESUME_LIMIT_MS} ms`);
    checks.check(heard, `after a ${outageMs} ms outage QueueEvents heard ${gotEvents} of ${ids.length} completed events within ${RESUME_LIMIT_MS} ms`);
    figures.workerResumeMs.push(done ? workerMs : -1);
    figures.eventsResumeMs.push(heard ? eventsMs : -1);
    figures.processed += got;
    figures.completedEvents += gotEvents;
  }
  figures.workerErrors = workerErrors;
  figures.eventErrors = eventErrors;

  await events.close();
  await worker.close();
  await queue.close();
  await redis.close();
  return checks.result(figures);
}

module.exports = { name: 'long-outage', run };

'use strict';

// 8. 1,000,000 jobs (100,000 quick) through the embedded store: addBulk in
// batches of 1000 while a Worker (concurrency 100, removeOnComplete) empties
// the queue. Every job must run exactly once and the queue must end empty.
// The producer keeps at most BACKLOG jobs waiting, as a real one fed by
// requests would: peak RSS then measures the engine, not a million-job pile.

const { Queue, Worker } = require('../..');
const { Checks, delay, waitFor, mb } = require('./lib/util');

const SIZES = { quick: { jobs: 100000 }, full: { jobs: 1000000 } };
const BATCH = 1000;
const BACKLOG = 50000;
const LIMIT_MS = { quick: 60000, full: 600000 };

async function run({ quick, log }) {
  const size = quick ? SIZES.quick : SIZES.full;
  const checks = new Checks();
  const connection = 'memory://';
  const name = `soak-million-${process.pid}`;
  const queue = new Queue(name, { connection });
  const runs = new Uint8Array(size.jobs); // runs per job, indexed by data.n
  let ran = 0;
  let completedEvents = 0;
  const worker = new Worker(name, async (job) => {
    runs[job.data.n]++;
    ran++;
  }, { connection, concurrency: 100, removeOnComplete: true });
  worker.on('completed', () => completedEvents++);
  let workerErrors = 0;
  worker.on('error', (err) => {
    if (workerErrors++ === 0) log(`worker error: ${err.message}`);
  });

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 100);
  const limit = quick ? LIMIT_MS.quick : LIMIT_MS.full;
  const t0 = Date.now();
  const deadline = t0 + limit;
  for (let start = 0; start < size.jobs && Date.now() < deadline; start += BATCH) {
    while (start - ran > BACKLOG && Date.now() < deadline) await delay(1);
    const jobs = [];
    for (let n = start; n < Math.min(start + BATCH, size.jobs); n++) jobs.push({ name: 'job', data: { n } });
    await queue.addBulk(jobs);
  }
  const done = await waitFor(() => completedEvents >= size.jobs, Math.max(0, deadline - Date.now()) + 1000, 10);
  const seconds = (Date.now() - t0) / 1000;
  clearInterval(sampler);
  await delay(200); // a late duplicate would show up here

  let once = 0;
  let twice = 0;
  for (let i = 0; i < size.jobs; i++) {
    if (runs[i] === 1) once++;
    else if (runs[i] > 1) twice++;
  }
  const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
  checks.check(done, `${completedEvents} of ${size.jobs} jobs completed within ${limit} ms`);
  checks.check(once === size.jobs, `${once} of ${size.jobs} jobs ran exactly once (${twice} more than once)`);
  checks.check(completedEvents === size.jobs, `${completedEvents} 'completed' events for ${size.jobs} jobs`);
  checks.check(Object.values(counts).every((c) => c === 0), `the queue should end empty: ${JSON.stringify(counts)}`);
  log(`${size.jobs} jobs in ${seconds.toFixed(1)} s`);

  await worker.close();
  await queue.close();
  return checks.result({
    jobs: size.jobs,
    ranOnce: once,
    duplicates: twice,
    seconds: Math.round(seconds * 10) / 10,
    jobsPerS: Math.round(size.jobs / seconds),
    peakRssMB: mb(Math.max(peakRss, process.resourceUsage().maxRSS * 1024)),
    workerErrors,
  });
}

module.exports = { name: 'embedded-million', run };

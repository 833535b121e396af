'use strict';

// 5. A mixed fleet: bullmq 6 Workers and bullrush Workers on one queue, jobs
// added by both libraries with attempts 3, and a processor that fails the
// first attempt of every third job. Each job must succeed exactly once across
// the fleet, the failing ones after exactly one retry, whoever ran either attempt.

const bullmq = require('bullmq');
const bullrush = require('../..');
const { RedisServer } = require('./lib/redis-server');
const { Checks, waitFor, bump } = require('./lib/util');

const SIZES = { quick: { jobs: 3000 }, full: { jobs: 30000 } };
const WORKERS_PER_LIBRARY = 2;
const DONE_LIMIT_MS = { quick: 60000, full: 300000 };

async function run({ quick, log }) {
  const size = quick ? SIZES.quick : SIZES.full;
  const checks = new Checks();
  const redis = await RedisServer.start();
  const connection = redis.connection;
  const name = `soak-fleet-${process.pid}`;

  const runs = new Map(); // job id -> attempts run
  const successes = new Map(); // job id -> successful attempts
  const failedOnce = new Set();
  const byLibrary = { bullmq: { runs: 0, succeeded: 0, failed: 0 }, bullrush: { runs: 0, succeeded: 0, failed: 0 } };
  const processor = (lib) => async (job) => {
    bump(runs, job.id);
    byLibrary[lib].runs++;
    if (job.data.n % 3 === 0 && !failedOnce.has(job.id)) {
      failedOnce.add(job.id);
      byLibrary[lib].failed++;
      throw new Error('first attempt of every third job fails');
    }
    bump(successes, job.id);
    byLibrary[lib].succeeded++;
    return job.data.n;
  };
  const workers = [];
  for (let i = 0; i < WORKERS_PER_LIBRARY; i++) {
    workers.push(new bullmq.Worker(name, processor('bullmq'), { connection, concurrency: 10 }));
    workers.push(new bullrush.Worker(name, processor('bullrush'), { connection, concurrency: 10 }));
  }
  let workerErrors = 0;
  for (const w of workers) w.on('error', () => workerErrors++);

  // Both libraries add, in the same mix of single adds and addBulk.
  const queues = { bullmq: new bullmq.Queue(name, { connection }), bullrush: new bullrush.Queue(name, { connection }) };
  const ids = new Map(); // job id -> n
  const opts = { attempts: 3 };
  for (let start = 0; start < size.jobs; start += 100) {
    const lib = (start / 100) % 2 ? 'bullrush' : 'bullmq';
    const ns = Array.from({ length: Math.min(100, size.jobs - start) }, (_, i) => start + i);
    const jobs = (start / 100) % 4 < 2
      ? await queues[lib].addBulk(ns.map((n) => ({ name: 'job', data: { n, by: lib }, opts })))
      : await Promise.all(ns.map((n) => queues[lib].add('job', { n, by: lib }, opts)));
    jobs.forEach((job, i) => ids.set(job.id, ns[i]));
  }
  checks.check(ids.size === size.jobs, `${ids.size} distinct ids for ${size.jobs} adds`);
  log(`${ids.size} jobs added by both libraries`);

  const limit = quick ? DONE_LIMIT_MS.quick : DONE_LIMIT_MS.full;
  const done = await waitFor(() => successes.size >= ids.size, limit, 50);
  await new Promise((resolve) => setTimeout(resolve, 500)); // room for a late duplicate
  checks.check(done, `${successes.size} of ${ids.size} jobs succeeded within ${limit} ms`);

  // The stored attempt counters (atm) must agree with what the processors saw, whichever library wrote them.
  const order = [...ids.keys()];
  const atm = await redis.pipeline(order.map((id) => ['HGET', `bull:${name}:${id}`, 'atm']));
  let doubled = 0;
  let wrongRuns = 0;
  let wrongAtm = 0;
  order.forEach((id, i) => {
    const expected = ids.get(id) % 3 === 0 ? 2 : 1;
    if ((successes.get(id) || 0) > 1) doubled++;
    if ((runs.get(id) || 0) !== expected) wrongRuns++;
    if (Number(atm[i]) !== expected) wrongAtm++;
  });
  const completed = Number(await redis.command('ZCARD', `bull:${name}:completed`));
  const failed = Number(await redis.command('ZCARD', `bull:${name}:failed`));
  checks.check(doubled === 0, `${doubled} jobs succeeded more than once`);
  checks.check(wrongRuns === 0, `${wrongRuns} jobs ran a number of attempts other than 1 (or 2 for every third)`);
  checks.check(wrongAtm === 0, `${wrongAtm} jobs store an attemptsMade (atm) other than the attempts they ran`);
  checks.check(completed === ids.size && failed === 0, `Redis holds ${completed} completed and ${failed} failed for ${ids.size} jobs`);
  checks.check(byLibrary.bullmq.runs > 0 && byLibrary.bullrush.runs > 0, 'one library processed nothing: the fleet was not mixed');

  await Promise.all(workers.map((w) => w.close()));
  await Promise.all(Object.values(queues).map((q) => q.close()));
  await redis.close();
  return checks.result({
    jobs: ids.size,
    succeeded: successes.size,
    duplicates: doubled,
    retries: byLibrary.bullmq.failed + byLibrary.bullrush.failed,
    expectedRetries: [...ids.values()].filter((n) => n % 3 === 0).length,
    bullmqProcessed: byLibrary.bullmq.succeeded,
    bullrushProcessed: byLibrary.bullrush.succeeded,
    bullmqFailedAttempts: byLibrary.bullmq.failed,
    bullrushFailedAttempts: byLibrary.bullrush.failed,
    workerErrors,
  });
}

module.exports = { name: 'mixed-fleet', run };

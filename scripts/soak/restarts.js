'use strict';

// 1. Redis goes away under load and comes back: SHUTDOWN NOSAVE + restart,
// SIGKILL + restart, SIGSTOP for ~8 s + SIGCONT, while producers add and
// workers process. The server runs with AOF (appendfsync always), so every
// add that resolved is on disk: each such job must complete exactly once.
// Adds that rejected are counted by error; some of them may still have been
// stored (the reply, not the write, was lost): those "ghosts" may run, once.
// Likewise a fetch whose reply is lost leaves its jobs active under a lock
// nobody renews: the stalled checker puts them back once the lock expires,
// so the drain waits for lockDuration + two stalled checks.

const { Queue, Worker } = require('../..');
const { RedisServer } = require('./lib/redis-server');
const { Checks, delay, waitFor, errorKind, bump } = require('./lib/util');

const SIZES = {
  quick: { rounds: 1, runMs: 2000, maxJobs: 20000 },
  full: { rounds: 3, runMs: 15000, maxJobs: 400000 },
};
const PRODUCERS = 4;
const DOWN_MS = 2000;
const FREEZE_MS = 8000;
const RESUME_LIMIT_MS = 30000;
// Longer than the freeze, so that jobs being processed keep their locks through it.
const LOCK_MS = 15000;
const STALLED_MS = 5000;
const DRAIN_LIMIT_MS = LOCK_MS + 3 * STALLED_MS + 10000;

async function run({ quick, log }) {
  const size = quick ? SIZES.quick : SIZES.full;
  const checks = new Checks();
  const redis = await RedisServer.start({ aof: true });
  const connection = redis.connection;
  const name = `soak-restarts-${process.pid}`;
  const queue = new Queue(name, { connection, commandTimeout: 2000 });
  queue.on('error', () => {});

  const acked = new Map(); // job id -> n
  const rejected = new Map(); // error kind -> count
  const runs = new Map(); // job id -> processor runs that returned
  const completions = new Map(); // job id -> 'completed' events
  let lastCompletion = 0;
  let workerErrors = 0;
  let stalled = 0;
  // Each kind of message logged once (numbers stripped), so that a run shows what happened without flooding.
  const seen = new Set();
  const once = (text) => {
    const kind = text.replace(/\d+/g, 'N');
    if (!seen.has(kind)) {
      seen.add(kind);
      log(text);
    }
  };

  const workers = [1, 2].map(() => {
    const w = new Worker(name, async (job) => {
      await delay(2);
      bump(runs, job.id);
      return job.data.n;
    }, { connection, concurrency: 20, lockDuration: LOCK_MS, stalledInterval: STALLED_MS });
    w.on('completed', (job) => {
      bump(completions, job.id);
      lastCompletion = Date.now();
    });
    w.on('stalled', () => stalled++);
    w.on('error', (err) => {
      workerErrors++;
      once(`worker error: ${err.message}`);
    });
    return w;
  });

  let producing = true;
  let next = 0;
  const producer = async () => {
    while (producing && next < size.maxJobs) {
      const n = next++;
      try {
        const job = await queue.add('job', { n });
        acked.set(job.id, n);
      } catch (err) {
        bump(rejected, errorKind(err));
        once(`add rejected: ${errorKind(err)}: ${err.message}`);
        await delay(100); // a real producer backs off too; keeps the loop bounded in time
      }
      await delay(1);
    }
  };
  const producers = Array.from({ length: PRODUCERS }, producer);

  // Each fault returns when Redis is back; resume time is from then to the next completion.
  const faults = {
    shutdown: async () => { await redis.shutdownNosave(); await delay(DOWN_MS); await redis.boot(); },
    sigkill: async () => { await redis.kill(); await delay(DOWN_MS); await redis.boot(); },
    sigstop: async () => { redis.freeze(); await delay(FREEZE_MS); redis.thaw(); },
  };
  const resumeMs = {};
  try {
    await delay(size.runMs);
    for (let round = 0; round < size.rounds; round++) {
      for (const [fault, inflict] of Object.entries(faults)) {
        log(`round ${round + 1}: ${fault} (${acked.size} acknowledged so far)`);
        await inflict();
        const back = Date.now();
        const resumed = await waitFor(() => lastCompletion > back, RESUME_LIMIT_MS);
        const ms = resumed ? lastCompletion - back : -1;
        checks.check(resumed, `workers did not resume within ${RESUME_LIMIT_MS} ms after ${fault}`);
        (resumeMs[fault] = resumeMs[fault] || []).push(ms);
        await delay(size.runMs);
      }
    }
  } finally {
    producing = false;
    await Promise.all(producers);
  }

  log(`producers stopped: ${acked.size} acknowledged, ${runs.size} run`);
  // Drain: every acknowledged job run by a processor, or give up.
  const drained = await waitFor(() => [...acked.keys()].every((id) => runs.has(id)), DRAIN_LIMIT_MS, 100);
  await delay(1000); // a late duplicate, or a late result, would show up here
  const completedSet = new Set(await redis.command('ZRANGE', `bull:${name}:completed`, '0', '-1'));
  const lost = [];
  const doubled = [];
  const silent = []; // completed in Redis, but the Worker never emitted 'completed' for it
  for (const id of acked.keys()) {
    if (!completedSet.has(id) || !runs.has(id)) lost.push(id);
    else if (!completions.has(id)) silent.push(id);
  }
  for (const [id, count] of runs) if (count > 1 || (completions.get(id) || 0) > 1) doubled.push(id);
  for (const id of lost.slice(0, 3)) {
    const state = await queue.getJobState(id).catch((e) => e.message);
    log(`lost job ${id}: state ${state}, lock pttl ${await redis.command('PTTL', `bull:${name}:${id}:lock`)}`);
  }
  const ghosts = [...runs.keys()].filter((id) => !acked.has(id)).length;
  const some = (ids) => ids.slice(0, 8).join(', ');
  checks.check(drained, `not every acknowledged job was processed within ${DRAIN_LIMIT_MS} ms`);
  checks.check(lost.length === 0, `${lost.length} acknowledged jobs never completed (e.g. ${some(lost)})`);
  checks.check(doubled.length === 0, `${doubled.length} jobs ran or completed more than once (e.g. ${some(doubled)})`);
  checks.check(silent.length === 0, `${silent.length} jobs completed in Redis (processor ran once) but their Worker ` +
    `emitted no 'completed' (it emitted an error instead: a finish retried after a timeout is refused with ` +
    `'Missing lock' because the first one was applied) (e.g. ${some(silent)})`);
  // REDIS_OUTCOME_UNKNOWN is a RedisTimeoutError, a RedisUnavailableError too:
  // a 503 either way (and a custom jobId makes the retry safe).
  const unclassified = [...rejected.keys()].filter(
    (k) => !k.includes('REDIS_UNAVAILABLE') && !k.includes('REDIS_OUTCOME_UNKNOWN'),
  );
  if (unclassified.length) {
    checks.flag(`adds rejected with ${unclassified.map((k) => `${k}×${rejected.get(k)}`).join(', ')} rather than ` +
      `RedisUnavailableError (e.g. 'BusyLoading' while the restarted server loads its AOF): callers mapping it to 503 get a 500`);
  }

  await Promise.all(workers.map((w) => w.close()));
  await queue.close();
  await redis.close();
  return checks.result({
    acknowledged: acked.size,
    completed: [...acked.keys()].filter((id) => completedSet.has(id)).length,
    duplicates: doubled.length,
    lost: lost.length,
    noCompletedEvent: silent.length,
    rejected: [...rejected.values()].reduce((a, b) => a + b, 0),
    rejectedBy: Object.fromEntries(rejected),
    ghosts,
    recoveredStalled: stalled,
    workerErrors,
    resumeMs,
  });
}

module.exports = { name: 'restarts', run };

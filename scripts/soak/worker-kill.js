'use strict';

// 3. A worker process SIGKILLed mid-job: its lock (lockDuration 2000) is no
// longer renewed, and another worker's stalled checker (stalledInterval 1000)
// must put the job back and complete it. Time to recovery: kill -> completed.

const { Queue, Worker } = require('../..');
const { RedisServer } = require('./lib/redis-server');
const { Checks, forkChild, killChild, message, waitFor } = require('./lib/util');

const ROUNDS = { quick: 1, full: 5 };
const RECOVERY_LIMIT_MS = 20000;

async function round(redis, name, checks, log) {
  const queue = new Queue(name, { connection: redis.connection });
  // The fleet shares one stalledInterval: the stalled-check key is queue-wide
  // (BullMQ's layout) and the last worker to check sets its expiry, so a
  // doomed worker left at the 30 s default would hold off every checker for 30 s.
  const opts = { lockDuration: 2000, stalledInterval: 1000 };
  const child = forkChild('stuck-worker.js', [redis.url, name, 'hang', JSON.stringify(opts)]);
  let rescuer;
  try {
    await message(child, (m) => m.ready, 10000, 'child worker ready');
    const job = await queue.add('survives', { n: 7 });
    await message(child, (m) => m.active === job.id, 10000, 'child took the job');
    // The rescuer starts idle beside the doomed worker, as in a real fleet.
    const completed = new Map();
    rescuer = new Worker(name, async (j) => j.data.n * 6, { connection: redis.connection, stalledInterval: 1000 });
    rescuer.on('error', () => {});
    rescuer.on('completed', (j) => completed.set(j.id, Date.now()));
    await killChild(child, 'SIGKILL');
    const killedAt = Date.now();
    const done = await waitFor(() => completed.get(job.id), RECOVERY_LIMIT_MS);
    checks.check(done, `job ${job.id} was not recovered within ${RECOVERY_LIMIT_MS} ms of the kill`);
    const stored = await queue.getJob(job.id);
    checks.check(stored && stored.returnvalue === 42, `job ${job.id} stored ${stored && stored.returnvalue}, not 42`);
    checks.check(stored && stored.stalledCounter === 1, `job ${job.id} stalledCounter ${stored && stored.stalledCounter}, not 1`);
    const ms = done ? done - killedAt : -1;
    log(`recovered job ${job.id} ${ms} ms after kill -9`);
    return ms;
  } finally {
    await killChild(child, 'SIGKILL');
    if (rescuer) await rescuer.close();
    await queue.close();
  }
}

async function run({ quick, log }) {
  const checks = new Checks();
  const redis = await RedisServer.start();
  const recoveryMs = [];
  try {
    const rounds = quick ? ROUNDS.quick : ROUNDS.full;
    for (let i = 0; i < rounds; i++) recoveryMs.push(await round(redis, `soak-kill-${process.pid}-${i}`, checks, log));
  } finally {
    await redis.close();
  }
  return checks.result({ rounds: recoveryMs.length, recoveryMs, maxRecoveryMs: Math.max(...recoveryMs) });
}

module.exports = { name: 'worker-kill', run };

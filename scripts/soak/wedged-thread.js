'use strict';

// 4. A wedged JS thread: the child's processor runs `for(;;){}`. bullrush
// renews locks from Rust, so a process whose event loop is stuck would hold
// its job forever; eventLoopBlockLimit (3000 here) stops the renewals once JS
// has been silent that long, and another worker's stalled checker
// (stalledInterval 1000) recovers the job while the child is still alive.
// The full run also runs the control: without the option (default 300000)
// the job stays held.

const { Queue, Worker } = require('../..');
const { RedisServer } = require('./lib/redis-server');
const { Checks, forkChild, killChild, message, waitFor } = require('./lib/util');

const RECOVERY_LIMIT_MS = 20000;
const CONTROL_MS = 8000;

/** A wedged child holding one job, and an idle rescuer beside it; resolves when the rescuer completed it (or not). */
async function wedge(redis, name, childOpts, waitMs) {
  const queue = new Queue(name, { connection: redis.connection });
  // Same stalledInterval for the child: the stalled-check key is queue-wide (see worker-kill.js).
  const opts = { lockDuration: 1000, stalledInterval: 1000, ...childOpts };
  const child = forkChild('stuck-worker.js', [redis.url, name, 'spin', JSON.stringify(opts)]);
  let rescuer;
  try {
    await message(child, (m) => m.ready, 10000, 'child worker ready');
    const job = await queue.add('wedged', { n: 7 });
    await message(child, (m) => m.active === job.id, 10000, 'child took the job');
    const activeAt = Date.now();
    let completedAt;
    rescuer = new Worker(name, async (j) => j.data.n * 6, { connection: redis.connection, stalledInterval: 1000 });
    rescuer.on('error', () => {});
    rescuer.on('completed', (j) => {
      if (j.id === job.id) completedAt = Date.now();
    });
    await waitFor(() => completedAt, waitMs);
    const childAlive = child.exitCode === null && child.signalCode === null;
    const state = await queue.getJobState(job.id);
    return { ms: completedAt ? completedAt - activeAt : -1, childAlive, state };
  } finally {
    await killChild(child, 'SIGKILL');
    if (rescuer) await rescuer.close();
    await queue.close();
  }
}

async function run({ quick, log }) {
  const checks = new Checks();
  const redis = await RedisServer.start();
  const figures = {};
  try {
    const limited = await wedge(redis, `soak-wedged-${process.pid}`, { eventLoopBlockLimit: 3000 }, RECOVERY_LIMIT_MS);
    log(`eventLoopBlockLimit 3000: recovered after ${limited.ms} ms, child alive: ${limited.childAlive}`);
    checks.check(limited.ms >= 0, `the wedged child's job was not recovered within ${RECOVERY_LIMIT_MS} ms (state ${limited.state})`);
    checks.check(limited.childAlive, 'the child died: the recovery proves nothing about a live, wedged process');
    checks.check(limited.ms < 0 || limited.ms >= 3000, `recovered after ${limited.ms} ms, before the 3000 ms limit: renewals stopped early`);
    figures.recoveryMs = limited.ms;
    if (!quick) {
      const control = await wedge(redis, `soak-wedged-control-${process.pid}`, {}, CONTROL_MS);
      log(`default limit: after ${CONTROL_MS} ms the job is ${control.state}`);
      checks.check(control.ms < 0 && control.state === 'active',
        `without eventLoopBlockLimit the job should stay held for ${CONTROL_MS} ms, but it was ${control.state} (${control.ms} ms)`);
      figures.controlHeldMs = control.ms < 0 ? CONTROL_MS : 0;
    }
  } finally {
    await redis.close();
  }
  return checks.result(figures);
}

module.exports = { name: 'wedged-thread', run };

'use strict';

// 7. Worker churn: create, waitUntilReady and close a Worker 20,000 times
// (2,000 quick), on Redis and on the embedded store, in a child run with
// --expose-gc. The RSS growth per cycle after a warm-up (least-squares slope
// of the samples, so that one noisy sample does not decide) should be ~0.
// A leak of ~7 KB/cycle was reported and is being fixed elsewhere: above
// 1 KB/cycle the figure is flagged; the full run fails above 1 KB/cycle, the
// quick (CI) run only above 5 KB/cycle, a clearly broken figure, because
// 2,000 cycles are too few to tell 1 KB from the allocator's noise.

const { RedisServer } = require('./lib/redis-server');
const { Checks, forkChild, message, killChild, slope, waitFor } = require('./lib/util');

const SIZES = { quick: { cycles: 2000, every: 100 }, full: { cycles: 20000, every: 500 } };
const WARMUP_SHARE = 0.25;
const FLAG_KB = 1;
const FAIL_KB = { quick: 5, full: 1 };
// Once every Worker is closed a process keeps at most its shared command connection.
const KEPT_CLIENTS = 1;

/** Runs the churn in a child; with `redis`, also counts the connections the child still holds once done. */
async function churn(connection, name, size, redis) {
  const child = forkChild('worker-churn.js', [connection, name, String(size.cycles), String(size.every)], ['--expose-gc']);
  try {
    const m = await message(child, (x) => x.samples || x.error, 20 * 60000, 'worker churn');
    if (m.error) throw new Error(m.error);
    if (redis) {
      // Closing is asynchronous: wait (bounded) for the count to settle at what a process keeps.
      await waitFor(async () => (m.clients = await redis.clients()) <= KEPT_CLIENTS, 5000, 200);
    }
    return m;
  } finally {
    await killChild(child);
  }
}

function perCycle({ samples }, field, warmupCycles) {
  const late = samples.filter((s) => s.cycle >= warmupCycles);
  return Math.round((slope(late.map((s) => s.cycle), late.map((s) => s[field])) / 1024) * 100) / 100;
}

async function run({ quick, log }) {
  const size = quick ? SIZES.quick : SIZES.full;
  const checks = new Checks();
  const failKB = quick ? FAIL_KB.quick : FAIL_KB.full;
  const redis = await RedisServer.start();
  const figures = { cycles: size.cycles };
  try {
    for (const [store, connection] of [['redis', redis.url], ['memory', 'memory://']]) {
      const result = await churn(connection, `soak-churn-${process.pid}`, size, store === 'redis' && redis);
      const rssKB = perCycle(result, 'rss', size.cycles * WARMUP_SHARE);
      const heapKB = perCycle(result, 'heapUsed', size.cycles * WARMUP_SHARE);
      const first = result.samples[0].rss;
      const last = result.samples[result.samples.length - 1].rss;
      log(`${store}: ${rssKB} KB/cycle RSS, ${heapKB} KB/cycle heap, ${Math.round(first / 1048576)} -> ${Math.round(last / 1048576)} MB`);
      figures[`${store}RssKBPerCycle`] = rssKB;
      figures[`${store}HeapKBPerCycle`] = heapKB;
      figures[`${store}CyclesPerS`] = Math.round(size.cycles / result.seconds);
      if (rssKB > FLAG_KB) checks.flag(`${store}: RSS grows by ${rssKB} KB per Worker create/close cycle (flagged above ${FLAG_KB})`);
      if (store === 'redis') {
        figures.redisClientsAfter = result.clients;
        checks.check(result.clients <= KEPT_CLIENTS, `after ${size.cycles} closed Workers the process still holds ${result.clients} Redis connections`);
      }
      checks.check(rssKB <= failKB, `${store}: RSS grows by ${rssKB} KB per Worker cycle (fails above ${failKB} in the ${quick ? 'quick' : 'full'} run)`);
    }
  } finally {
    await redis.close();
  }
  return checks.result(figures);
}

module.exports = { name: 'worker-churn', run };

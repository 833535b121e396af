'use strict';

// A health report for web backends: Redis reachability and latency, and the
// depth of each queue; an unreachable Redis is reported, never waited on.

const { call } = require('./native');

function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * `{ status: 'ok' | 'unhealthy', backend: 'redis' | 'memory',
 *    redis: { connected, latencyMs, error? } (null for the embedded engine),
 *    queues: { <name>: { waiting, active, delayed, prioritized, failed, completed, paused } } }`
 */
async function health(queues, opts = {}) {
  const list = Array.isArray(queues) ? queues : [queues];
  if (list.length === 0) throw new TypeError('health() needs at least one Queue');
  const timeoutMs = opts.timeoutMs ?? 2000;
  const { embedded } = list[0];
  const report = {
    status: 'ok',
    backend: embedded ? 'memory' : 'redis',
    redis: embedded ? null : { connected: false, latencyMs: null },
    queues: {},
  };
  try {
    if (!embedded) {
      const started = process.hrtime.bigint();
      await within(call(list[0].native.ping()), timeoutMs, 'Redis');
      report.redis.connected = true;
      report.redis.latencyMs = Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100;
    }
    const depths = await within(
      Promise.all(
        list.map(async (queue) => {
          const [counts, paused] = await Promise.all([
            queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'),
            queue.isPaused(),
          ]);
          return [queue.name, { ...counts, paused }];
        }),
      ),
      timeoutMs,
      'Redis',
    );
    report.queues = Object.fromEntries(depths);
  } catch (err) {
    report.status = 'unhealthy';
    if (report.redis) report.redis.error = err.message;
    else report.error = err.message;
  }
  return report;
}

module.exports = { health };

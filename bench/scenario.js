'use strict';

// One benchmark round of one implementation, in its own process.
//
//   node bench/scenario.js <bullmq|bullrush> <scenario> '<params JSON>'
//
// Forked by bench/run.js. Around the timed section it sends {mark:'start'} and
// {mark:'end'} over IPC and waits for the parent's ack, so the parent can read
// Redis' INFO cpu right before and right after. It prints exactly one line
// `BENCH_RESULT {...}` on stdout and exits on its own once everything is
// closed (a watchdog reports it if something keeps the process alive).
//
// Can also run by hand without a parent (no Redis CPU then):
//   node bench/scenario.js bullrush worker '{"port":6380,"jobs":1000,"concurrency":1}'

const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const STALL_MS = 30000; // worker scenarios fail if no job completes for this long
const CLOSE_TIMEOUT_MS = 15000;
const EXIT_WATCHDOG_MS = 10000;
const EXIT_LINGERED = 3;

const [impl, scenario, paramsText = '{}'] = process.argv.slice(2);
const params = JSON.parse(paramsText);

// ---------------------------------------------------------------- helpers

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** bullrush may be mid-rebuild by another engineer: retry its require for a while. */
function loadImpl(name) {
  if (name === 'bullmq') return require('bullmq');
  if (name !== 'bullrush') throw new Error(`unknown implementation '${name}'`);
  const deadline = Date.now() + 180000;
  for (;;) {
    try {
      return require(ROOT);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      process.stderr.write(`[scenario] require('${ROOT}') failed (${err.message.split('\n')[0]}); retrying in 3 s\n`);
      for (const key of Object.keys(require.cache)) {
        if (key.startsWith(ROOT) && !key.includes('node_modules')) delete require.cache[key];
      }
      sleepSync(3000);
    }
  }
}

const nowNs = () => process.hrtime.bigint();
const msBetween = (a, b) => Number(b - a) / 1e6;

/** Asks the parent to read Redis INFO now; resolves once it has. */
function mark(what) {
  if (!process.send) return Promise.resolve();
  return new Promise((resolve) => {
    const onMessage = (msg) => {
      if (msg && msg.ack === what) {
        process.off('message', onMessage);
        resolve();
      }
    };
    process.on('message', onMessage);
    process.send({ mark: what });
  });
}

/** Peak RSS sampled every 50 ms while running. */
function rssSampler() {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  return () => {
    clearInterval(timer);
    return Math.max(peak, process.memoryUsage().rss);
  };
}

/**
 * Runs fn() as the timed section: wall time, process CPU (user+sys, every
 * thread, so Rust's too), peak RSS; the parent measures Redis around it.
 */
async function timed(fn) {
  await mark('start');
  const stopRss = rssSampler();
  const cpu0 = process.cpuUsage();
  const t0 = nowNs();
  const extra = (await fn()) || {};
  const t1 = nowNs();
  const cpu = process.cpuUsage(cpu0);
  const peakRss = stopRss();
  await mark('end');
  return { ms: msBetween(t0, t1), cpuUs: cpu.user + cpu.system, peakRssBytes: peakRss, ...extra };
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

function latencySummary(values) {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.length ? sorted[sorted.length - 1] : null,
  };
}

class BenchFailure extends Error {}

function check(condition, message) {
  if (!condition) throw new BenchFailure(message);
}

// ---------------------------------------------------------------- setup

const lib = loadImpl(impl);
const connection = { host: '127.0.0.1', port: params.port, maxRetriesPerRequest: null };
const queueName = params.queue || `bench-${impl}-${scenario}-${process.pid}-${Date.now().toString(36)}`;
const SMALL_DATA = { user: { id: 1, name: 'x' }, items: [1, 2, 3] };

const toClose = []; // closed in reverse order at the end
const errors = []; // 'error' events seen (reported, not fatal by themselves)

function track(obj, label) {
  toClose.push(obj);
  obj.on('error', (err) => {
    errors.push(`${label}: ${err && err.message ? err.message : String(err)}`);
  });
  return obj;
}

function newQueue() {
  return track(new lib.Queue(queueName, { connection }), 'queue');
}

async function fill(queue, total, makeData, opts) {
  for (let i = 0; i < total; i += 1000) {
    const batch = [];
    for (let n = i; n < Math.min(total, i + 1000); n++) batch.push({ name: 'job', data: makeData(n), opts });
    await queue.addBulk(batch);
  }
}

async function expectCounts(queue, expected, what) {
  const types = Object.keys(expected);
  const counts = await queue.getJobCounts(...types);
  const wrong = types.filter((t) => counts[t] !== expected[t]);
  check(
    wrong.length === 0,
    `${what}: job counts in Redis ${JSON.stringify(counts)}, expected ${JSON.stringify(expected)}`,
  );
  return counts;
}

// ---------------------------------------------------------------- scenarios

/** 1. add awaited one at a time (after an untimed warm-up). */
async function addSerial({ jobs, warmup }) {
  const queue = newQueue();
  for (let i = 0; i < warmup; i++) await queue.add('warm', SMALL_DATA);
  const result = await timed(async () => {
    for (let i = 0; i < jobs; i++) await queue.add('job', SMALL_DATA);
  });
  await expectCounts(queue, { waiting: warmup + jobs }, 'after add');
  return { jobs, ...result };
}

/** 2. add with `inFlight` calls outstanding at any time. */
async function addConcurrent({ jobs, inFlight, warmup }) {
  const queue = newQueue();
  for (let i = 0; i < warmup; i++) await queue.add('warm', SMALL_DATA);
  const ids = new Set();
  const result = await timed(async () => {
    let next = 0;
    const lane = async () => {
      while (next < jobs) {
        next++;
        const job = await queue.add('job', SMALL_DATA);
        ids.add(job.id);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
  });
  check(ids.size === jobs, `add returned ${ids.size} distinct ids for ${jobs} jobs`);
  await expectCounts(queue, { waiting: warmup + jobs }, 'after add');
  return { jobs, ...result };
}

/** 3. addBulk in batches of `batch`, awaited one after another. */
async function addBulk({ jobs, batch, warmup }) {
  const queue = newQueue();
  for (let i = 0; i < warmup; i++) await queue.add('warm', SMALL_DATA);
  const batchJobs = Array.from({ length: batch }, () => ({ name: 'job', data: SMALL_DATA }));
  let added = 0;
  const result = await timed(async () => {
    for (let i = 0; i < jobs; i += batch) {
      const list = i + batch <= jobs ? batchJobs : batchJobs.slice(0, jobs - i);
      const out = await queue.addBulk(list);
      added += out.length;
    }
  });
  check(added === jobs, `addBulk returned ${added} jobs for ${jobs}`);
  await expectCounts(queue, { waiting: warmup + jobs }, 'after addBulk');
  return { jobs, ...result };
}

/**
 * 4-6. Pre-fill `jobs` jobs (untimed), then time from worker start to the
 * last 'completed' event. Verifies every job completed exactly once.
 *
 * removeOnComplete is set as a *job* option (`{ removeOnComplete: true }` in
 * addBulk): BullMQ's Worker option only takes KeepJobs ({count, age}); given
 * `true` there, BullMQ 6.7's moveToFinished script errors ("attempt to index
 * field 'keepJobs' (a boolean value)") and every job stays active.
 */
async function workerDrain({ jobs, concurrency, removeOnComplete, returnValue }) {
  const queue = newQueue();
  await fill(queue, jobs, (n) => ({ n }), removeOnComplete ? { removeOnComplete: true } : undefined);
  await expectCounts(queue, { waiting: jobs }, 'after fill');

  const processor = returnValue ? async (job) => ({ ok: true, n: job.data.n }) : async () => {};
  const opts = { connection, concurrency, autorun: false };
  const worker = track(new lib.Worker(queueName, processor, opts), 'worker');

  const seen = new Set();
  let duplicates = 0;
  let wrongResults = 0;
  let failed = 0;
  const firstFailures = [];
  let lastProgress = Date.now();
  let finish;
  const allDone = new Promise((resolve) => {
    finish = resolve;
  });
  const settle = () => {
    lastProgress = Date.now();
    if (seen.size + failed >= jobs) finish();
  };
  worker.on('completed', (job, result) => {
    if (seen.has(job.id)) duplicates++;
    seen.add(job.id);
    if (returnValue && !(result && result.ok === true && result.n === job.data.n)) wrongResults++;
    settle();
  });
  worker.on('failed', (job, err) => {
    failed++;
    if (firstFailures.length < 3) firstFailures.push(`${job && job.id}: ${err && err.message}`);
    settle();
  });

  await worker.waitUntilReady();
  let runError;
  const result = await timed(async () => {
    worker.run().catch((err) => {
      runError = err;
    });
    let stallTimer;
    const stalled = new Promise((_, reject) => {
      stallTimer = setInterval(() => {
        if (runError) reject(new BenchFailure(`worker.run() rejected: ${runError.message}`));
        if (Date.now() - lastProgress > STALL_MS) {
          reject(new BenchFailure(`stalled: ${seen.size}/${jobs} completed, ${failed} failed, no progress for ${STALL_MS / 1000} s`));
        }
      }, 250);
    });
    try {
      await Promise.race([allDone, stalled]);
    } catch (err) {
      const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed').catch(() => ({}));
      err.message += `; Redis counts ${JSON.stringify(counts)}; 'error' events: ${JSON.stringify(errors.slice(0, 3))}`;
      throw err;
    } finally {
      clearInterval(stallTimer);
    }
  });

  check(failed === 0, `${failed} jobs failed (no-op processor): ${firstFailures.join('; ')}`);
  check(duplicates === 0, `${duplicates} duplicate 'completed' events`);
  check(seen.size === jobs, `${seen.size} distinct jobs completed, expected ${jobs}`);
  check(wrongResults === 0, `${wrongResults} 'completed' events carried a wrong result`);
  await expectCounts(
    queue,
    { waiting: 0, active: 0, failed: 0, delayed: 0, completed: removeOnComplete ? 0 : jobs },
    'after the worker drained the queue',
  );
  return { jobs, ...result };
}

/**
 * 7. Steady `rate` jobs/s for `seconds`, adder and worker in one process.
 * Latency add->processor start and add->'completed' event, from an hrtime
 * map keyed by job.data.n (set just before queue.add is called).
 */
async function latency({ rate, seconds, concurrency, warmup }) {
  const queue = newQueue();
  const sentAt = new Map();
  const toStart = [];
  const toCompleted = [];
  let measuring = false;
  let completed = 0;
  let failed = 0;
  let lastProgress = Date.now();
  let target = Infinity;
  let finish;
  let allDone = new Promise((resolve) => {
    finish = resolve;
  });

  const worker = track(
    new lib.Worker(
      queueName,
      async (job) => {
        const t0 = sentAt.get(job.data.n);
        if (measuring && t0 !== undefined) toStart.push(msBetween(t0, nowNs()));
      },
      { connection, concurrency },
    ),
    'worker',
  );
  worker.on('completed', (job) => {
    const t0 = sentAt.get(job.data.n);
    if (measuring && t0 !== undefined) toCompleted.push(msBetween(t0, nowNs()));
    completed++;
    lastProgress = Date.now();
    if (completed + failed >= target) finish();
  });
  worker.on('failed', () => {
    failed++;
    if (completed + failed >= target) finish();
  });
  await worker.waitUntilReady();

  let addErrors = 0;
  let n = 0;
  const send = () => {
    const id = n++;
    sentAt.set(id, nowNs());
    queue.add('lat', { n: id }).catch(() => {
      addErrors++;
    });
  };

  // Untimed warm-up: a few jobs through the whole path.
  target = warmup;
  for (let i = 0; i < warmup; i++) send();
  await withTimeout(allDone, STALL_MS, `warm-up of ${warmup} jobs`);

  const total = Math.round(rate * seconds);
  const measuredFrom = n;
  target = warmup + total;
  allDone = new Promise((resolve) => {
    finish = resolve;
  });
  measuring = true;
  lastProgress = Date.now();
  const result = await timed(async () => {
    const start = nowNs();
    let sent = 0;
    await new Promise((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor((msBetween(start, nowNs()) * rate) / 1000));
        while (sent < due) {
          send();
          sent++;
        }
        if (sent >= total) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
    const sendMs = msBetween(start, nowNs());
    let stallTimer;
    try {
      await Promise.race([
        allDone,
        new Promise((_, reject) => {
          stallTimer = setInterval(() => {
            if (Date.now() - lastProgress > STALL_MS) {
              reject(new BenchFailure(`stalled: ${completed - warmup}/${total} completed, ${failed} failed`));
            }
          }, 250);
        }),
      ]);
    } finally {
      clearInterval(stallTimer);
    }
    return { sendMs, achievedRate: (total / sendMs) * 1000 };
  });
  measuring = false;

  check(addErrors === 0, `${addErrors} add() calls rejected`);
  check(failed === 0, `${failed} jobs failed`);
  check(completed === warmup + total, `${completed} completed, expected ${warmup + total}`);
  check(toStart.length === total, `processor saw ${toStart.length} of ${total} measured jobs (from n=${measuredFrom})`);
  await expectCounts(queue, { waiting: 0, active: 0, completed: warmup + total }, 'after the latency run');
  return {
    jobs: total,
    ...result,
    latency: { toStart: latencySummary(toStart), toCompleted: latencySummary(toCompleted) },
  };
}

const SCENARIOS = {
  'add-serial': addSerial,
  'add-concurrent': addConcurrent,
  'add-bulk': addBulk,
  worker: workerDrain,
  latency,
};

// ---------------------------------------------------------------- main

async function closeAll() {
  const failures = [];
  for (const obj of toClose.reverse()) {
    try {
      await withTimeout(Promise.resolve(obj.close()), CLOSE_TIMEOUT_MS, `${obj.constructor.name}.close()`);
    } catch (err) {
      failures.push(err.message);
    }
  }
  return failures;
}

function emit(result) {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
}

async function main() {
  const fn = SCENARIOS[scenario];
  if (!fn) throw new Error(`unknown scenario '${scenario}' (known: ${Object.keys(SCENARIOS).join(', ')})`);
  let result;
  let failure;
  try {
    result = await fn(params);
  } catch (err) {
    failure = err;
  }
  const closeFailures = await closeAll();
  const rss = process.resourceUsage().maxRSS * 1024;
  if (failure) {
    emit({ ok: false, impl, scenario, error: failure.message, stack: failure instanceof BenchFailure ? undefined : failure.stack, errors: errors.slice(0, 5), closeFailures });
    process.exitCode = 1;
  } else if (closeFailures.length) {
    emit({ ok: false, impl, scenario, error: `close failed: ${closeFailures.join('; ')}`, errors: errors.slice(0, 5) });
    process.exitCode = 1;
  } else {
    emit({ ok: true, impl, scenario, ...result, maxRssBytes: rss, errorEvents: errors.length, errors: errors.slice(0, 5) });
  }
  if (process.connected) process.disconnect();
  // If something still holds the event loop after everything was closed, say so.
  setTimeout(() => {
    process.stderr.write(`[scenario] ${impl}/${scenario}: process still alive ${EXIT_WATCHDOG_MS / 1000} s after closing everything; forcing exit\n`);
    process.exit(EXIT_LINGERED);
  }, EXIT_WATCHDOG_MS).unref();
}

main().catch((err) => {
  emit({ ok: false, impl, scenario, error: err.message, stack: err.stack });
  process.exit(1);
});

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

const { fork } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { MiniRedis } = require('./redis');

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

/** BENCH_TRACE=1: phase timings on stderr. */
const traceStart = Date.now();
const trace = (what) => {
  if (process.env.BENCH_TRACE) process.stderr.write(`[trace ${impl} ${scenario} +${Date.now() - traceStart} ms] ${what}\n`);
};
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
// params.memory: bullrush's embedded engine (no Redis).
const connection = params.memory ? 'memory://' : { host: '127.0.0.1', port: params.port, maxRetriesPerRequest: null };
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

/**
 * 0. A bare PING, awaited one at a time: the floor under every awaited call
 * (one round trip), through the client each implementation uses for its
 * commands: bullmq's ioredis connection, bullrush's addon.
 */
async function pingSerial({ jobs, warmup }) {
  const queue = newQueue();
  let ping;
  if (impl === 'bullmq') {
    // bullmq 6 keeps its ioredis client on the queue's backend.
    const client = await (queue.backend ? queue.backend.client : queue.client);
    ping = () => client.ping();
  } else {
    ping = () => queue.native.ping();
  }
  for (let i = 0; i < warmup; i++) await ping();
  const result = await timed(async () => {
    for (let i = 0; i < jobs; i++) await ping();
  });
  return { jobs, ...result };
}

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

// ---------------------------------------------------------------- 8. QueueEvents fan-out
//
// This process holds only the QueueEvents listeners, so its CPU is theirs.
// A producer child (this file again, as 'qe-producer') adds the jobs at a
// steady rate and processes them with a Worker. Each job's name is its add
// time on the machine-wide monotonic clock, which both processes read, so a
// listener computes add → 'added' event latency from the event alone; the
// processor returns the same number, so 'completed' carries it too.

/**
 * Milliseconds on CLOCK_MONOTONIC (what process.hrtime reads): the same clock
 * in every process of the machine, read through the cheaper performance.now().
 * The offset between the two is calibrated once (both warmed up first, since
 * the first access to `performance` loads a module; the tightest of 20 pairs).
 */
const MONO_OFFSET_MS = (() => {
  let best = { spread: Infinity, offset: 0 };
  for (let i = 0; i < 20; i++) {
    const a = process.hrtime.bigint();
    const p = performance.now();
    const b = process.hrtime.bigint();
    const spread = Number(b - a);
    if (spread < best.spread) best = { spread, offset: (Number(a) + spread / 2) / 1e6 - p };
  }
  return best.offset;
})();
const monoMs = () => performance.now() + MONO_OFFSET_MS;

/** The job events every listener subscribes to, one bit each; each job produces each once. */
const QE_EVENTS = ['added', 'waiting', 'active', 'completed'];
const QE_ALL = (1 << QE_EVENTS.length) - 1;

function parseClientList(text) {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((line) => {
      const client = {};
      for (const kv of line.trim().split(' ')) {
        const i = kv.indexOf('=');
        if (i > 0) client[kv.slice(0, i)] = kv.slice(i + 1);
      }
      return client;
    });
}

/**
 * Local ports of this process' TCP connections to Redis (Linux: socket
 * inodes of /proc/self/fd matched against /proc/net/tcp{,6}); null elsewhere.
 */
function ownRedisPorts(redisPort) {
  const inodes = new Set();
  try {
    for (const fd of fs.readdirSync('/proc/self/fd')) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return null;
  }
  const ports = new Set();
  let read = false;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = fs.readFileSync(file, 'utf8');
      read = true;
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      if (parseInt(f[2].split(':').pop(), 16) === redisPort && inodes.has(f[9])) {
        ports.add(parseInt(f[1].split(':').pop(), 16));
      }
    }
  }
  return read ? ports : null;
}

async function queueEventsFanout({ listeners, rate, seconds, concurrency, warmup, eventsMaxLen, readyBatch = 50 }) {
  const jobs = Math.round(rate * seconds);
  const total = warmup + jobs; // job ids 1..total on this fresh queue
  const prefix = 'bull';
  const qeName = `${prefix}:${Buffer.from(queueName).toString('base64')}:qe`;
  const eventsKey = `${prefix}:${queueName}:events`;

  const monitor = new MiniRedis(params.port);
  await monitor.connect();
  const qes = [];
  let producer;
  let producerExit;
  try {
    const maxClients = Number((await monitor.command('CONFIG', 'GET', 'maxclients'))[1]);
    check(
      maxClients >= listeners + 100,
      `Redis maxclients is ${maxClients}: too low for ${listeners} listeners (BullMQ opens one connection per QueueEvents); ` +
        'raise maxclients and the file-descriptor limit (ulimit -n)',
    );

    /** Which connections are whose, from CLIENT LIST (the monitor's own connection left out). */
    const connections = async () => {
      const list = parseClientList(await monitor.command('CLIENT', 'LIST'));
      const own = ownRedisPorts(params.port);
      if (own) own.delete(monitor.socket.localPort);
      const port = (c) => Number(String(c.addr).split(':').pop());
      const qe = list.filter((c) => c.name === qeName);
      return {
        qe: qe.length,
        qeBlocked: qe.filter((c) => c.cmd === 'xread').length,
        process: own ? list.filter((c) => own.has(port(c))).length : null,
        qeOfProcess: own ? qe.filter((c) => own.has(port(c))).length : null,
        server: list.length - 1,
      };
    };
    const entriesAdded = async () => {
      try {
        const info = await monitor.command('XINFO', 'STREAM', eventsKey);
        const i = info.indexOf('entries-added');
        return i >= 0 ? Number(info[i + 1]) : null;
      } catch {
        return null; // Redis < 7
      }
    };

    // The events stream's cap (BullMQ's default: 10,000 entries). The Queue
    // option streams.events.maxLen sets it for BullMQ (written to meta when its
    // Queue starts); bullrush reads meta's opts.maxLenEvents, written here first.
    if (eventsMaxLen) await monitor.command('HSET', `${prefix}:${queueName}:meta`, 'opts.maxLenEvents', eventsMaxLen);

    // ------------------------------------------------ the producer process
    const producerParams = { port: params.port, queue: queueName, concurrency, eventsMaxLen };
    producer = fork(__filename, [impl, 'qe-producer', JSON.stringify(producerParams)], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      execArgv: [],
    });
    const replies = new Map(); // type -> {resolve, reject}
    producerExit = new Promise((resolve) => {
      producer.on('exit', (code, signal) => {
        for (const p of replies.values()) p.reject(new BenchFailure(`producer exited (code ${code}, signal ${signal})`));
        replies.clear();
        resolve({ code, signal });
      });
    });
    producer.on('message', (msg) => {
      const p = msg && replies.get(msg.type);
      if (p) {
        replies.delete(msg.type);
        p.resolve(msg);
      }
    });
    const ask = (msg, replyType, ms) => {
      const reply = new Promise((resolve, reject) => replies.set(replyType, { resolve, reject }));
      if (msg) producer.send(msg);
      return withTimeout(reply, ms, `producer reply '${replyType}'`);
    };
    const producerReady = ask(null, 'ready', 60000);

    // ------------------------------------------------ the listeners
    const flags = new Uint8Array(listeners * total);
    const addedLat = new Float32Array(listeners * jobs);
    const completedLat = new Float32Array(listeners * jobs);
    let delivered = 0;
    let duplicates = 0;
    let strays = 0;
    let target = Infinity;
    let finish = () => {};

    const listen = (qe, l) => {
      const base = l * total;
      const mark1 = (jobId, bit) => {
        const idx = Number(jobId) - 1;
        if (!(idx >= 0 && idx < total)) {
          strays++;
          return -1;
        }
        if (flags[base + idx] & bit) {
          duplicates++;
          return -1;
        }
        flags[base + idx] |= bit;
        if (++delivered === target) finish();
        return idx;
      };
      qe.on('added', (args) => {
        const idx = mark1(args.jobId, 1);
        if (idx >= warmup) addedLat[l * jobs + idx - warmup] = monoMs() - Number(args.name);
      });
      qe.on('waiting', (args) => {
        mark1(args.jobId, 2);
      });
      qe.on('active', (args) => {
        mark1(args.jobId, 4);
      });
      qe.on('completed', (args) => {
        const idx = mark1(args.jobId, 8);
        if (idx >= warmup) completedLat[l * jobs + idx - warmup] = monoMs() - Number(args.returnvalue);
      });
      qe.on('error', (err) => {
        errors.push(`listener ${l}: ${err && err.message ? err.message : String(err)}`);
      });
    };

    /** What is missing, for a failure message. */
    const missing = (upTo) => {
      const perEvent = QE_EVENTS.map(() => 0);
      const listenersShort = new Set();
      let first;
      for (let l = 0; l < listeners; l++) {
        for (let idx = 0; idx < upTo; idx++) {
          const f = flags[l * total + idx];
          if (f === QE_ALL) continue;
          listenersShort.add(l);
          QE_EVENTS.forEach((_, b) => {
            if (!(f & (1 << b))) {
              perEvent[b]++;
              if (!first) first = `listener ${l} missed '${QE_EVENTS[b]}' of job ${idx + 1}`;
            }
          });
        }
      }
      const counts = QE_EVENTS.map((e, b) => `${e} ${perEvent[b]}`).join(', ');
      return `missing (listener, event) pairs: ${counts}; ${listenersShort.size} of ${listeners} listeners affected` +
        `${first ? ` (first: ${first})` : ''}; duplicates ${duplicates}, unknown job ids ${strays}`;
    };

    /** Resolves once `target` events were delivered; fails after STALL_MS without progress. */
    const delivery = async (expected, upTo, what) => {
      let done;
      const all = new Promise((resolve) => {
        done = resolve;
      });
      target = expected;
      finish = done;
      if (delivered >= expected) done();
      let last = delivered;
      let lastChange = Date.now();
      let timer;
      const stalled = new Promise((_, reject) => {
        timer = setInterval(() => {
          if (delivered !== last) {
            last = delivered;
            lastChange = Date.now();
          } else if (Date.now() - lastChange > STALL_MS) {
            reject(new BenchFailure(`${what}: ${delivered}/${expected} events delivered, none for ${STALL_MS / 1000} s; ${missing(upTo)}`));
          }
        }, 250);
      });
      try {
        await Promise.race([all, stalled]);
      } finally {
        clearInterval(timer);
      }
    };

    trace('listeners: creating');
    const readyStart = nowNs();
    for (let i = 0; i < listeners; i += readyBatch) {
      const batch = [];
      for (let l = i; l < Math.min(listeners, i + readyBatch); l++) {
        const qe = new lib.QueueEvents(queueName, { connection: { ...connection } });
        listen(qe, l);
        qes.push(qe);
        batch.push(qe);
      }
      await withTimeout(Promise.all(batch.map((qe) => qe.waitUntilReady())), 60000, `waitUntilReady of listeners ${i + 1}-${i + batch.length}`);
    }
    if (impl === 'bullmq') {
      // BullMQ's waitUntilReady resolves once the connection is up, before its
      // first XREAD '$': events added in between would be missed. Wait until
      // every listener's connection is blocked in XREAD.
      const deadline = Date.now() + 60000;
      for (;;) {
        const c = await connections();
        if (c.qe >= listeners && c.qeBlocked >= listeners) break;
        check(Date.now() < deadline, `after 60 s only ${c.qeBlocked} of ${listeners} QueueEvents connections are in XREAD (${c.qe} named ${qeName})`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    // bullrush: waitUntilReady promises that no later event is missed; the
    // warm-up below checks that every listener got every event.
    trace('listeners ready');
    const readyMs = msBetween(readyStart, nowNs());
    await producerReady;

    trace('producer ready');
    // ------------------------------------------------ warm-up (untimed)
    await ask({ type: 'warmup', count: warmup }, 'warmup-done', 60000);
    await delivery(listeners * QE_EVENTS.length * warmup, warmup, `warm-up (${warmup} jobs)`);

    trace('warm-up delivered');
    const connectionsBefore = await connections();
    const entries0 = await entriesAdded();

    // ------------------------------------------------ timed: steady adds until every listener has every event
    let paced;
    let stopped;
    const result = await timed(async () => {
      paced = await ask({ type: 'go', rate, count: jobs }, 'paced', (seconds + 60) * 1000);
      await delivery(listeners * QE_EVENTS.length * total, total, `${jobs} jobs at ${rate}/s`);
      stopped = await ask({ type: 'stop', expect: total }, 'stopped', 15000);
      return { sendMs: paced.sendMs, achievedRate: (jobs / paced.sendMs) * 1000, helperCpuUs: stopped.cpuUs };
    });

    trace('timed section done');
    const entries1 = await entriesAdded();
    const connectionsAfter = await connections();

    check(paced.addErrors === 0, `${paced.addErrors} add() calls rejected in the producer: ${paced.firstError}`);
    check(stopped.failed === 0, `${stopped.failed} jobs failed in the producer's Worker`);
    check(stopped.completed === total, `the producer's Worker completed ${stopped.completed} jobs, expected ${total}`);
    check(duplicates === 0 && strays === 0 && delivered === listeners * QE_EVENTS.length * total, missing(total));
    if (flags.some((f) => f !== QE_ALL)) throw new BenchFailure(missing(total));

    trace('checks done');
    const peak = (key) => Math.max(connectionsBefore[key], connectionsAfter[key]);
    return {
      jobs,
      listeners,
      events: listeners * QE_EVENTS.length * jobs,
      ...result,
      readyMs,
      connections: {
        qe: peak('qe'),
        qeOfProcess: connectionsBefore.qeOfProcess === null ? null : peak('qeOfProcess'),
        process: connectionsBefore.process === null ? null : peak('process'),
        server: peak('server'),
      },
      streamEntriesPerJob: entries0 === null || entries1 === null ? null : (entries1 - entries0) / jobs,
      latency: { added: latencySummary(addedLat), completed: latencySummary(completedLat) },
    };
  } finally {
    const closing = [];
    trace('closing listeners');
    const closeResults = await Promise.allSettled(qes.map((qe) => withTimeout(Promise.resolve(qe.close()), CLOSE_TIMEOUT_MS, 'QueueEvents.close()')));
    const closeFailed = closeResults.filter((r) => r.status === 'rejected');
    if (closeFailed.length) closing.push(`${closeFailed.length} of ${qes.length} QueueEvents.close() failed: ${closeFailed[0].reason.message}`);
    if (producer && producer.exitCode === null && producer.signalCode === null) {
      if (producer.connected) producer.send({ type: 'close' });
      let timer;
      const exited = await Promise.race([producerExit, new Promise((r) => {
        timer = setTimeout(() => r(null), CLOSE_TIMEOUT_MS);
      })]);
      clearTimeout(timer);
      if (!exited) {
        producer.kill('SIGKILL');
        closing.push(`the producer did not exit within ${CLOSE_TIMEOUT_MS} ms of 'close'`);
      } else if (exited.code !== 0) {
        closing.push(`the producer exited with code ${exited.code}, signal ${exited.signal}`);
      }
    }
    trace('closed');
    monitor.close();
    if (closing.length) errors.push(...closing);
  }
}

/** The producer of scenario 8: adds at a steady rate and runs the Worker (its own process). */
async function qeProducer() {
  const { concurrency, eventsMaxLen } = params;
  const queue = new lib.Queue(queueName, { connection, ...(eventsMaxLen ? { streams: { events: { maxLen: eventsMaxLen } } } : {}) });
  const worker = new lib.Worker(queueName, async (job) => Number(job.name), { connection, concurrency });
  const problems = [];
  queue.on('error', (err) => problems.push(`queue: ${err.message}`));
  worker.on('error', (err) => problems.push(`worker: ${err.message}`));
  let completed = 0;
  let failed = 0;
  worker.on('completed', () => {
    completed++;
  });
  worker.on('failed', () => {
    failed++;
  });
  let closing = false;
  process.on('disconnect', () => {
    if (!closing) process.exit(1); // the listeners' process is gone
  });
  await queue.waitUntilReady();
  await worker.waitUntilReady();

  let cpu0;
  process.on('message', async (msg) => {
    if (msg.type === 'warmup') {
      for (let i = 0; i < msg.count; i++) await queue.add(monoMs().toFixed(3), { n: -1 - i });
      process.send({ type: 'warmup-done' });
    } else if (msg.type === 'go') {
      cpu0 = process.cpuUsage();
      const { rate, count } = msg;
      let addErrors = 0;
      let firstError;
      const start = nowNs();
      let sent = 0;
      await new Promise((resolve) => {
        const tick = () => {
          const due = Math.min(count, Math.floor((msBetween(start, nowNs()) * rate) / 1000));
          while (sent < due) {
            queue.add(monoMs().toFixed(3), { n: sent }).catch((err) => {
              addErrors++;
              firstError = firstError || err.message;
            });
            sent++;
          }
          if (sent >= count) resolve();
          else setTimeout(tick, 1);
        };
        tick();
      });
      process.send({ type: 'paced', sendMs: msBetween(start, nowNs()), addErrors, firstError });
    } else if (msg.type === 'stop') {
      // The listeners may see a job's 'completed' before this Worker emits it.
      const deadline = Date.now() + 5000;
      while (completed + failed < msg.expect && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const cpu = process.cpuUsage(cpu0);
      process.send({ type: 'stopped', cpuUs: cpu.user + cpu.system, completed, failed, problems: problems.slice(0, 3) });
    } else if (msg.type === 'close') {
      closing = true;
      await worker.close();
      await queue.close();
      process.disconnect();
    }
  });
  process.send({ type: 'ready' });
}

const SCENARIOS = {
  ping: pingSerial,
  'add-serial': addSerial,
  'add-concurrent': addConcurrent,
  'add-bulk': addBulk,
  worker: workerDrain,
  latency,
  'queue-events': queueEventsFanout,
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

if (scenario === 'qe-producer') {
  qeProducer().catch((err) => {
    process.stderr.write(`[qe-producer] ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    emit({ ok: false, impl, scenario, error: err.message, stack: err.stack });
    process.exit(1);
  });
}

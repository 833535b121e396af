#!/usr/bin/env node
'use strict';

// bullrush vs BullMQ benchmark.
//
//   node bench/run.js            full run: 3 rounds per implementation, writes
//                                bench/RESULTS.md, bench/chart.svg, bench/results.json
//   node bench/run.js --quick    job counts / 5, 1 round, prints the table only
//   options: --rounds=N  --only=1,3a,5  (scenario ids; 8 = 8a,8b,8c)
//   node bench/run.js --render   rewrites RESULTS.md and chart.svg from
//                                bench/results.json (no benchmark is run)
//
// Starts its own redis-server (free port, temp dir, no persistence) and stops
// it at the end. Every round of every implementation runs in a fresh child
// process (bench/scenario.js) on a fresh queue name, alternating
// bullmq, bullrush, bullmq, bullrush, ...; the table shows the median per
// implementation over the rounds.

const { fork, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { startRedis } = require('./redis');
const report = require('./report');

const ROOT = path.join(__dirname, '..');
const IMPLS = ['bullmq', 'bullrush'];
const CHILD_TIMEOUT_MS = 10 * 60 * 1000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- arguments

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const argValue = (name) => {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : undefined;
};
const rounds = Number(argValue('rounds') || (quick ? 1 : 3));
const only = argValue('only') ? argValue('only').split(',') : undefined;
const unknown = argv.filter((a) => !/^--(quick|render|rounds=\d+|only=.+)$/.test(a));
if (unknown.length || !(rounds >= 1)) {
  console.error(`usage: node bench/run.js [--quick] [--rounds=N] [--only=1,3a,...] | --render  (unknown: ${unknown.join(' ')})`);
  process.exit(2);
}
// A run with --only or a non-default round count is never written to RESULTS.md.
const isFullRun = !quick && !only && !argValue('rounds');

// ---------------------------------------------------------------- scenarios

const Q = 5; // --quick divides job counts by this
const SCENARIOS = [
  {
    id: '0', label: 'PING, awaited one at a time (round-trip floor)', runner: 'ping',
    params: { jobs: 5000, warmup: 1000 },
  },
  {
    id: '1', label: 'add, awaited one at a time', runner: 'add-serial',
    params: { jobs: 5000, warmup: 1000 },
  },
  {
    id: '2', label: 'add, 100 in flight', runner: 'add-concurrent',
    params: { jobs: 20000, inFlight: 100, warmup: 100 },
  },
  {
    id: '3a', label: 'addBulk, batches of 50', runner: 'add-bulk',
    params: { jobs: 50000, batch: 50, warmup: 100 },
  },
  {
    id: '3b', label: 'addBulk, batches of 1000', runner: 'add-bulk',
    params: { jobs: 50000, batch: 1000, warmup: 100 },
  },
  {
    id: '4', label: 'Worker, no-op, concurrency 1', runner: 'worker',
    params: { jobs: 5000, concurrency: 1 },
  },
  {
    id: '5', label: 'Worker, no-op, concurrency 100', runner: 'worker',
    params: { jobs: 50000, concurrency: 100 },
  },
  {
    id: '6', label: 'Worker, removeOnComplete, returns {ok,n}, concurrency 10', runner: 'worker',
    short: 'Worker, removeOnComplete, concurrency 10',
    params: { jobs: 20000, concurrency: 10, removeOnComplete: true, returnValue: true },
  },
  {
    id: '7', label: 'Latency at a steady 1k jobs/s (Worker concurrency 10)', runner: 'latency',
    params: { rate: 1000, seconds: 5, concurrency: 10, warmup: 100 },
    quickParams: { seconds: 3 },
  },
  // 8. N QueueEvents in this process; jobs added at a steady rate and processed
  // by a Worker in a second process (see queueEventsFanout in scenario.js).
  ...[1, 100, 1000].map((listeners, i) => ({
    id: `8${'abc'[i]}`,
    label: `QueueEvents fan-out, ${listeners} listener${listeners > 1 ? 's' : ''}`,
    runner: 'queue-events',
    // The events stream's cap is raised from BullMQ's default 10,000 entries:
    // BullMQ's 1000 listeners fall minutes behind, and entries trimmed before
    // a listener reads them would be lost to it (a retention limit, not fan-out).
    params: { listeners, rate: 500, seconds: 5, concurrency: 10, warmup: 20, eventsMaxLen: 100000 },
    quickParams: { seconds: 2 },
  })),
];

// The embedded engine (connection 'memory://'): bullrush alone, as BullMQ
// has nothing to compare with; jobs/s and CPU per job.
const EMBEDDED = [
  { id: 'e1', label: 'add, awaited one at a time', runner: 'add-serial', params: { jobs: 20000, warmup: 1000 } },
  { id: 'e2', label: 'add, 100 in flight', runner: 'add-concurrent', params: { jobs: 50000, inFlight: 100, warmup: 100 } },
  { id: 'e3', label: 'addBulk, batches of 1000', runner: 'add-bulk', params: { jobs: 200000, batch: 1000, warmup: 100 } },
  { id: 'e4', label: 'Worker, no-op, concurrency 1', runner: 'worker', params: { jobs: 50000, concurrency: 1 } },
  { id: 'e5', label: 'Worker, no-op, concurrency 100', runner: 'worker', params: { jobs: 200000, concurrency: 100 } },
  {
    id: 'e6', label: 'Worker, removeOnComplete, returns {ok,n}, concurrency 10', runner: 'worker',
    params: { jobs: 100000, concurrency: 10, removeOnComplete: true, returnValue: true },
  },
].map((s) => ({ ...s, params: { ...s.params, memory: true } }));

/** --only=8 selects 8a, 8b and 8c (and --only=3 both 3a and 3b; --only=e every embedded one). */
const selectedBy = (s, ids) =>
  ids.includes(s.id) || ids.includes(s.id.replace(/[a-z]$/, '')) || ids.includes(s.id.replace(/\d+$/, ''));

function paramsFor(scenario) {
  const p = { ...scenario.params };
  if (quick) {
    for (const key of ['jobs', 'warmup']) if (p[key]) p[key] = Math.round(p[key] / Q);
    Object.assign(p, scenario.quickParams || {});
  }
  return p;
}

// ---------------------------------------------------------------- machine load
//
// Other processes (a cargo build, say) on a 2-core machine distort every
// number. Before each child we wait (bounded) for the machine to be quiet,
// and for each timed section we report the CPU used by everything except the
// child and Redis, from /proc/stat.

let clockTicksPerSec = 100;
try {
  clockTicksPerSec = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
} catch {
  // Linux default
}

/** Machine-wide busy CPU so far, in microseconds (all cores). */
function machineBusyUs() {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = fields[3] + fields[4]; // idle + iowait
  return ((total - idle) * 1e6) / clockTicksPerSec;
}

const QUIET_CORES = 0.15;
const BUSY_CORES = 0.25; // a timed section with more foreign load than this is repeated (full runs)
const BUSY_RETRIES = 2;
const QUIET_MAX_WAIT_MS = quick ? 5000 : 180000;

/** Waits until the machine uses less than QUIET_CORES over 500 ms (bounded). */
let waitedMs = 0; // total time spent waiting for other processes

async function waitForQuiet() {
  const started = Date.now();
  try {
    return await waitForQuietInner();
  } finally {
    waitedMs += Date.now() - started;
  }
}

async function waitForQuietInner() {
  const deadline = Date.now() + QUIET_MAX_WAIT_MS;
  let told = false;
  for (;;) {
    const b0 = machineBusyUs();
    const t0 = Date.now();
    await sleep(500);
    const cores = (machineBusyUs() - b0) / ((Date.now() - t0) * 1000);
    if (cores < QUIET_CORES) return { waitedMs: 0, cores };
    if (Date.now() > deadline) {
      console.log(`    (machine still busy: ${cores.toFixed(2)} cores used by other processes; running anyway)`);
      return { cores };
    }
    if (!told) {
      console.log(`    (waiting for the machine to quiet down: ${cores.toFixed(2)} cores busy)`);
      told = true;
    }
  }
}

// ---------------------------------------------------------------- cleanup

let redis;
let currentChild;

function cleanup() {
  if (currentChild && currentChild.exitCode === null && currentChild.signalCode === null) {
    currentChild.kill('SIGKILL');
  }
  if (redis) redis.stop();
}

process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping the benchmark child and redis-server`);
    cleanup();
    process.exit(130);
  });
}

// ---------------------------------------------------------------- one child

/**
 * Runs one round of one implementation in a child process. Redis CPU is read
 * by this process right when the child says its timed section starts and
 * ends (the child waits for our ack before it starts its clock).
 */
function runChild(impl, scenario, params, idleUsPerMs) {
  return new Promise((resolve) => {
    const args = [impl, scenario.runner, JSON.stringify({ ...params, port: redis.port })];
    const child = fork(path.join(__dirname, 'scenario.js'), args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      execArgv: [],
    });
    currentChild = child;
    let stdout = '';
    let stderr = '';
    const redisMarks = {};
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
      for (const line of String(d).split('\n').filter(Boolean)) console.error(`    [${impl}] ${line}`);
    });
    child.on('message', async (msg) => {
      if (!msg || !msg.mark) return;
      try {
        redisMarks[msg.mark] = { cpuUs: await redis.client.cpuUs(), at: process.hrtime.bigint(), busyUs: machineBusyUs() };
      } catch (err) {
        redisMarks.error = err.message;
      }
      if (child.connected) child.send({ ack: msg.mark });
    });
    const timer = setTimeout(() => {
      stderr += `\n(killed by bench/run.js after ${CHILD_TIMEOUT_MS / 1000} s)`;
      child.kill('SIGKILL');
    }, CHILD_TIMEOUT_MS);

    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      currentChild = undefined;
      const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      let result;
      try {
        result = line ? JSON.parse(line.slice('BENCH_RESULT '.length)) : undefined;
      } catch (err) {
        result = { ok: false, error: `unparsable result line: ${err.message}` };
      }
      if (!result) {
        const tail = stderr.trim().split('\n').slice(-8).join('\n      ');
        result = { ok: false, error: `child exited (code ${code}, signal ${signal}) without a result\n      ${tail}` };
      }
      result.impl = impl;
      result.exit = { code, signal };
      if (code === 3) result.lingered = true; // scenario.js: alive 10 s after closing everything
      if (result.ok) {
        const { start, end } = redisMarks;
        if (!start || !end) {
          result.redisError = redisMarks.error || 'no start/end marks received';
        } else {
          const windowMs = Number(end.at - start.at) / 1e6;
          result.redisWindowMs = windowMs;
          result.redisRawUs = end.cpuUs - start.cpuUs;
          result.redisUs = Math.max(0, result.redisRawUs - idleUsPerMs * windowMs);
          // Everything else that ran meanwhile (jiffy resolution: ±10 ms per core).
          // A helper process of the scenario (8's producer) reports its own CPU.
          const otherUs = end.busyUs - start.busyUs - result.cpuUs - (result.helperCpuUs || 0) - result.redisRawUs;
          result.otherCores = Math.max(0, otherUs / (windowMs * 1000));
        }
      }
      resolve(result);
    });
  });
}

// ---------------------------------------------------------------- aggregation

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function derive(r) {
  return {
    jobsPerSec: r.jobs / (r.ms / 1000),
    cpuUsPerJob: r.cpuUs / r.jobs,
    redisUsPerJob: r.redisUs === undefined ? null : r.redisUs / r.jobs,
    peakRssMB: r.peakRssBytes / (1024 * 1024),
  };
}

/** Per-event numbers of 8 (QueueEvents fan-out), one object per round. */
function qeDerive(r) {
  return {
    cpuUsPerEvent: r.cpuUs / r.events,
    listenerCores: r.cpuUs / (r.ms * 1000),
    windowS: r.ms / 1000,
  };
}

function qeSummary(ok) {
  const m = (f) => median(ok.map(f));
  const lat = (which, key) => m((r) => r.latency[which][key]);
  return {
    listeners: ok[0].listeners,
    eventsPerRound: ok[0].events,
    connections: {
      qe: m((r) => r.connections.qe),
      process: m((r) => r.connections.process),
      qeOfProcess: m((r) => r.connections.qeOfProcess),
    },
    readyMs: m((r) => r.readyMs),
    latency: Object.fromEntries(
      ['added', 'completed'].map((which) => [which, { p50: lat(which, 'p50'), p99: lat(which, 'p99'), max: lat(which, 'max') }]),
    ),
    cpuUsPerEvent: m((r) => qeDerive(r).cpuUsPerEvent),
    listenerCores: m((r) => qeDerive(r).listenerCores),
    windowS: m((r) => qeDerive(r).windowS),
    streamEntriesPerJob: m((r) => r.streamEntriesPerJob),
    roundCpuUsPerEvent: ok.map((r) => qeDerive(r).cpuUsPerEvent),
  };
}

function summarize(scenario, roundsByImpl) {
  const impls = {};
  for (const impl of IMPLS) {
    const list = roundsByImpl[impl];
    const failed = list.filter((r) => !r.ok);
    const ok = list.filter((r) => r.ok);
    const d = ok.map(derive);
    const m = (key) => median(d.map((x) => x[key]));
    impls[impl] = {
      ok: failed.length === 0 && ok.length > 0,
      errors: failed.map((r) => r.error),
      warnings: [
        ...new Set(
          list.flatMap((r) => [
            ...(r.errors || []),
            ...(r.lingered ? ['process did not exit on its own after closing everything (forced after 10 s)'] : []),
            ...(r.redisError ? [`Redis CPU not measured: ${r.redisError}`] : []),
          ]),
        ),
      ],
      rounds: ok.length,
      jobs: ok.length ? ok[0].jobs : undefined,
      jobsPerSec: m('jobsPerSec'),
      cpuUsPerJob: m('cpuUsPerJob'),
      redisUsPerJob: m('redisUsPerJob'),
      peakRssMB: m('peakRssMB'),
      otherCoresMax: ok.length ? Math.max(...ok.map((r) => r.otherCores || 0)) : null,
      roundJobsPerSec: d.map((x) => x.jobsPerSec),
    };
    if (scenario.runner === 'latency' && ok.length) {
      const lat = (which, key) => median(ok.map((r) => r.latency[which][key]));
      impls[impl].latency = {};
      for (const which of ['toStart', 'toCompleted']) {
        impls[impl].latency[which] = { p50: lat(which, 'p50'), p99: lat(which, 'p99'), max: lat(which, 'max') };
      }
    }
    if (scenario.runner === 'queue-events' && ok.length) impls[impl].qe = qeSummary(ok);
  }
  return { id: scenario.id, label: scenario.label, short: scenario.short, runner: scenario.runner, notYet: scenario.notYet, impls };
}

// ---------------------------------------------------------------- machine info

function machine(redisVersion) {
  let cpuModel = os.cpus()[0] ? os.cpus()[0].model : 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1].trim();
  } catch {
    // keep os.cpus()
  }
  const git = (...a) => {
    try {
      return execFileSync('git', a, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  const sha = git('rev-parse', '--short', 'HEAD');
  const dirty = git('status', '--porcelain', '--', 'src', 'lib', 'index.js', 'Cargo.toml') !== '';
  let addonBuilt = '';
  try {
    addonBuilt = fs.statSync(path.join(ROOT, 'bullrush.linux-x64-gnu.node')).mtime.toISOString();
  } catch {
    // not built
  }
  return {
    cpuModel,
    cores: os.cpus().length,
    node: process.version,
    redis: redisVersion,
    os: `${os.type()} ${os.release()}`,
    bullmq: require('bullmq/package.json').version,
    bullrush: JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version,
    bullrushGit: sha ? `${sha}${dirty ? ' + uncommitted changes' : ''}` : 'unknown',
    addonBuilt,
  };
}

// ---------------------------------------------------------------- main

function fmtRound(r) {
  if (!r.ok) return `FAILED: ${r.error}`;
  const d = derive(r);
  const other = r.otherCores === undefined ? '' : `, other load ${r.otherCores.toFixed(2)} cores`;
  if (r.listeners !== undefined) {
    const q = qeDerive(r);
    const redisPart = d.redisUsPerJob === null ? 'redis n/a' : `redis ${d.redisUsPerJob.toFixed(0)} µs/job`;
    return (
      `${r.listeners} listeners: ${r.connections.qe} qe connection(s), ${r.connections.process ?? '?'} from the process, ` +
      `added→event p99 ${r.latency.added.p99.toFixed(1)} ms max ${r.latency.added.max.toFixed(1)} ms, ` +
      `cpu ${q.cpuUsPerEvent.toFixed(2)} µs/event (${q.listenerCores.toFixed(2)} cores over ${q.windowS.toFixed(1)} s), ` +
      `${redisPart}, rss ${d.peakRssMB.toFixed(0)} MB, ready in ${r.readyMs.toFixed(0)} ms${other}` +
      `${r.lingered ? ' [lingered]' : ''}`
    );
  }
  const redisPart = d.redisUsPerJob === null ? 'redis n/a' : `redis ${d.redisUsPerJob.toFixed(1)} µs/job`;
  const lat = r.latency
    ? `, add→completed p50 ${r.latency.toCompleted.p50.toFixed(2)} ms p99 ${r.latency.toCompleted.p99.toFixed(2)} ms`
    : '';
  return (
    `${Math.round(d.jobsPerSec).toLocaleString('en-US')} jobs/s, cpu ${d.cpuUsPerJob.toFixed(1)} µs/job, ` +
    `${redisPart}, rss ${d.peakRssMB.toFixed(0)} MB (${(r.ms / 1000).toFixed(2)} s)${lat}${other}` +
    `${r.lingered ? ' [lingered]' : ''}`
  );
}

async function main() {
  const started = Date.now();
  const startedAt = new Date();
  redis = await startRedis();
  const info = machine(redis.version);
  console.log(
    `bullrush benchmark (${quick ? 'quick' : 'full'}, ${rounds} round(s) each): redis ${info.redis} on port ${redis.port}, ` +
      `node ${info.node}, ${info.cores} cores, bullmq ${info.bullmq}, bullrush ${info.bullrush} (${info.bullrushGit})`,
  );

  // Redis' own idle CPU (serverCron etc.), subtracted from every window.
  const idleMs = quick ? 1000 : 3000;
  const c0 = await redis.client.cpuUs();
  const i0 = process.hrtime.bigint();
  await sleep(idleMs);
  const idleUsPerMs = (await redis.client.cpuUs() - c0) / (Number(process.hrtime.bigint() - i0) / 1e6);
  console.log(`idle Redis CPU baseline: ${(idleUsPerMs * 1000).toFixed(0)} µs per second (subtracted)\n`);

  const selected = SCENARIOS.filter((s) => !only || selectedBy(s, only));
  const runnable = selected.filter((s) => !s.notYet);
  const totalChildren = runnable.length * rounds * IMPLS.length;
  let childNo = 0;
  const summaries = [];
  const raw = [];
  for (const scenario of selected) {
    if (scenario.notYet) {
      console.log(`${scenario.id}. ${scenario.label}: ${scenario.notYet}\n`);
      summaries.push(summarize(scenario, { bullmq: [], bullrush: [] }));
      continue;
    }
    const params = paramsFor(scenario);
    console.log(`${scenario.id}. ${scenario.label}  ${JSON.stringify(params)}`);
    const byImpl = { bullmq: [], bullrush: [] };
    for (let round = 0; round < rounds; round++) {
      for (const impl of IMPLS) {
        childNo++;
        await redis.client.command('FLUSHALL'); // untimed; every round also uses a fresh queue name
        await sleep(200);
        let result;
        for (let attempt = 1; ; attempt++) {
          await waitForQuiet();
          const r = await runChild(impl, scenario, params, idleUsPerMs);
          if (!result || !r.ok || !(r.otherCores >= result.otherCores)) result = r;
          // Full runs repeat a round that other processes disturbed (keeping the least disturbed).
          if (quick || !r.ok || !(r.otherCores > BUSY_CORES) || attempt > BUSY_RETRIES) break;
          console.log(`    (other processes used ${r.otherCores.toFixed(2)} cores during that round: repeating it)`);
          await redis.client.command('FLUSHALL');
        }
        byImpl[impl].push(result);
        raw.push({ ...result, scenario: scenario.id, runner: scenario.runner, round: round + 1 });
        console.log(`  [${childNo}/${totalChildren}] ${impl.padEnd(8)} round ${round + 1}: ${fmtRound(result)}`);
      }
    }
    const summary = summarize(scenario, byImpl);
    summaries.push(summary);
    console.log('');
  }

  const embedded = [];
  const embeddedSelected = EMBEDDED.filter((s) => !only || selectedBy(s, only));
  if (embeddedSelected.length) console.log('Embedded engine (no Redis; bullrush only)');
  for (const scenario of embeddedSelected) {
    const params = paramsFor(scenario);
    const results = [];
    for (let round = 0; round < rounds; round++) {
      await waitForQuiet();
      const r = await runChild('bullrush', scenario, params, idleUsPerMs);
      results.push(r);
      raw.push({ ...r, scenario: scenario.id, runner: scenario.runner, round: round + 1 });
      console.log(`  ${scenario.id}. ${scenario.label}, round ${round + 1}: ${fmtRound(r)}`);
    }
    embedded.push(embeddedSummary(scenario, params, results));
  }
  console.log('');

  const wallS = (Date.now() - started) / 1000;
  await redis.shutdown();
  const meta = {
    date: startedAt.toISOString(),
    command: `node bench/run.js${argv.length ? ` ${argv.join(' ')}` : ''}`,
    mode: quick ? 'quick' : 'full',
    rounds,
    wallS,
    waitedS: waitedMs / 1000,
    idleRedisUsPerSec: idleUsPerMs * 1000,
    otherCores: raw.filter((r) => r.otherCores !== undefined).map((r) => r.otherCores),
    machine: info,
  };

  if (summaries.length) console.log(report.consoleTables(summaries, meta));
  if (embedded.length) console.log(report.embeddedText(embedded));
  const failures = summaries.flatMap((s) =>
    IMPLS.filter((impl) => !s.notYet && !s.impls[impl].ok).map((impl) => `${s.id}. ${s.label} [${impl}]: ${s.impls[impl].errors.join(' | ')}`),
  );
  for (const e of embedded) if (!e.ok) failures.push(`${e.id}. ${e.label} [embedded]: ${e.errors.join(' | ')}`);
  if (isFullRun) {
    fs.writeFileSync(path.join(__dirname, 'RESULTS.md'), report.markdown(summaries, meta) + report.embeddedMarkdown(embedded));
    fs.writeFileSync(path.join(__dirname, 'chart.svg'), report.svg(summaries, meta));
    fs.writeFileSync(path.join(__dirname, 'results.json'), `${JSON.stringify({ meta, summaries, embedded, raw }, null, 2)}\n`);
    console.log('wrote bench/RESULTS.md, bench/chart.svg, bench/results.json');
  }
  console.log(`wall time: ${wallS.toFixed(1)} s (of which ${(waitedMs / 1000).toFixed(1)} s waiting for the machine to be quiet)`);
  if (failures.length) {
    console.error(`\nFAILED scenarios:\n  ${failures.join('\n  ')}`);
    process.exitCode = 1;
  }
}

/** Median jobs/s, CPU per job and peak RSS of an embedded scenario's rounds. */
function embeddedSummary(scenario, params, results) {
  const ok = results.filter((r) => r.ok).map(derive);
  const m = (key) => median(ok.map((x) => x[key]));
  return {
    id: scenario.id,
    label: scenario.label,
    params,
    ok: ok.length === results.length && ok.length > 0,
    errors: results.filter((r) => !r.ok).map((r) => r.error),
    jobsPerSec: m('jobsPerSec'),
    cpuUsPerJob: m('cpuUsPerJob'),
    peakRssMB: m('peakRssMB'),
    roundJobsPerSec: ok.map((x) => x.jobsPerSec),
  };
}

/** Same numbers, current report format: for changes to bench/report.js. */
function render() {
  const { meta, summaries, embedded = [], raw } = JSON.parse(fs.readFileSync(path.join(__dirname, 'results.json'), 'utf8'));
  for (const s of summaries) {
    s.short = (SCENARIOS.find((x) => x.id === s.id) || {}).short;
    for (const impl of IMPLS) {
      const rounds = raw.filter((r) => r.scenario === s.id && r.impl === impl && r.ok);
      if (s.impls[impl]) s.impls[impl].roundJobsPerSec = rounds.map((r) => derive(r).jobsPerSec);
    }
  }
  fs.writeFileSync(path.join(__dirname, 'RESULTS.md'), report.markdown(summaries, meta) + report.embeddedMarkdown(embedded));
  fs.writeFileSync(path.join(__dirname, 'chart.svg'), report.svg(summaries, meta));
  console.log(report.consoleTables(summaries, meta));
  if (embedded.length) console.log(report.embeddedText(embedded));
  console.log(`rewrote bench/RESULTS.md and bench/chart.svg from bench/results.json (run of ${meta.date})`);
}

if (argv.includes('--render')) {
  render();
  process.exit(0);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  cleanup();
  process.exit(1);
});

#!/usr/bin/env node
'use strict';
// `npm run test:examples`: the Next.js example (examples/nextjs) end to end.
//
// 1. starts a private, throw-away redis-server on a free port of 127.0.0.1
//    (never 6379; no persistence; in a temp dir);
// 2. in examples/nextjs: `npm install` when node_modules is missing; when it
//    is there, only bullrush is reinstalled (its .npmrc has install-links, so
//    node_modules/bullrush is a packed copy of this repository, as from the
//    registry, and would otherwise go stale after a rebuild);
// 3. `next build`;
// 4. starts `next start` on a free port and `node worker.js`, both with
//    REDIS_URL pointing at the private Redis;
// 5. over HTTP: POST /api/jobs; reads /api/jobs/:id/events to its end
//    (progress frames in order up to 100, then one completed frame with the
//    worker's return value, and the stream ends by itself); the events of the
//    finished job again (answered at once); GET /api/health (ok, queue
//    depths); a bad body (400); then stops Redis and expects 503 from
//    POST /api/jobs and /api/health;
// 6. stops everything in all cases (also on failure, timeout, SIGINT/SIGTERM)
//    and exits non-zero when a step or check failed.
//
// Bounded: every wait has its own timeout and the whole run has one
// (TEST_EXAMPLES_TIMEOUT_MS, default 300000).

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { findOnPath, freePort, ping } = require('./local-tools');

const ROOT = path.resolve(__dirname, '..');
const EXAMPLE = path.join(ROOT, 'examples', 'nextjs');
const OVERALL_MS = Number(process.env.TEST_EXAMPLES_TIMEOUT_MS || 300_000);
const STEPS = 10;
const QUEUE = 'reports';

const started = Date.now();
const timings = {};
const checks = []; // { name, ok, detail }
const children = new Set(); // { name, child, lines }
let tmpDir = null;
let finishing = false;

function log(msg) {
  process.stderr.write(`[test-examples] ${msg}\n`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;

/** Polls `probe` until it returns truthy; throws after `ms`. */
async function waitFor(what, ms, probe, every = 200) {
  const deadline = Date.now() + ms;
  for (;;) {
    let last;
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${secs(ms)} waiting for ${what}${last ? ` (last error: ${last.message})` : ''}`);
    }
    await sleep(every);
  }
}

/**
 * Starts a long-running child in its own process group, keeping the last
 * lines of its output for the failure report.
 */
function startChild(name, cmd, args, opts) {
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const entry = { name, child, lines: [], exited: false };
  const keep = (chunk) => {
    for (const line of chunk.toString().split('\n')) {
      if (line.trim() === '') continue;
      entry.lines.push(line);
      if (entry.lines.length > 200) entry.lines.shift();
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('exit', (code, signal) => {
    entry.exited = true;
    entry.exit = signal || code;
  });
  child.on('error', (err) => {
    entry.exited = true;
    entry.lines.push(`spawn error: ${err.message}`);
  });
  children.add(entry);
  return entry;
}

/** Runs a command to its end within `ms`; rejects with the tail of its output. */
function runStep(name, cmd, args, opts, ms) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const entry = startChild(name, cmd, args, opts);
    const timer = setTimeout(() => {
      killGroup(entry, 'SIGKILL');
      reject(new Error(`${name} did not finish within ${secs(ms)}\n${tail(entry, 40)}`));
    }, ms);
    entry.child.on('exit', (code, signal) => {
      clearTimeout(timer);
      children.delete(entry);
      if (code === 0) timings[name] = Date.now() - t0;
      if (code === 0) resolve(entry);
      else reject(new Error(`${name} failed (${signal || `exit ${code}`})\n${tail(entry, 40)}`));
    });
    entry.child.on('error', (err) => {
      clearTimeout(timer);
      children.delete(entry);
      reject(err);
    });
  });
}

function tail(entry, n) {
  return entry.lines
    .slice(-n)
    .map((l) => `    | ${l}`)
    .join('\n');
}

function killGroup(entry, signal) {
  if (entry.exited || !entry.child.pid) return;
  try {
    process.kill(-entry.child.pid, signal);
  } catch (_) {
    try {
      entry.child.kill(signal);
    } catch (_) {
      /* gone */
    }
  }
}

/** SIGTERM each child's process group, SIGKILL what is left after `graceMs`. */
async function stopAll(graceMs = 5000) {
  const list = [...children].reverse();
  for (const e of list) killGroup(e, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (list.some((e) => !e.exited) && Date.now() < deadline) await sleep(100);
  for (const e of list) {
    if (!e.exited) {
      log(`${e.name} ignored SIGTERM; SIGKILL`);
      killGroup(e, 'SIGKILL');
    }
  }
  children.clear();
  if (tmpDir) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    tmpDir = null;
  }
}

function check(name, ok, detail = '') {
  // once stopping, what fails is the fallout of the stop itself: log it only
  if (!finishing) checks.push({ name, ok: Boolean(ok), detail });
  log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
  return Boolean(ok);
}

async function fetchWithin(url, init = {}, ms = 10_000) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  try {
    const res = await fetch(url, { ...init, signal: ac.signal });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch (_) {
      /* not JSON */
    }
    return { status: res.status, headers: res.headers, text, json };
  } catch (err) {
    if (ac.signal.aborted) throw new Error(`${init.method || 'GET'} ${url} got no answer within ${secs(ms)}`);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads an SSE stream to its end (or until `ms`, then reports that it did
 * not end). Returns { status, contentType, frames: [{ id, event, data }], ended }.
 */
async function readSse(url, ms) {
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, ms);
  const frames = [];
  let status;
  let contentType;
  try {
    const res = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: ac.signal });
    status = res.status;
    contentType = res.headers.get('content-type') || '';
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf('\n\n')) !== -1) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const f = { id: undefined, event: 'message', data: '' };
        let isFrame = false;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue; // comment / heartbeat
          const i = line.indexOf(':');
          const field = i === -1 ? line : line.slice(0, i);
          const val = i === -1 ? '' : line.slice(i + 1).replace(/^ /, '');
          if (field === 'id') f.id = val;
          else if (field === 'event') f.event = val;
          else if (field === 'data') f.data += (f.data ? '\n' : '') + val;
          else continue;
          isFrame = true;
        }
        if (!isFrame) continue;
        try {
          f.data = JSON.parse(f.data);
        } catch (_) {
          /* leave as text */
        }
        frames.push(f);
      }
    }
    return { status, contentType, frames, ended: true };
  } catch (err) {
    if (timedOut) return { status, contentType, frames, ended: false };
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

async function main() {
  const overall = setTimeout(() => {
    log(`overall timeout of ${secs(OVERALL_MS)} reached`);
    check('finished within the overall timeout', false, secs(OVERALL_MS));
    finish(1);
  }, OVERALL_MS);
  overall.unref();

  // 0. the addon this test installs into the example (not in git: built by `npm run build`)
  const addon = fs.readdirSync(ROOT).find((f) => /^bullrush\..+\.node$/.test(f));
  if (!addon || !fs.existsSync(path.join(ROOT, 'binding.js'))) {
    throw new Error('no built addon (bullrush.*.node, binding.js) in the repository root: run `npm run build` first');
  }

  // 1. private Redis
  const redisServer = findOnPath('redis-server');
  if (!redisServer) throw new Error('redis-server not found on PATH (apt-get install redis-server)');
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullrush-examples-'));
  const redisPort = await freePort();
  const redis = startChild(
    'redis-server',
    redisServer,
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpDir],
    { cwd: tmpDir },
  );
  await waitFor(`redis-server on port ${redisPort}`, 10_000, () => {
    if (redis.exited) throw new Error(`redis-server exited\n${tail(redis, 20)}`);
    return ping(redisPort);
  });
  const REDIS_URL = `redis://127.0.0.1:${redisPort}`;
  log(`redis-server on ${REDIS_URL}`);

  const env = { ...process.env, REDIS_URL, NEXT_TELEMETRY_DISABLED: '1' };
  delete env.PORT;

  // 2. npm install
  const npm = findOnPath('npm') || 'npm';
  const nodeModules = path.join(EXAMPLE, 'node_modules');
  if (!fs.existsSync(nodeModules)) {
    log('npm install (node_modules missing) ...');
    await runStep('npm install', npm, ['install', '--no-audit', '--no-fund'], { cwd: EXAMPLE, env }, 240_000);
  } else {
    log('npm install (node_modules present: reinstalling bullrush from this repository only) ...');
    fs.rmSync(path.join(nodeModules, 'bullrush'), { recursive: true, force: true });
    await runStep('npm install', npm, ['install', '--no-audit', '--no-fund'], { cwd: EXAMPLE, env }, 120_000);
  }
  const installed = path.join(nodeModules, 'bullrush');
  check(
    'node_modules/bullrush is a packed copy holding the native addon',
    !fs.lstatSync(installed).isSymbolicLink() && fs.readdirSync(installed).some((f) => f.endsWith('.node')),
    fs.readdirSync(installed).join(' '),
  );

  // 3. next build
  const nextBin = path.join(nodeModules, 'next', 'dist', 'bin', 'next');
  log('next build ...');
  await runStep('next build', process.execPath, [nextBin, 'build'], { cwd: EXAMPLE, env }, 180_000);

  // 4. next start + worker
  const appPort = await freePort();
  const base = `http://127.0.0.1:${appPort}`;
  const app = startChild('next start', process.execPath, [nextBin, 'start', '-p', String(appPort), '-H', '127.0.0.1'], {
    cwd: EXAMPLE,
    env,
  });
  const worker = startChild('worker', process.execPath, ['worker.js'], {
    cwd: EXAMPLE,
    env: { ...env, STEP_MS: '150' },
  });
  const t0 = Date.now();
  await waitFor(`next start on ${base}`, 30_000, async () => {
    if (app.exited) throw new Error(`next start exited (${app.exit})\n${tail(app, 30)}`);
    return (await fetchWithin(`${base}/`, {}, 2000)).status === 200;
  });
  timings['next start ready'] = Date.now() - t0;
  await waitFor('the worker to be ready', 15_000, () => {
    if (worker.exited) throw new Error(`worker exited (${worker.exit})\n${tail(worker, 30)}`);
    return worker.lines.some((l) => l.includes('[worker] ready'));
  });
  log(`app on ${base}, worker ready`);

  // 5a. add a job
  const added = await fetchWithin(`${base}/api/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ steps: STEPS }),
  });
  const jobId = added.json && added.json.id;
  if (!check('POST /api/jobs answers 202 { id }', added.status === 202 && typeof jobId === 'string', `${added.status} ${added.text}`)) {
    return;
  }

  // 5b. its events, to the end
  const t1 = Date.now();
  const sse = await readSse(`${base}/api/jobs/${jobId}/events`, 30_000);
  timings['SSE stream of the job'] = Date.now() - t1;
  check(
    'GET /api/jobs/:id/events is 200 text/event-stream',
    sse.status === 200 && sse.contentType.startsWith('text/event-stream'),
    `${sse.status} ${sse.contentType}`,
  );
  check('the stream ended by itself when the job completed', sse.ended, sse.ended ? '' : 'still open after 30 s');
  const summary = sse.frames.map((f) => (f.event === 'progress' ? `progress:${f.data && f.data.data}` : f.event)).join(' ');
  log(`frames: ${summary}`);
  check('every frame is about this job', sse.frames.every((f) => f.data && f.data.jobId === jobId), summary);
  const progress = sse.frames.filter((f) => f.event === 'progress').map((f) => f.data.data);
  check(
    'progress frames arrive in increasing order, up to 100',
    progress.length >= STEPS / 2 &&
      progress.every((p, i) => typeof p === 'number' && (i === 0 || p > progress[i - 1])) &&
      progress[progress.length - 1] === 100,
    `${progress.length} progress frames: ${progress.join(',')}`,
  );
  check(
    'progress frames carry an id: for Last-Event-ID',
    sse.frames.filter((f) => f.event === 'progress').every((f) => /^\d+-\d+$/.test(f.id || '')),
  );
  const last = sse.frames[sse.frames.length - 1];
  const completedFrames = sse.frames.filter((f) => f.event === 'completed');
  check(
    'one completed frame, last, with the worker\'s return value',
    completedFrames.length === 1 &&
      last.event === 'completed' &&
      last.data.returnvalue &&
      last.data.returnvalue.steps === STEPS &&
      typeof last.data.returnvalue.tookMs === 'number',
    last ? JSON.stringify(last.data) : 'no frame',
  );
  check('no failed frame', !sse.frames.some((f) => f.event === 'failed'));

  // 5c. the finished job's events: the outcome at once, then the end
  const again = await readSse(`${base}/api/jobs/${jobId}/events`, 5_000);
  check(
    'events of a finished job: its completed frame at once, then the end',
    again.ended && again.frames.length === 1 && again.frames[0].event === 'completed' &&
      again.frames[0].data.returnvalue && again.frames[0].data.returnvalue.steps === STEPS,
    `${again.ended ? 'ended' : 'did not end'}; ${again.frames.map((f) => f.event).join(' ')}`,
  );

  // 5d. health
  const h = await fetchWithin(`${base}/api/health`, {}, 5_000);
  const q = h.json && h.json.queues && h.json.queues[QUEUE];
  const depthKeys = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'];
  check(
    'GET /api/health: 200, status ok, Redis connected, queue depths',
    h.status === 200 &&
      h.json.status === 'ok' &&
      h.json.redis && h.json.redis.connected === true &&
      q && depthKeys.every((k) => Number.isInteger(q[k])) && q.completed >= 1 && q.paused === false,
    h.text,
  );

  // 5e. bad input
  const bad = await fetchWithin(`${base}/api/jobs`, { method: 'POST', body: JSON.stringify({ steps: 0 }) });
  check('POST /api/jobs with a bad body answers 400', bad.status === 400, `${bad.status} ${bad.text}`);

  // 5f. Redis down: 503, within bounds
  killGroup(redis, 'SIGTERM');
  await waitFor('redis-server to stop', 10_000, () => redis.exited);
  const t2 = Date.now();
  const down = await fetchWithin(`${base}/api/jobs`, { method: 'POST', body: '{}' }, 15_000);
  check(
    'POST /api/jobs with Redis down answers 503 (RedisUnavailableError)',
    down.status === 503,
    `${down.status} ${down.text} after ${Date.now() - t2} ms`,
  );
  const t3 = Date.now();
  const sick = await fetchWithin(`${base}/api/health`, {}, 10_000);
  check(
    'GET /api/health with Redis down answers 503 unhealthy',
    sick.status === 503 && sick.json && sick.json.status === 'unhealthy',
    `${sick.status} after ${Date.now() - t3} ms`,
  );

  for (const [name, entry] of [['next start', app], ['worker', worker]]) {
    check(`${name} still running`, !entry.exited, entry.exited ? `exited (${entry.exit})\n${tail(entry, 30)}` : '');
  }
}

async function finish(code) {
  if (finishing) return;
  finishing = true;
  const failed = checks.filter((c) => !c.ok).length;
  if (code !== 0 || failed > 0) {
    for (const e of children) {
      if (e.lines.length) log(`last output of ${e.name}:\n${tail(e, 40)}`);
    }
  }
  await stopAll();
  const total = Date.now() - started;
  const lines = [
    '',
    'examples/nextjs summary',
    ...checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}`),
    'timings:',
    ...Object.entries(timings).map(([k, v]) => `  ${k.padEnd(22)} ${secs(v)}`),
    `  ${'whole test'.padEnd(22)} ${secs(total)}`,
    `${checks.length - failed} passed, ${failed} failed`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  process.exit(code !== 0 || failed > 0 ? 1 : 0);
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    log(`${sig}: stopping`);
    check(`not interrupted (${sig})`, false);
    finish(1);
  });
}
process.on('exit', () => {
  // last resort, synchronous: nothing we started outlives us
  for (const e of children) killGroup(e, 'SIGKILL');
});

main().then(
  () => finish(0),
  (err) => {
    if (finishing) return; // a child we are stopping failed: already reported
    log(`error: ${err.stack || err.message}`);
    check('ran to the end', false, err.message.split('\n')[0]);
    finish(1);
  },
);

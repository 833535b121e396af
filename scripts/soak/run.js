#!/usr/bin/env node
'use strict';

// Soak and fault suite: `node scripts/soak/run.js [--quick] [scenario names…]`
// (`npm run soak`, `npm run soak:quick`).
//
// Each scenario runs in its own Node process (with --expose-gc), so that a
// leak or a hang in one cannot skew or stall the next, memory figures belong
// to that scenario alone, and a scenario that overruns its time limit can be
// killed together with the redis-servers and workers it started (it reports
// their pids as it starts them). Every scenario starts its own redis-server
// on a free port of 127.0.0.1; the one on 6379 is never touched.
//
// Joining the suite when the features land (they do not exist yet):
// - job schedulers: Redis restarted (SHUTDOWN NOSAVE, SIGKILL with AOF)
//   while schedulers tick: no iteration lost or produced twice;
// - flows: a parent whose children finish across a Redis restart completes
//   once, after all of them;
// - deduplication: a deduplicated add retried across an outage adds one job.

const { fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const SCENARIOS = [
  'restarts',
  'long-outage',
  'worker-kill',
  'wedged-thread',
  'mixed-fleet',
  'sse-churn',
  'worker-churn',
  'embedded-million',
];

// Hard limits per scenario; the quick ones are all far under the 3-minute budget together.
const LIMIT_MS = { quick: 90_000, full: 20 * 60_000 };

function format(figures) {
  return Object.entries(figures)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(' ');
}

/** Child side: runs one scenario and sends its result to the runner. */
async function runChild(name, quick) {
  const scenario = require(`./${name}`);
  const log = (msg) => process.stderr.write(`[soak:${name}] ${msg}\n`);
  let result;
  try {
    result = await scenario.run({ quick, log });
  } catch (err) {
    result = { figures: {}, failures: [`threw: ${(err && err.stack) || err}`], flags: [] };
  }
  // The figures line of this scenario, as the brief asks: one line of numbers.
  process.stdout.write(`${name}: ${format(result.figures)}\n`);
  for (const f of result.flags) process.stdout.write(`  FLAG ${f}\n`);
  for (const f of result.failures) process.stdout.write(`  FAIL ${f}\n`);
  const code = result.failures.length ? 1 : 0;
  // Run by hand (`node run.js --child <name>`) there is no runner to tell.
  if (process.send) process.send({ type: 'result', result }, () => process.exit(code));
  else process.exit(code);
}

/** Runner side: one child per scenario, with a time limit and cleanup of what it started. */
function runScenario(name, quick, tmp) {
  return new Promise((resolve) => {
    const started = Date.now();
    const pids = new Set();
    let result;
    const child = fork(__filename, ['--child', name, ...(quick ? ['--quick'] : [])], {
      execArgv: ['--expose-gc'],
      env: { ...process.env, SOAK_TMP: tmp },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (m) => {
      if (m.type === 'pid') pids.add(m.pid);
      else if (m.type === 'exited') pids.delete(m.pid);
      else if (m.type === 'result') result = m.result;
    });
    const limit = quick ? LIMIT_MS.quick : LIMIT_MS.full;
    const timer = setTimeout(() => {
      process.stderr.write(`[soak] ${name} overran its ${limit / 1000} s limit: killing it\n`);
      child.kill('SIGKILL');
    }, limit);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // Whatever the scenario left behind (it was killed, or crashed): only our own pids.
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      if (!result) {
        result = { figures: {}, failures: [`the scenario process ended without a result (${signal || `exit ${code}`})`], flags: [] };
      } else if (code !== 0 && !result.failures.length) {
        result.failures.push(`the scenario process exited with ${signal || code}`);
      }
      resolve({ name, seconds: (Date.now() - started) / 1000, ...result });
    });
  });
}

function summary(rows, quick, seconds) {
  const lines = [`\nsoak ${quick ? 'quick' : 'full'} run: ${rows.length} scenarios, ${seconds.toFixed(0)} s`, '',
    '| scenario | result | s | figures |', '|---|---|---:|---|'];
  for (const r of rows) {
    const status = r.failures.length ? 'FAIL' : r.flags.length ? 'ok (flag)' : 'ok';
    lines.push(`| ${r.name} | ${status} | ${r.seconds.toFixed(1)} | ${format(r.figures)} |`);
  }
  const failed = rows.filter((r) => r.failures.length);
  for (const r of failed) for (const f of r.failures) lines.push(`FAIL ${r.name}: ${f}`);
  for (const r of rows) for (const f of r.flags) lines.push(`FLAG ${r.name}: ${f}`);
  return lines.join('\n');
}

async function main() {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  if (args[0] === '--child') return runChild(args[1], quick);
  const names = args.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !SCENARIOS.includes(n));
  if (unknown.length) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.join(', ')}\n`);
    process.exit(2);
  }
  const chosen = names.length ? SCENARIOS.filter((n) => names.includes(n)) : SCENARIOS;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bullrush-soak-'));
  const t0 = Date.now();
  const rows = [];
  try {
    for (const name of chosen) {
      process.stderr.write(`[soak] ${name}${quick ? ' (quick)' : ''}\n`);
      rows.push(await runScenario(name, quick, tmp));
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  process.stdout.write(`${summary(rows, quick, (Date.now() - t0) / 1000)}\n`);
  process.exitCode = rows.some((r) => r.failures.length) ? 1 : 0;
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});

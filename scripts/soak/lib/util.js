'use strict';

// Small helpers every scenario uses: bounded waits, a list of broken
// promises, memory figures, and the processes a scenario starts (told to the
// runner so that it can kill them if the scenario hangs or dies).

const { fork } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..', '..');

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `predicate` until it returns a truthy value (returned) or `ms` pass
 * (returns undefined: the caller decides whether that is a failure).
 */
async function waitFor(predicate, ms, intervalMs = 20) {
  const deadline = Date.now() + ms;
  for (;;) {
    let value;
    try {
      value = await predicate();
    } catch {
      value = undefined;
    }
    if (value) return value;
    if (Date.now() >= deadline) return undefined;
    await delay(intervalMs);
  }
}

/** Rejects after `ms` with a message naming `what`, so that no step can hang a scenario. */
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The promises a scenario keeps or breaks, and the figures it measured. */
class Checks {
  constructor() {
    this.failures = [];
    this.flags = [];
  }

  /** Records a broken promise when `ok` is false; returns `ok`. */
  check(ok, message) {
    if (!ok) this.failures.push(message);
    return !!ok;
  }

  /** A figure worth a look that does not fail the run (a known issue, a soft limit). */
  flag(message) {
    this.flags.push(message);
  }

  result(figures) {
    return { figures, failures: this.failures, flags: this.flags };
  }
}

const MB = 1024 * 1024;
const mb = (bytes) => Math.round((bytes / MB) * 10) / 10;

/** RSS and heap after a full collection (when --expose-gc gave us gc). */
function memory() {
  if (global.gc) {
    global.gc();
    global.gc();
  }
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

/** Tells the runner about a process we started (it kills leftovers after a timeout). */
function track(child) {
  if (process.send) process.send({ type: 'pid', pid: child.pid });
  child.once('exit', () => {
    if (process.send && process.connected) process.send({ type: 'exited', pid: child.pid });
  });
  return child;
}

/** Kills a child we started, by its pid, and waits for it to be gone. */
function killChild(child, signal = 'SIGKILL') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  return within(gone, 5000, `child ${child.pid} after ${signal}`).catch(() => {});
}

/**
 * Forks one of scripts/soak/children/*.js with an IPC channel; `messages`
 * collects what it sends. The children exit when the channel closes, so a
 * scenario that dies takes its workers with it.
 */
function forkChild(script, args = [], execArgv = []) {
  const child = track(
    fork(path.join(__dirname, '..', 'children', script), args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  child.messages = [];
  child.on('message', (m) => child.messages.push(m));
  return child;
}

/** Resolves with the first message of `child` that `match` accepts, or rejects after `ms`. */
function message(child, match, ms, what) {
  const found = () => child.messages.find(match);
  return within(
    new Promise((resolve, reject) => {
      const poll = setInterval(() => {
        const m = found();
        if (m) {
          clearInterval(poll);
          resolve(m);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearInterval(poll);
          reject(new Error(`${what}: the child exited (${child.exitCode ?? child.signalCode}) first`));
        }
      }, 10);
    }),
    ms,
    what,
  );
}

/** Least-squares slope of ys over xs: growth per unit, robust to one noisy sample. */
function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** The name and code of an error, for tallies of rejected adds. */
function errorKind(err) {
  if (!err) return 'undefined';
  return err.code ? `${err.name}/${err.code}` : err.name || String(err);
}

/** Counts occurrences per key (Map). */
function bump(map, key, by = 1) {
  map.set(key, (map.get(key) || 0) + by);
}

module.exports = {
  ROOT,
  delay,
  waitFor,
  within,
  Checks,
  mb,
  memory,
  track,
  killChild,
  forkChild,
  message,
  slope,
  errorKind,
  bump,
};

'use strict';
// Memory kept per Worker that was opened and closed. Each cycle used to keep
// 1.5-7.4 KB outside the JS heap (the worker's timers slept out their whole
// period after close, 30 s by default), so a process that opens and closes
// workers often grew by hundreds of MB.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const h = require('./helpers');

// The first few thousand cycles grow the allocator's and V8's pools; after
// them RSS moves by well under a MB either way over the measured cycles,
// far below the limit, which is a third of the old leak.
const WARMUP = 4000;
const CYCLES = 10000;
const LIMIT_BYTES_PER_CYCLE = 512;

// BullMQ's Worker opens Redis connections of its own: about 9 ms a cycle,
// too slow for this many cycles within the test timeout.
const SKIP = h.isBullrush() ? false : `BULLRUSH_TEST_IMPL=${h.implName()}: its cycles are too slow for this test`;

function runCycles() {
  const env = {
    ...process.env,
    LEAK_CONNECTION: JSON.stringify(h.connection()),
    LEAK_WARMUP: String(WARMUP),
    LEAK_CYCLES: String(CYCLES),
  };
  // The child is a plain script, not a test file of this run.
  delete env.NODE_TEST_CONTEXT;
  // --max-semi-space-size pins V8's young generation at 1 MB: left alone it
  // grows in steps of several MB on its own schedule, which RSS would show.
  const args = ['--expose-gc', '--max-semi-space-size=1', path.join(__dirname, 'leak-cycles.js')];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`leak-cycles.js exited with ${code}: ${err.trim()}`));
      else resolve(JSON.parse(out));
    });
  });
}

describe('memory per worker', { skip: SKIP }, () => {
  it(`opening and closing ${CYCLES} workers keeps less than ${LIMIT_BYTES_PER_CYCLE} B each`, async () => {
    const { before, after, cycles, ms } = await runCycles();
    const perCycle = (after - before) / cycles;
    const mb = (n) => (n / 1048576).toFixed(1);
    assert.ok(
      perCycle < LIMIT_BYTES_PER_CYCLE,
      `RSS went from ${mb(before)} MB to ${mb(after)} MB over ${cycles} cycles (${ms} ms): ` +
        `${perCycle.toFixed(0)} B per worker`,
    );
  });
});

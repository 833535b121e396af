'use strict';
// Child process of leak.test.js (run with --expose-gc): opens and closes
// Workers, WARMUP cycles then CYCLES more, and prints the resident memory
// after each part as JSON. A process of its own, so that nothing else the
// test runner holds or allocates moves its RSS.
//
// Environment: LEAK_CONNECTION (the connection option as JSON), LEAK_WARMUP,
// LEAK_CYCLES.

const { Worker } = require('..');

const connection = JSON.parse(process.env.LEAK_CONNECTION);
const warmup = Number(process.env.LEAK_WARMUP);
const cycles = Number(process.env.LEAK_CYCLES);
const name = `leak-${process.pid}-${Date.now().toString(36)}`;

const tick = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** RSS once what the last cycles left is collected and released. */
async function rss() {
  global.gc();
  // Native objects are released by finalizers that run after the collection,
  // and their tasks end on the runtime's thread: give both a moment.
  await tick(100);
  global.gc();
  return process.memoryUsage().rss;
}

async function run(n) {
  for (let i = 1; i <= n; i++) {
    const worker = new Worker(name, async () => {}, { connection });
    await worker.waitUntilReady();
    await worker.close();
    // Left to itself V8 lets its old generation grow for thousands of
    // cycles, and keeps the pages after collecting it: RSS would show that.
    if (i % 1000 === 0) global.gc();
  }
}

(async () => {
  await run(warmup);
  const before = await rss();
  const started = Date.now();
  await run(cycles);
  const after = await rss();
  process.stdout.write(`${JSON.stringify({ before, after, cycles, ms: Date.now() - started })}\n`);
  process.exit(0);
})().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});

'use strict';

// Worker create / waitUntilReady / close, `cycles` times, on one connection,
// sampling RSS and heapUsed after gc every `every` cycles:
// `node --expose-gc worker-churn.js <connection> <queue> <cycles> <every>`.
// Run in its own process so that nothing else this suite does sits in its memory.

const { Worker } = require('../../..');

const [connection, name, cyclesText, everyText] = process.argv.slice(2);
const cycles = Number(cyclesText);
const every = Number(everyText);
process.on('disconnect', () => process.exit(0));

function sample(cycle) {
  global.gc();
  global.gc();
  const { rss, heapUsed } = process.memoryUsage();
  return { cycle, rss, heapUsed };
}

(async () => {
  const samples = [sample(0)];
  const t0 = Date.now();
  for (let i = 1; i <= cycles; i++) {
    const worker = new Worker(name, async () => {}, { connection });
    worker.on('error', () => {});
    await worker.waitUntilReady();
    await worker.close();
    if (i % every === 0) samples.push(sample(i));
  }
  // Stays alive (until killed) so that the parent can count its Redis connections.
  process.send({ samples, seconds: (Date.now() - t0) / 1000 });
  setInterval(() => {}, 1000);
})().catch((err) => {
  process.send({ error: String(err && err.stack) }, () => process.exit(1));
});

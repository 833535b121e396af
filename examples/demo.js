'use strict';

// `npm run demo`: adds jobs, processes them with a Worker, shows live
// progress and a summary. Runs on the embedded engine (no Redis needed), or
// on Redis when REDIS_URL is set.
const { Queue, Worker } = require('..');

const JOBS = 24;
const STEPS = 5;
// Chosen explicitly, so that the demo says which it uses instead of warning.
const connection = process.env.REDIS_URL || 'memory://';
const name = 'bullrush-demo';

function bar(fraction, width = 20) {
  const full = Math.round(fraction * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

async function main() {
  const queue = new Queue(name, { connection, commandTimeout: 3000 });
  try {
    await queue.waitUntilReady();
  } catch (err) {
    console.error(`Cannot reach Redis at REDIS_URL (${err.message}).`);
    console.error('Start it, or unset REDIS_URL to run the demo on the embedded engine.');
    process.exit(1);
  }
  console.log(
    connection === 'memory://'
      ? 'Running on the embedded engine (set REDIS_URL=redis://host:port to run on Redis).'
      : `Running on Redis at ${new URL(connection).host}.`,
  );
  await queue.obliterate({ force: true });

  const progress = new Map();
  const started = Date.now();
  const worker = new Worker(
    name,
    async (job) => {
      for (let step = 1; step <= STEPS; step++) {
        await new Promise((resolve) => setTimeout(resolve, 40 + Math.random() * 60));
        await job.updateProgress(Math.round((step / STEPS) * 100));
      }
      if (job.data.n % 11 === 10 && job.attemptsMade === 0) throw new Error('flaky downstream (retried)');
      return { resized: `${job.data.file}@2x` };
    },
    { connection, concurrency: 6 },
  );

  let completed = 0;
  let retried = 0;
  let lastQuarter = 0;
  const render = () => {
    if (!process.stdout.isTTY) {
      const quarter = Math.floor((completed / JOBS) * 4);
      if (quarter > lastQuarter) console.log(`${bar(completed / JOBS)} ${completed}/${JOBS} done`);
      lastQuarter = quarter;
      return;
    }
    const done = completed / JOBS;
    const active = [...progress.entries()]
      .filter(([, p]) => p < 100)
      .slice(0, 6)
      .map(([id, p]) => `#${id.padStart(2)} ${String(p).padStart(3)}%`)
      .join('  ');
    process.stdout.write(`\r${bar(done)} ${completed}/${JOBS} done  ${active}`.padEnd(110));
  };
  worker.on('progress', (job, p) => {
    progress.set(job.id, p);
    render();
  });
  worker.on('failed', () => {
    retried += 1;
  });

  const finished = new Promise((resolve) => {
    worker.on('completed', () => {
      completed += 1;
      render();
      if (completed === JOBS) resolve();
    });
  });

  await queue.addBulk(
    Array.from({ length: JOBS }, (_, n) => ({
      name: 'resize',
      data: { n, file: `photo-${n}.jpg` },
      opts: { attempts: 2, backoff: { type: 'fixed', delay: 100 } },
    })),
  );
  await finished;
  const seconds = (Date.now() - started) / 1000;
  const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'active');
  const sample = await queue.getJob('1');
  process.stdout.write('\n\n');
  console.log(`Processed ${JOBS} jobs in ${seconds.toFixed(2)} s with concurrency 6 (${retried} attempt(s) failed and were retried).`);
  console.log('Counts:', counts);
  console.log(`Job 1 returned ${JSON.stringify(sample.returnvalue)} after ${sample.attemptsMade} attempt(s).`);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

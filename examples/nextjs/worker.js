// The worker process, started beside the app: `npm run worker`.
// Each job reports progress 0..100 in `steps` steps, then returns a result.
import { Worker } from 'bullrush';
import { QUEUE_NAME, connection } from './lib/queue.js';

const STEP_MS = Number(process.env.STEP_MS || 300);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const worker = new Worker(
  QUEUE_NAME,
  async (job) => {
    const started = Date.now();
    const { steps } = job.data;
    await job.updateProgress(0);
    for (let i = 1; i <= steps; i++) {
      await sleep(STEP_MS);
      await job.updateProgress(Math.round((i * 100) / steps));
    }
    return { steps, tookMs: Date.now() - started };
  },
  { connection, concurrency: 4 },
);

worker.on('ready', () => console.log(`[worker] ready on queue '${QUEUE_NAME}' (${connection})`));
worker.on('completed', (job, result) => console.log(`[worker] job ${job.id} completed`, result));
worker.on('failed', (job, err) => console.log(`[worker] job ${job?.id} failed: ${err.message}`));
worker.on('error', (err) => console.error(`[worker] ${err.message}`));

async function shutdown(signal) {
  console.log(`[worker] ${signal}: finishing active jobs`);
  await worker.close();
  process.exit(0);
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));

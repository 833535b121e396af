// Shared by the route handlers (bundled by Next.js) and worker.js (run by
// plain node): the queue's name and its Redis connection.
import { Queue } from 'bullrush';

export const QUEUE_NAME = 'reports';

/** REDIS_URL, else the local default. */
export const connection = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/**
 * One Queue per server process. Kept on globalThis so that `next dev`'s hot
 * reloads reuse it instead of opening a new connection each time. Creating a
 * Queue does no I/O: nothing connects at build time.
 *
 * @returns {import('bullrush').Queue<{ steps: number }, { steps: number, tookMs: number }>}
 */
export function getQueue() {
  const g = /** @type {any} */ (globalThis);
  g.__bullrushReportsQueue ??= new Queue(QUEUE_NAME, { connection });
  return g.__bullrushReportsQueue;
}

'use strict';
// How the embedded engine is chosen, and that queues of one process share it.
// Selection depends on the environment, so each case runs in a child process.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const h = require('./helpers');

const ROOT = path.resolve(__dirname, '..');
const once = h.isBullrush() && h.backendName() === 'redis' ? false : 'bullrush selection, checked once (Redis pass)';

/** Runs `body` (async, has Queue/Worker/health in scope) in a child; returns its JSON line and stderr. */
function child(body, env) {
  const script = `
    const { Queue, Worker, health } = require(${JSON.stringify(ROOT)});
    (async () => { ${body} })().then(
      (out) => console.log(JSON.stringify(out)),
      (err) => { console.error(err); process.exit(1); });`;
  const childEnv = { ...process.env, ...env };
  for (const key of Object.keys(childEnv)) if (childEnv[key] === undefined) delete childEnv[key];
  const result = spawnSync(process.execPath, ['-e', script], { env: childEnv, encoding: 'utf8', timeout: 20000 });
  if (result.status !== 0) throw new Error(`child failed (${result.status}): ${result.stderr}`);
  return { out: JSON.parse(result.stdout.trim().split('\n').pop()), stderr: result.stderr };
}

const PROCESS_TWO = `
  const a = new Queue('shared'); const b = new Queue('shared');
  const other = new Queue('shared', { prefix: 'other' });
  const seen = [];
  const worker = new Worker('shared', async (job) => { seen.push(job.data.n); return job.data.n * 2; });
  await a.add('one', { n: 1 });
  await b.add('two', { n: 2 });
  await new Promise((resolve) => worker.on('completed', () => seen.length === 2 && resolve()));
  const report = await health([a]);
  const out = { seen, completed: await b.getCompletedCount(), otherWaiting: await other.getWaitingCount(), backend: report.backend };
  await worker.close(); await a.close(); await b.close(); await other.close();
  return out;`;

describe('choosing the embedded engine', { skip: once }, () => {
  it('no connection and no REDIS_URL: one warning, and every queue of the name shares it', () => {
    const { out, stderr } = child(PROCESS_TWO, { REDIS_URL: undefined });
    assert.deepEqual(out.seen.sort(), [1, 2]);
    assert.equal(out.completed, 2);
    assert.equal(out.otherWaiting, 0, 'another prefix is another queue');
    assert.equal(out.backend, 'memory');
    assert.equal(stderr.match(/BULLRUSH_EMBEDDED/g).length, 1, stderr);
    assert.match(stderr, /this process only/);
  });

  it("connection: 'memory://' chooses it without a warning", () => {
    const { out, stderr } = child(
      `const q = new Queue('explicit', { connection: 'memory://' });
       const job = await q.add('x', { ok: true });
       const out = { id: job.id, state: await q.getJobState(job.id) };
       await q.close();
       return out;`,
      { REDIS_URL: undefined },
    );
    assert.deepEqual(out, { id: '1', state: 'waiting' });
    assert.doesNotMatch(stderr, /BULLRUSH_EMBEDDED/);
  });

  it('REDIS_URL set: queues without a connection use that Redis', async (t) => {
    const name = h.uniqueQueueName('env-url');
    const { stderr } = child(
      `const q = new Queue(${JSON.stringify(name)}); await q.add('x', {}); await q.close(); return {};`,
      { REDIS_URL: h.redisUrl() },
    );
    assert.doesNotMatch(stderr, /BULLRUSH_EMBEDDED/);
    const redis = h.scope(t).add(h.rawRedis());
    assert.equal(await redis.llen(`bull:${name}:wait`), 1);
  });
});

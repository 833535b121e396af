'use strict';
// Sandboxed processors: a processor file run in a child process or a worker
// thread, with updateProgress and log from inside; a crash fails the attempt.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./helpers');

const { Queue, Worker } = h.impl();

let dir;
const file = (name, body) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, body);
  return p;
};

describe('sandboxed processors', () => {
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bullrush-sandbox-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const useWorkerThreads of [false, true]) {
    it(`runs the file ${useWorkerThreads ? 'in a worker thread' : 'in a child process'}, progress and logs included`, async (t) => {
      const c = h.scope(t);
      const name = h.uniqueQueueName('sandbox');
      const processor = file(`ok-${useWorkerThreads}.js`, `
        module.exports = async (job) => {
          await job.updateProgress(50);
          await job.log('halfway');
          return { doubled: job.data.n * 2, pid: process.pid };
        };`);
      const queue = c.add(new Queue(name, { connection: h.connection() }));
      const worker = c.add(new Worker(name, processor, { connection: h.connection(), useWorkerThreads }));
      const progress = [];
      worker.on('progress', (job, p) => progress.push(p));
      const job = await queue.add('s', { n: 21 });
      const [done, result] = await h.once(worker, 'completed', 15000);
      assert.equal(done.id, job.id);
      assert.equal(result.doubled, 42);
      assert.equal(result.pid !== process.pid, !useWorkerThreads, 'a child process has its own pid; a thread shares ours');
      const stored = await queue.getJob(job.id);
      assert.equal(stored.progress, 50);
      assert.deepEqual((await queue.getJobLogs(job.id)).logs, ['halfway']);
      assert.deepEqual(progress, [50]);
    });
  }

  it('an error thrown in the sandbox fails the attempt with its message', async (t) => {
    const c = h.scope(t);
    const name = h.uniqueQueueName('sandbox');
    const processor = file('throws.js', `module.exports = async () => { throw new Error('bad input file'); };`);
    const queue = c.add(new Queue(name, { connection: h.connection() }));
    const worker = c.add(new Worker(name, processor, { connection: h.connection() }));
    await queue.add('s', {});
    const [, err] = await h.once(worker, 'failed', 15000);
    assert.equal(err.message, 'bad input file');
  });

  it('a sandbox that crashes fails its job; the worker goes on with the next one', async (t) => {
    const c = h.scope(t);
    const name = h.uniqueQueueName('sandbox');
    const processor = file('crashes.js', `
      module.exports = async (job) => {
        if (job.data.crash) process.exit(3);
        return 'survived';
      };`);
    const queue = c.add(new Queue(name, { connection: h.connection() }));
    const worker = c.add(new Worker(name, processor, { connection: h.connection() }));
    const failed = h.once(worker, 'failed', 15000);
    const crash = await queue.add('crash', { crash: true });
    const [failedJob] = await failed;
    assert.equal(failedJob.id, crash.id);
    const completed = h.once(worker, 'completed', 15000);
    await queue.add('fine', {});
    const [, result] = await completed;
    assert.equal(result, 'survived');
  });
});

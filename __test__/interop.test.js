'use strict';
// Interop, processing: jobs added by one implementation are processed by the
// other, both ways, against bullmq (6) and bullmq5. Data-level agreement
// (counts, Job fields, raw hashes) is in interop-data.test.js.
// Skipped when BULLRUSH_TEST_IMPL is set (see interop-helpers.js).

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { SUBJECT, PEERS, SKIP, DIRECTIONS, pair, stateIs } = require('./interop-helpers');

for (const peer of PEERS) {
  describe(`interop ${SUBJECT} <-> ${peer}: processing`, { skip: SKIP }, () => {
    for (const [from, to] of DIRECTIONS) {
      const dir = (p) => `${p[from].label} adds -> ${p[to].label}`;
      const title = (what) => `${from === 'S' ? SUBJECT : peer} adds, ${to === 'S' ? SUBJECT : peer} ${what}`;

      it(title('processes; returnvalue readable by both'), async (t) => {
        const p = pair(t, peer);
        const seen = [];
        p[to].worker(async (job) => {
          seen.push({ id: job.id, name: job.name, data: job.data, opts: job.opts });
          return { doubled: job.data.n * 2, echo: job.data.s };
        });
        const data = { n: 21, s: 'héllo ✓', nested: { a: [1, null, { b: false }] } };
        const job = await p[from].queue.add('cross', data, { attempts: 1 });
        await stateIs(p[from].queue, job.id, 'completed');
        assert.equal(seen.length, 1, dir(p));
        assert.equal(seen[0].id, job.id);
        assert.equal(seen[0].name, 'cross');
        assert.deepEqual(seen[0].data, data);
        for (const s of ['S', 'P']) {
          const got = await p[s].queue.getJob(job.id);
          assert.deepEqual(got.returnvalue, { doubled: 42, echo: 'héllo ✓' }, `returnvalue via ${p[s].label}`);
          assert.deepEqual(got.data, data, `data via ${p[s].label}`);
          assert.equal(got.name, 'cross');
          assert.equal(got.attemptsMade, 1);
        }
      });

      it(title('processes a delayed job after its delay'), async (t) => {
        const p = pair(t, peer);
        const processedAt = [];
        p[to].worker(async () => {
          processedAt.push(Date.now());
          return 'late';
        });
        const t0 = Date.now();
        const job = await p[from].queue.add('later', {}, { delay: 700 });
        assert.equal(await p[to].queue.getJobState(job.id), 'delayed');
        await stateIs(p[to].queue, job.id, 'completed', 6000);
        const elapsed = processedAt[0] - t0;
        assert.ok(elapsed >= 650 && elapsed < 4000, `processed after ${elapsed} ms, expected ~700`);
        assert.equal((await p[from].queue.getJob(job.id)).returnvalue, 'late');
      });

      it(title('processes prioritized jobs in priority order'), async (t) => {
        const p = pair(t, peer);
        const specs = [
          ['p5', 5],
          ['plain1', undefined],
          ['p1', 1],
          ['p3', 3],
          ['p1b', 1],
          ['plain2', undefined],
        ];
        for (const [n, priority] of specs) {
          await p[from].queue.add(n, {}, priority === undefined ? {} : { priority });
        }
        assert.equal(await p[to].queue.getPrioritizedCount(), 4);
        assert.equal(await p[to].queue.getWaitingCount(), 2);
        const order = [];
        p[to].worker(async (job) => order.push(job.name));
        await h.waitFor(() => order.length === specs.length, 5000, 'all processed');
        assert.deepEqual(order, ['plain1', 'plain2', 'p1', 'p1b', 'p3', 'p5']);
      });

      it(title('retries a job the other one failed (attempts: 2 + backoff)'), async (t) => {
        const p = pair(t, peer);
        // First attempt: an implementation-`from` worker fails it.
        const first = p[from].worker(async () => {
          throw new Error('first attempt fails');
        });
        const failed = h.once(first, 'failed', 5000);
        const job = await p[from].queue.add('retry-me', { k: 1 }, { attempts: 2, backoff: { type: 'fixed', delay: 400 } });
        await failed;
        await first.close();
        assert.equal(await p[to].queue.getJobState(job.id), 'delayed', 'waiting out the backoff');
        const mid = await p[to].queue.getJob(job.id);
        assert.equal(mid.attemptsMade, 1);
        assert.equal(mid.failedReason, 'first attempt fails');
        // Second attempt: the other implementation picks it up and succeeds.
        const calls = [];
        p[to].worker(async (j) => {
          calls.push(j.attemptsMade);
          return 'second attempt ok';
        });
        await stateIs(p[from].queue, job.id, 'completed', 6000);
        assert.deepEqual(calls, [1]);
        for (const s of ['S', 'P']) {
          const done = await p[s].queue.getJob(job.id);
          assert.equal(done.returnvalue, 'second attempt ok', `via ${p[s].label}`);
          assert.equal(done.attemptsMade, 2, `attemptsMade via ${p[s].label}`);
          assert.equal(done.failedReason, 'first attempt fails');
        }
      });

      it(title('fails a job; failure details readable by both'), async (t) => {
        const p = pair(t, peer);
        p[to].worker(async () => {
          throw new RangeError('out of range: 7');
        });
        const job = await p[from].queue.add('doomed', { x: 7 });
        await stateIs(p[from].queue, job.id, 'failed');
        for (const s of ['S', 'P']) {
          const f = await p[s].queue.getJob(job.id);
          assert.equal(f.failedReason, 'out of range: 7', `failedReason via ${p[s].label}`);
          assert.ok(Array.isArray(f.stacktrace) && f.stacktrace.length === 1, `stacktrace via ${p[s].label}`);
          assert.match(f.stacktrace[0], /^RangeError: out of range: 7/);
          assert.equal(f.attemptsMade, 1);
          assert.equal(typeof f.finishedOn, 'number');
          assert.equal(await p[s].queue.getFailedCount(), 1);
        }
      });

      it(title('retries a job the other one failed via Job.retry()'), async (t) => {
        const p = pair(t, peer);
        const first = p[from].worker(async () => {
          throw new Error('fails once');
        });
        const job = await p[from].queue.add('r', {});
        await stateIs(p[from].queue, job.id, 'failed');
        await first.close();
        await (await p[to].queue.getJob(job.id)).retry();
        assert.equal(await p[from].queue.getJobState(job.id), 'waiting');
        p[from].worker(async () => 'ok now');
        await stateIs(p[to].queue, job.id, 'completed');
        assert.equal((await p[to].queue.getJob(job.id)).returnvalue, 'ok now');
      });
    }
  });
}

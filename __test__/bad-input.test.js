'use strict';
// bullrush's stricter input validation. BullMQ accepts several of these
// (e.g. priority -1, attempts 0, jobId 5 throws a bare TypeError, adds to an
// unreachable Redis hang forever), so this whole file runs only against
// bullrush. Every rejected call must leave Redis untouched.
// (BULLRUSH_TEST_FORCE_BAD_INPUT=1 runs it against BULLRUSH_TEST_IMPL anyway,
// to see how far BullMQ is from it.)

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const SKIP =
  !h.isBullrush() && !process.env.BULLRUSH_TEST_FORCE_BAD_INPUT
    ? `BULLRUSH_TEST_IMPL=${h.implName()}: these assert bullrush's stricter validation, which BullMQ does not have`
    : false;

function withTimeout(promise, ms, label) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label}: still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('bad input (bullrush only)', { skip: SKIP }, () => {
  const lib = SKIP ? {} : h.impl();
  const { Queue, Worker } = lib;

  /** A fresh queue plus a raw client; asserts afterwards that nothing was written. */
  function setup(t) {
    const c = h.scope(t);
    const name = h.uniqueQueueName('bad');
    const queue = c.add(new Queue(name, { connection: h.connection() }));
    const redis = c.add(h.rawRedis());
    const assertNothingWritten = async (label) => {
      const keys = await h.queueKeys(redis, name);
      assert.ok(
        keys.length === 0 || (keys.length === 1 && keys[0] === 'meta'),
        `${label}: expected no keys besides 'meta' for bull:${name}:*, found ${JSON.stringify(keys)}`,
      );
      const counts = await h.jobCounts(queue, 'waiting', 'delayed', 'prioritized', 'active');
      assert.deepEqual(counts, { waiting: 0, delayed: 0, prioritized: 0, active: 0 }, label);
    };
    return { c, name, queue, redis, assertNothingWritten };
  }

  /** Asserts queue.add(...) rejects with an Error whose message matches `re` (or all of an array), writing nothing. */
  async function rejectsCleanly(t, data, opts, re, { type = Error } = {}) {
    const { queue, assertNothingWritten } = setup(t);
    const label = `add(${JSON.stringify(opts, (k, v) => (typeof v === 'bigint' ? `${v}n` : v))})`;
    await assert.rejects(
      () => queue.add('bad', data, opts),
      (err) => {
        assert.ok(err instanceof type, `${label}: expected a ${type.name}, got ${err && err.constructor.name}`);
        for (const r of [].concat(re)) assert.match(err.message, r, `${label}: message should name the problem`);
        return true;
      },
    );
    await assertNothingWritten(label);
  }

  describe('queue names', () => {
    for (const [bad, re] of [
      ['', /name/i],
      ['a:b', /:|colon/i],
      ['with:two:colons', /:|colon/i],
    ]) {
      it(`rejects queue name ${JSON.stringify(bad)}`, () => {
        assert.throws(
          () => new Queue(bad, { connection: h.connection() }),
          (err) => {
            assert.ok(err instanceof Error, 'Error or TypeError');
            assert.match(err.message, /name/i);
            assert.match(err.message, re);
            return true;
          },
        );
      });
    }
  });

  describe('priority', () => {
    for (const priority of [1.5, -1, 2097152, Number.NaN, Infinity]) {
      it(`rejects priority ${priority}`, async (t) => {
        await rejectsCleanly(t, {}, { priority }, /priority/i);
      });
    }
    it('accepts the bounds 0 and 2097151', async (t) => {
      const { queue } = setup(t);
      const lo = await queue.add('lo', {}, { priority: 0 });
      const hi = await queue.add('hi', {}, { priority: 2097151 });
      assert.equal(await queue.getJobState(lo.id), 'waiting');
      assert.equal(await queue.getJobState(hi.id), 'prioritized');
    });
  });

  describe('adds made in the same tick', () => {
    it('a bad job fails alone; the others are added', async (t) => {
      const { queue } = setup(t);
      const results = await Promise.allSettled([
        queue.add('good-1', { n: 1 }),
        queue.add('bad', {}, { jobId: '42' }),
        queue.add('good-2', { n: 2 }, { jobId: 'custom-2' }),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      assert.match(results[1].reason.message, /integer/i);
      assert.equal(results[2].value.id, 'custom-2');
      const waiting = await queue.getWaiting();
      assert.deepEqual(waiting.map((j) => j.name).sort(), ['good-1', 'good-2']);
      assert.equal(await queue.getJob('42'), undefined);
    });
  });

  describe('many adds in one tick (sent as two script calls)', () => {
    it('all resolve in call order with rising ids; a bad one fails alone', async (t) => {
      const { queue } = setup(t);
      const calls = Array.from({ length: 100 }, (_, n) => (n === 70
        ? queue.add('bad', {}, { jobId: '7' })
        : queue.add(`job-${n}`, { n })));
      const results = await Promise.allSettled(calls);
      assert.deepEqual(results.map((r, n) => `${n}:${r.status}`).filter((s) => s.endsWith('rejected')), ['70:rejected']);
      const ids = results.filter((r) => r.status === 'fulfilled').map((r) => Number(r.value.id));
      assert.equal(new Set(ids).size, 99);
      for (let i = 1; i < 50; i++) assert.ok(ids[i] > ids[i - 1], 'the first half keeps call order');
      assert.ok(ids[49] < ids[50], 'the first half is stored before the second');
      assert.equal(await queue.getWaitingCount(), 99);
    });
  });

  describe('text that could break how a batch is framed', () => {
    it('a name with newlines is kept; a timestamp given as text is refused alone', async (t) => {
      const { queue } = setup(t);
      const results = await Promise.allSettled([
        queue.add('line 1\nline 2\n\n', { text: 'a\nb' }),
        queue.add('bad', {}, { timestamp: '1\n2\n3\n4' }),
        queue.add('after', { n: 2 }),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      assert.match(results[1].reason.message, /timestamp/);
      const stored = await queue.getJob(results[0].value.id);
      assert.equal(stored.name, 'line 1\nline 2\n\n');
      assert.deepEqual(stored.data, { text: 'a\nb' });
      assert.equal(await queue.getWaitingCount(), 2);
    });
  });

  describe('custom jobId', () => {
    for (const jobId of ['5', 5, '0', '123456']) {
      it(`rejects integer-like jobId ${JSON.stringify(jobId)}`, async (t) => {
        await rejectsCleanly(t, {}, { jobId }, [/id\b/i, /integer/i]);
      });
    }
    it('accepts a non-integer custom id', async (t) => {
      const { queue } = setup(t);
      assert.equal((await queue.add('ok', {}, { jobId: 'job-5' })).id, 'job-5');
    });
  });

  describe('attempts', () => {
    for (const attempts of [0, -1, 1.5]) {
      it(`rejects attempts ${attempts}`, async (t) => {
        await rejectsCleanly(t, {}, { attempts }, /attempts/i);
      });
    }
    it('accepts attempts 1 and 5', async (t) => {
      const { queue } = setup(t);
      assert.equal((await queue.add('a', {}, { attempts: 1 })).opts.attempts, 1);
      assert.equal((await queue.add('b', {}, { attempts: 5 })).opts.attempts, 5);
    });
  });

  describe('data that is not JSON', () => {
    it('rejects BigInt data with a TypeError naming JSON', async (t) => {
      await rejectsCleanly(t, { n: 10n }, {}, /JSON/, { type: TypeError });
    });
    it('rejects circular data with a TypeError naming JSON', async (t) => {
      const data = { a: 1 };
      data.self = data;
      await rejectsCleanly(t, data, {}, /JSON/, { type: TypeError });
    });
    it('addBulk with one bad job writes none of them', async (t) => {
      const { queue, assertNothingWritten } = setup(t);
      await assert.rejects(() =>
        queue.addBulk([
          { name: 'good', data: { ok: true } },
          { name: 'bad', data: { n: 1n } },
        ]),
      );
      await assertNothingWritten('addBulk');
    });
  });

  describe('delay', () => {
    it('a negative delay is accepted and the job is waiting, not delayed', async (t) => {
      const { queue } = setup(t);
      const job = await queue.add('neg', {}, { delay: -5 });
      assert.equal(await queue.getJobState(job.id), 'waiting');
      assert.equal(await queue.getDelayedCount(), 0);
    });
  });

  describe('Redis unreachable', () => {
    it('Queue.add rejects within a bounded time with a connection error', async (t) => {
      const port = await h.freePort();
      const queue = new Queue(h.uniqueQueueName('down'), { connection: { host: '127.0.0.1', port } });
      queue.on('error', () => {}); // reported as events too, like BullMQ
      t.after(() => withTimeout(queue.close(), 8000, 'queue.close()').catch(() => {}));
      const t0 = Date.now();
      await assert.rejects(
        withTimeout(queue.add('x', {}), 8000, 'queue.add() on an unreachable Redis'),
        (err) => {
          assert.doesNotMatch(err.message, /still pending/, 'add() must reject, not hang');
          assert.match(err.message, /conn|redis/i);
          return true;
        },
      );
      assert.ok(Date.now() - t0 < 8000);
      await withTimeout(queue.close(), 8000, 'queue.close()');
    });

    it("a Worker emits 'error' without crashing, and close() resolves", async (t) => {
      const port = await h.freePort();
      const worker = new Worker(h.uniqueQueueName('down'), async () => 'never', {
        connection: { host: '127.0.0.1', port },
      });
      const errors = [];
      worker.on('error', (err) => errors.push(err));
      t.after(() => withTimeout(worker.close(), 8000, 'worker.close()').catch(() => {}));
      await h.waitFor(() => errors.length > 0, 8000, "the worker's 'error' event");
      assert.ok(errors[0] instanceof Error);
      assert.match(errors[0].message, /conn|redis/i);
      await withTimeout(worker.close(), 8000, 'worker.close()');
    });
  });
});

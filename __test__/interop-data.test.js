'use strict';
// Interop, data: both implementations agree on counts, states and Job fields
// for the same queue, and bullrush's add writes the same Redis data as
// bullmq's. Skipped when BULLRUSH_TEST_IMPL is set (see interop-helpers.js).

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { SUBJECT, PEERS, SKIP, pair, stateIs, jobFields, load } = require('./interop-helpers');

const TYPES = ['waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'];

/**
 * One queue with jobs in every state, made by both implementations:
 * completed/failed by a subject worker (jobs added by the peer) and by a peer
 * worker (jobs added by the subject), one active job held by the peer worker,
 * plus waiting, delayed and prioritized jobs added by both.
 */
async function mixedStates(t, peer) {
  const p = pair(t, peer, 'interop-mix');
  const hold = p.c.gate();
  const processor = async (job) => {
    if (job.name.startsWith('bad')) throw new Error(`${job.name} failed`);
    if (job.name === 'hold') {
      await job.updateProgress({ stage: 'held' });
      await hold.promise;
    }
    await job.updateProgress(job.name === 'ok-s' ? 55 : { pct: 100, note: job.name });
    return { by: job.name, at: 'done' };
  };
  const ids = {};
  const sw = p.S.worker(processor);
  ids['ok-s'] = (await p.P.queue.add('ok-s', { i: 1 }, { attempts: 1 })).id;
  ids['bad-s'] = (await p.P.queue.add('bad-s', { i: 2 })).id;
  await stateIs(p.P.queue, ids['bad-s'], 'failed');
  await stateIs(p.P.queue, ids['ok-s'], 'completed');
  await sw.close();

  p.P.worker(processor);
  ids['ok-p'] = (await p.S.queue.add('ok-p', { i: 3 }, { removeOnFail: 10 })).id;
  ids['bad-p'] = (await p.S.queue.add('bad-p', { i: 4 }, { attempts: 1 })).id;
  await stateIs(p.S.queue, ids['bad-p'], 'failed');
  await stateIs(p.S.queue, ids['ok-p'], 'completed');
  ids.hold = (await p.S.queue.add('hold', { i: 5 })).id;
  await stateIs(p.S.queue, ids.hold, 'active');
  await h.waitFor(async () => (await p.S.queue.getJob(ids.hold)).progress, 3000, 'hold progress');

  ids['wait-s'] = (await p.S.queue.add('wait-s', { i: 6 })).id;
  ids['wait-p'] = (await p.P.queue.add('wait-p', { i: 7 }, { jobId: 'custom-7' })).id;
  ids['delay-s'] = (await p.S.queue.add('delay-s', { i: 8 }, { delay: 60000 })).id;
  ids['delay-p'] = (await p.P.queue.add('delay-p', { i: 9 }, { delay: 90000, attempts: 3 })).id;
  ids['prio-s'] = (await p.S.queue.add('prio-s', { i: 10 }, { priority: 4 })).id;
  ids['prio-p'] = (await p.P.queue.add('prio-p', { i: 11 }, { priority: 2, backoff: 1000, attempts: 2 })).id;
  return { p, ids };
}

const EXPECTED_STATES = {
  'ok-s': 'completed',
  'bad-s': 'failed',
  'ok-p': 'completed',
  'bad-p': 'failed',
  hold: 'active',
  'wait-s': 'waiting',
  'wait-p': 'waiting',
  'delay-s': 'delayed',
  'delay-p': 'delayed',
  'prio-s': 'prioritized',
  'prio-p': 'prioritized',
};

for (const peer of PEERS) {
  describe(`interop ${SUBJECT} <-> ${peer}: data`, { skip: SKIP }, () => {
    it('getJobCounts, lists and states agree for a queue in a mix of states', async (t) => {
      const { p, ids } = await mixedStates(t, peer);
      const expected = { waiting: 2, active: 1, completed: 2, failed: 2, delayed: 2, prioritized: 2 };
      assert.deepEqual(await h.jobCounts(p.S.queue, ...TYPES), expected, `${SUBJECT} counts`);
      assert.deepEqual(await h.jobCounts(p.P.queue, ...TYPES), expected, `${peer} counts`);
      assert.equal(await p.S.queue.count(), await p.P.queue.count());
      assert.equal(await p.S.queue.count(), 6);
      for (const [n, state] of Object.entries(EXPECTED_STATES)) {
        assert.equal(await p.S.queue.getJobState(ids[n]), state, `${n} via ${SUBJECT}`);
        assert.equal(await p.P.queue.getJobState(ids[n]), state, `${n} via ${peer}`);
      }
      for (const type of TYPES) {
        const s = (await p.S.queue.getJobs([type], 0, -1, true)).map((j) => j.id);
        const q = (await p.P.queue.getJobs([type], 0, -1, true)).map((j) => j.id);
        assert.deepEqual(s, q, `getJobs(['${type}']) ids`);
        assert.equal(s.length, expected[type]);
      }
    });

    it('getJob agrees field by field for jobs in every state', async (t) => {
      const { p, ids } = await mixedStates(t, peer);
      for (const [n, id] of Object.entries(ids)) {
        const s = await p.S.queue.getJob(id);
        const q = await p.P.queue.getJob(id);
        assert.ok(s && q, `${n} found by both`);
        assert.deepEqual(jobFields(s), jobFields(q), `${n}: ${SUBJECT} vs ${peer}`);
      }
      // spot checks that the compared fields are really populated
      const ok = await p.S.queue.getJob(ids['ok-s']);
      assert.deepEqual(ok.returnvalue, { by: 'ok-s', at: 'done' });
      assert.equal(ok.progress, 55);
      const okp = await p.S.queue.getJob(ids['ok-p']);
      assert.deepEqual(okp.progress, { pct: 100, note: 'ok-p' });
      assert.equal(okp.opts.removeOnFail, 10);
      const bad = await p.S.queue.getJob(ids['bad-p']);
      assert.equal(bad.failedReason, 'bad-p failed');
      assert.equal(bad.stacktrace.length, 1);
      const held = await p.S.queue.getJob(ids.hold);
      assert.deepEqual(held.progress, { stage: 'held' });
      assert.equal(typeof held.processedOn, 'number');
      assert.equal((await p.S.queue.getJob(ids['delay-p'])).delay, 90000);
      assert.equal((await p.S.queue.getJob(ids['prio-p'])).priority, 2);
      assert.equal(ids['wait-p'], 'custom-7');
    });

    it(`${SUBJECT}'s add writes the same Redis data as ${peer}'s`, async (t) => {
      const c = h.scope(t);
      const redis = c.add(h.rawRedis());
      const optionSets = [
        {},
        { delay: 5000 },
        { priority: 3 },
        { priority: 3 },
        { attempts: 3, backoff: { type: 'exponential', delay: 100 } },
        { jobId: 'cid', removeOnComplete: true, removeOnFail: { count: 5 } },
        { lifo: true },
        { removeOnComplete: { age: 60, count: 10 }, attempts: 2, backoff: 500 },
      ];
      const data = { a: 1, s: 'x', arr: [1, { b: null }] };
      const names = {};
      const ids = {};
      for (const [key, libName] of [
        ['S', SUBJECT],
        ['P', peer],
      ]) {
        const { Queue } = load(libName);
        names[key] = h.uniqueQueueName(`raw-${key}`);
        const queue = c.add(new Queue(names[key], { connection: h.connection() }));
        ids[key] = [];
        for (const opts of optionSets) ids[key].push((await queue.add('raw', data, opts)).id);
        await queue.close();
      }
      assert.deepEqual(ids.S, ids.P, 'same job ids');
      assert.deepEqual(await h.queueKeys(redis, names.S), await h.queueKeys(redis, names.P), 'same keys');

      const norm = (hash) => {
        const out = { ...hash };
        assert.match(out.timestamp, /^\d+$/);
        out.timestamp = '<ts>';
        out.opts = JSON.parse(out.opts);
        out.data = JSON.parse(out.data);
        return out;
      };
      for (let i = 0; i < optionSets.length; i++) {
        const s = await redis.hgetall(`bull:${names.S}:${ids.S[i]}`);
        const q = await redis.hgetall(`bull:${names.P}:${ids.P[i]}`);
        const label = `job ${ids.S[i]} opts ${JSON.stringify(optionSets[i])}`;
        assert.deepEqual(Object.keys(s).sort(), Object.keys(q).sort(), `${label}: hash field names`);
        assert.deepEqual(norm(s), norm(q), `${label}: hash values`);
      }

      const key = (k, n) => `bull:${names[k]}:${n}`;
      for (const list of ['wait']) {
        assert.deepEqual(await redis.lrange(key('S', list), 0, -1), await redis.lrange(key('P', list), 0, -1), list);
      }
      assert.deepEqual(
        await redis.zrange(key('S', 'prioritized'), 0, -1, 'WITHSCORES'),
        await redis.zrange(key('P', 'prioritized'), 0, -1, 'WITHSCORES'),
        'prioritized zset members and scores',
      );
      assert.equal(await redis.get(key('S', 'id')), await redis.get(key('P', 'id')), 'id counter');
      assert.equal(await redis.get(key('S', 'pc')), await redis.get(key('P', 'pc')), 'priority counter');
      // delayed score = (timestamp + delay) * 0x1000 + (counter & 0xfff)
      for (const k of ['S', 'P']) {
        const [member, score] = await redis.zrange(key(k, 'delayed'), 0, -1, 'WITHSCORES');
        const ts = Number(await redis.hget(key(k, member), 'timestamp'));
        assert.equal(Math.floor(Number(score) / 0x1000) - ts, 5000, `${k} delayed score`);
      }
      const metaFields = async (k) => Object.keys(await redis.hgetall(key(k, 'meta'))).sort();
      assert.deepEqual(await metaFields('S'), await metaFields('P'), 'meta field names');
      const events = async (k) =>
        (await redis.xrange(key(k, 'events'), '-', '+')).map(([, f]) => {
          const o = {};
          for (let j = 0; j < f.length; j += 2) o[f[j]] = f[j + 1];
          if (o.delay) o.delay = '<ts>';
          return o;
        });
      assert.deepEqual(await events('S'), await events('P'), 'events stream');
    });
  });
}

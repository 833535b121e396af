'use strict';
// Last-Event-ID as browsers (and anyone else) send it: invalid, ancient or
// from the future, it never leaves a stream silent or replays more than the
// window; and errors never show Redis internals to the browser.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { parseEventStream, readResponse, readHttp, serve } = require('./sse-client');

const skip = h.isBullrush() ? false : 'bullrush SSE helpers';
const { Queue, sseResponse, streamSse } = h.isBullrush() ? h.impl() : {};

function setup(t) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('sse-last-id');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  return { c, name, queue };
}

const header = (lastEventId) => (lastEventId === undefined ? {} : { 'last-event-id': lastEventId });

/** The two ways to serve a stream, each opened with a Last-Event-ID header. */
const transports = {
  sseResponse: async (t, queue, lastEventId) => {
    const request = new Request('http://localhost/events', { headers: header(lastEventId) });
    const stream = readResponse(sseResponse(queue, { request, events: ['added'] }));
    t.after(() => stream.close());
    return stream;
  },
  streamSse: async (t, queue, lastEventId) => {
    const port = await serve(t, (req, res) => streamSse(req, res, queue, { events: ['added'] }));
    const stream = await readHttp(port, header(lastEventId));
    t.after(() => stream.close());
    return stream;
  },
};

const added = (stream) => parseEventStream(stream.text()).events.map((e) => JSON.parse(e.data).name);

/** Adds jobs named `name` until the stream shows one (it may take a moment to go live). */
async function addUntilSeen(queue, stream, name) {
  try {
    await h.waitFor(async () => {
      if (added(stream).includes(name)) return true;
      await queue.add(name, {});
      return false;
    }, 6000, `an 'added' frame for ${name}`, 250);
  } catch (err) {
    err.message += `; the stream so far: ${JSON.stringify(stream.text().slice(0, 300))}`;
    throw err;
  }
}

/** Nothing the browser got names Redis keys or quotes Redis errors. */
function assertNoInternals(stream, queue) {
  const text = stream.text();
  for (const secret of [queue.toKey(''), 'ResponseError', 'Invalid stream ID', 'WRONGTYPE']) {
    assert.ok(!text.includes(secret), `the stream shows ${JSON.stringify(secret)}: ${JSON.stringify(text.slice(0, 500))}`);
  }
}

const INVALID = { garbage: 'garbage', dash: '-', '5000 characters': '1'.repeat(5000), 'sequence overflow': '1-18446744073709551616' };

for (const [transport, open] of Object.entries(transports)) {
  describe(`${transport}: Last-Event-ID`, { skip }, () => {
    for (const [label, id] of Object.entries(INVALID)) {
      it(`an invalid one (${label}) streams from now`, async (t) => {
        const { queue } = setup(t);
        await queue.add('before', {});
        const stream = await open(t, queue, id);
        await addUntilSeen(queue, stream, 'after');
        assert.ok(!added(stream).includes('before'), 'nothing is replayed for an invalid id');
        assertNoInternals(stream, queue);
      });
    }

    it('one from the future streams from now instead of waiting for it', async (t) => {
      const { queue } = setup(t);
      const stream = await open(t, queue, `${Date.now() + 365 * 24 * 3600e3}-0`);
      await addUntilSeen(queue, stream, 'after');
    });
  });
}

describe('SSE replay and errors', { skip }, () => {
  it('one from long ago replays only the last five minutes', { skip: h.redisOnly('XADD with explicit ids') }, async (t) => {
    const { c, queue } = setup(t);
    const redis = c.add(h.rawRedis());
    const key = queue.toKey('events');
    const hourAgo = Date.now() - 3600e3;
    await redis.xadd(key, `${hourAgo}-0`, 'event', 'added', 'jobId', 'x1', 'name', 'hour-ago');
    await redis.xadd(key, `${Date.now() - 60e3}-0`, 'event', 'added', 'jobId', 'x2', 'name', 'minute-ago');
    const stream = await transports.sseResponse(t, queue, `${hourAgo - 1}-0`);
    await addUntilSeen(queue, stream, 'after');
    assert.deepEqual(added(stream).filter((n) => n !== 'after'), ['minute-ago']);
  });

  it('an error reaches the browser as a generic comment, the queue\'s error listeners in full', { skip: h.redisOnly('breaks the events key') }, async (t) => {
    const { c, queue } = setup(t);
    const redis = c.add(h.rawRedis());
    const key = queue.toKey('events');
    await redis.set(key, 'not a stream'); // every read of it now fails with WRONGTYPE
    const errors = [];
    queue.on('error', (err) => errors.push(err));
    const stream = await transports.streamSse(t, queue, undefined);
    await h.waitFor(() => parseEventStream(stream.text()).comments.length > 1, 5000, 'an error comment');
    assert.ok(parseEventStream(stream.text()).comments.includes('events temporarily unavailable, retrying'), stream.text());
    assertNoInternals(stream, queue);
    assert.equal(errors.length, 1, 'one error for the server\'s logs');
    assert.match(errors[0].message, /WRONGTYPE/);
    assert.ok(errors[0].message.includes(key), errors[0].message);

    await redis.del(key);
    await addUntilSeen(queue, stream, 'after-recovery');
    assertNoInternals(stream, queue);
  });
});

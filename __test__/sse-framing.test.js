'use strict';
// SSE framing: whatever is in the events stream, a browser sees only the
// frames bullrush meant to write, and publishEvent refuses names that could
// not be written as one.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { parseEventStream, readResponse } = require('./sse-client');

const skip = h.isBullrush() ? false : 'bullrush SSE helpers';
const { Queue, Worker, QueueEventsProducer, sseResponse } = h.isBullrush() ? h.impl() : {};

function setup(t) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('sse-framing');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  const producer = c.add(new QueueEventsProducer(name, { connection: h.connection() }));
  return { c, name, queue, producer };
}

/** Opens `response` and waits until it delivers live events (pings published meanwhile). */
async function live(t, response, producer, fields = {}) {
  const stream = readResponse(response);
  t.after(() => stream.close());
  await h.waitFor(async () => {
    if (parseEventStream(stream.text()).events.some((e) => e.event === 'ping')) return true;
    await producer.publishEvent({ eventName: 'ping', ...fields });
    return false;
  }, 10000, 'the stream to deliver live events', 200);
  return stream;
}

const FORGED = '{"jobId":"42","returnvalue":"FORGED"}';
const STANDARD = /^[a-z-]+$/; // what bullrush itself writes: completed, active, …

describe('SSE framing', { skip }, () => {
  it('an event name with line breaks in the stream cannot forge a frame', { skip: h.redisOnly('raw XADD') }, async (t) => {
    const { c, name, queue, producer } = setup(t);
    const redis = c.add(h.rawRedis());
    // Job 42 as automatic ids number them (a custom id cannot be an integer).
    const jobs = await queue.addBulk(Array.from({ length: 42 }, (_, i) => ({ name: 'report', data: { i } })));
    assert.equal(jobs.at(-1).id, '42');
    const stream = await live(t, sseResponse(queue, { jobId: '42' }), producer, { jobId: '42' });

    // As anyone with Redis access (or another BullMQ client) could write them.
    const key = queue.toKey('events');
    for (const nl of ['\n', '\r', '\r\n']) {
      const forged = `x${nl}${nl}event: completed${nl}data: ${FORGED}${nl}${nl}event: x`;
      await redis.xadd(key, '*', 'event', forged, 'jobId', '42');
    }
    await redis.xadd(key, '*', 'event', 'nul\0name', 'jobId', '42');
    await redis.xadd(key, '*', 'jobId', '42'); // no event name at all

    c.add(new Worker(name, async () => 'real', { connection: h.connection() }));
    await h.waitFor(() => stream.ended(), 10000, 'the stream to end with job 42');
    const { events } = parseEventStream(stream.text());
    const completed = events.filter((e) => e.event === 'completed');
    assert.deepEqual(completed.map((e) => JSON.parse(e.data).returnvalue), ['real'], stream.text());
    assert.ok(events.every((e) => STANDARD.test(e.event)), `unexpected names: ${events.map((e) => JSON.stringify(e.event))}`);
    assert.ok(events.every((e) => JSON.parse(e.data).jobId === '42'));
  });

  it('publishEvent refuses control characters in event names and writes nothing', async (t) => {
    const { c, queue, producer } = setup(t);
    const redis = h.backendName() === 'redis' ? c.add(h.rawRedis()) : undefined;
    const stream = await live(t, sseResponse(queue), producer);
    const length = redis && (await redis.xlen(queue.toKey('events')));

    const bad = ['a\nb', 'a\rb', 'a\0b', 'tab\there', 'del\x7f', `x\n\nevent: completed\ndata: ${FORGED}`];
    for (const eventName of bad) {
      await assert.rejects(producer.publishEvent({ eventName, jobId: '42' }), (err) => {
        assert.ok(err instanceof TypeError, `${err}`);
        assert.match(err.message, /eventName .*control character/);
        assert.ok(err.message.includes(JSON.stringify(eventName)), err.message);
        return true;
      });
    }
    if (redis) assert.equal(await redis.xlen(queue.toKey('events')), length, 'nothing was written to Redis');

    await producer.publishEvent({ eventName: 'after-refusals' });
    await h.waitFor(() => parseEventStream(stream.text()).events.some((e) => e.event === 'after-refusals'));
    const names = parseEventStream(stream.text()).events.map((e) => e.event).filter((e) => e !== 'ping');
    assert.deepEqual(names, ['after-refusals']);
  });

  it('names with colons and spaces, and data with line breaks, arrive intact', async (t) => {
    const { queue, producer } = setup(t);
    const stream = await live(t, sseResponse(queue), producer);
    const names = ['report: ready', 'a b c', 'ns:evt', 'émoji ✓'];
    const text = `line1\n\nevent: completed\r\ndata: ${FORGED}\r\rend`;
    for (const eventName of names) await producer.publishEvent({ eventName, text });

    await h.waitFor(() => parseEventStream(stream.text()).events.filter((e) => names.includes(e.event)).length === 4);
    const events = parseEventStream(stream.text()).events.filter((e) => e.event !== 'ping');
    assert.deepEqual(events.map((e) => e.event), names);
    assert.ok(events.every((e) => JSON.parse(e.data).text === text));
  });
});

'use strict';
// Server-Sent Events from queue events, and the health report.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const h = require('./helpers');

const skip = h.isBullrush() ? false : 'bullrush helpers';
const bullrush = h.isBullrush() ? h.impl() : {};
const { Queue, Worker, sseResponse, streamSse, health } = bullrush;

/** Parses SSE text into frames ({ id, event, data }); comments are skipped. */
function parseFrames(text) {
  return text
    .split('\n\n')
    .filter((block) => block.split('\n').some((line) => line.startsWith('event:')))
    .map((block) => {
      const frame = {};
      for (const line of block.split('\n')) {
        const at = line.indexOf(': ');
        if (line.startsWith('id:')) frame.id = line.slice(at + 2);
        if (line.startsWith('event:')) frame.event = line.slice(at + 2);
        if (line.startsWith('data:')) frame.data = JSON.parse(line.slice(at + 2));
      }
      return frame;
    });
}

async function readAll(response) {
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of response.body) text += decoder.decode(chunk, { stream: true });
  return text;
}

function setup(t) {
  const c = h.scope(t);
  const name = h.uniqueQueueName('sse');
  const queue = c.add(new Queue(name, { connection: h.connection() }));
  return { c, name, queue };
}

describe('sseResponse', { skip }, () => {
  it('streams one job\'s progress and ends when it completes', async (t) => {
    const { c, name, queue } = setup(t);
    const job = await queue.add('report', { pages: 2 }, { delay: 300 });
    const response = sseResponse(queue, { jobId: job.id });
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    c.add(new Worker(name, async (j) => {
      await j.updateProgress(50);
      await j.updateProgress(100);
      return { url: '/r.pdf' };
    }, { connection: h.connection() }));
    const frames = parseFrames(await readAll(response));
    const events = frames.map((f) => f.event);
    assert.deepEqual(events.filter((e) => e === 'progress' || e === 'completed'), ['progress', 'progress', 'completed']);
    assert.deepEqual(frames.filter((f) => f.event === 'progress').map((f) => f.data.data), [50, 100]);
    assert.deepEqual(frames.at(-1).data.returnvalue, { url: '/r.pdf' });
    assert.ok(frames.every((f) => /^\d+-\d+$/.test(f.id)), 'every frame carries the stream id');
    assert.ok(frames.every((f) => f.data.jobId === job.id), 'only this job');
  });

  it('answers at once for a job that already finished', async (t) => {
    const { c, name, queue } = setup(t);
    const worker = c.add(new Worker(name, async () => 'done', { connection: h.connection() }));
    const job = await queue.add('quick', {});
    await h.once(worker, 'completed', 5000);
    const frames = parseFrames(await readAll(sseResponse(queue, { jobId: job.id })));
    assert.deepEqual(frames.map((f) => [f.event, f.data.returnvalue]), [['completed', 'done']]);
  });

  it('a stream opened mid-job starts with the progress so far', async (t) => {
    const { c, name, queue } = setup(t);
    let release;
    const gate = new Promise((resolve) => (release = resolve));
    const worker = c.add(new Worker(name, async (j) => {
      await j.updateProgress(40);
      await gate;
      return 'ok';
    }, { connection: h.connection() }));
    const job = await queue.add('slow', {});
    await h.once(worker, 'progress', 5000);
    const response = sseResponse(queue, { jobId: job.id });
    setTimeout(release, 300);
    const frames = parseFrames(await readAll(response));
    assert.deepEqual(frames.map((f) => f.event), ['progress', 'completed']);
    assert.equal(frames[0].data.data, 40);
  });

  it('1000 SSE clients on one queue add at most two Redis connections', { skip: h.redisOnly('counts Redis connections') }, async (t) => {
    const { c, queue } = setup(t);
    const redis = c.add(h.rawRedis());
    await queue.waitUntilReady();
    const clients = async () => String(await redis.call('CLIENT', 'LIST')).trim().split('\n').length;
    const before = await clients();
    const decoder = new TextDecoder();
    const readers = Array.from({ length: 1000 }, () => sseResponse(queue, { events: ['added'] }).body.getReader());
    const firstFrame = async (reader) => {
      let text = '';
      while (!text.includes('event: added')) text += decoder.decode((await reader.read()).value);
      return text;
    };
    await h.delay(500);
    await queue.add('for-everyone', {});
    const frames = await Promise.all(readers.map(firstFrame));
    assert.ok(frames.every((f) => f.includes('"name":"for-everyone"')));
    const added = (await clients()) - before;
    assert.ok(added <= 2, `${added} connections for 1000 streams`);
    await Promise.all(readers.map((r) => r.cancel()));
  });

  it('filters a queue\'s events by name', async (t) => {
    const { c, name, queue } = setup(t);
    const response = sseResponse(queue, { events: ['completed'] });
    const reader = response.body.getReader();
    await h.delay(200);
    c.add(new Worker(name, async (j) => j.data.n, { connection: h.connection() }));
    await queue.addBulk([1, 2, 3].map((n) => ({ name: 'n', data: { n } })));
    let text = '';
    const decoder = new TextDecoder();
    while (parseFrames(text).length < 3) text += decoder.decode((await reader.read()).value);
    await reader.cancel();
    const frames = parseFrames(text);
    assert.ok(frames.every((f) => f.event === 'completed'), frames.map((f) => f.event).join());
    assert.deepEqual(frames.map((f) => f.data.returnvalue).sort(), [1, 2, 3]);
  });

  it('10k connect/disconnect cycles leave no reader, connection or timer behind', async (t) => {
    const { c, name, queue } = setup(t);
    const redis = c.add(h.rawRedis());
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const baseTimers = timers();
    for (let i = 0; i < 10000; i++) {
      const response = sseResponse(queue, { heartbeatMs: 1000 });
      await response.body.cancel();
    }
    const qeName = `bull:${Buffer.from(name).toString('base64')}:qe`;
    await h.waitFor(async () => !String(await redis.call('CLIENT', 'LIST')).includes(`name=${qeName} `), 5000, 'the shared reader closed its connection');
    assert.equal(timers(), baseTimers, 'no heartbeat timer left');
  });

  it('10k connect/disconnect cycles leave the JS heap where it was', () => {
    // In a child with --expose-gc, so that only what is still referenced counts.
    const script = `
      const { Queue, sseResponse } = require(${JSON.stringify(require('node:path').resolve(__dirname, '..'))});
      const queue = new Queue(${JSON.stringify(h.uniqueQueueName('sse-heap'))}, { connection: process.env.TEST_REDIS_URL });
      const cycles = async (n) => { for (let i = 0; i < n; i++) await sseResponse(queue, {}).body.cancel(); };
      const settle = async () => { await new Promise((r) => setTimeout(r, 200)); gc(); gc(); return process.memoryUsage().heapUsed; };
      (async () => {
        await cycles(2000);
        const before = await settle();
        await cycles(10000);
        // Cancelled streams are released by tasks that may still be queued on a busy machine:
        // give them a few seconds. A leak never comes back down; slow release does.
        let after = await settle();
        for (let i = 0; i < 20 && after - before > 1e6; i++) after = Math.min(after, await settle());
        console.log(JSON.stringify({ grownMb: (after - before) / 1e6 }));
        await queue.close();
      })();`;
    const out = require('node:child_process').execFileSync(process.execPath, ['--expose-gc', '-e', script], {
      encoding: 'utf8',
      timeout: 60000,
    });
    const { grownMb } = JSON.parse(out.trim().split('\n').pop());
    assert.ok(grownMb < 2, `heap grew ${grownMb.toFixed(2)} MB over 10k cycles`);
  });
});

describe('streamSse (Node http)', { skip }, () => {
  it('a client reconnecting with Last-Event-ID gets what it missed', async (t) => {
    const { queue } = setup(t);
    const server = http.createServer((req, res) => streamSse(req, res, queue, { events: ['added'] }));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const port = server.address().port;
    const connect = (headers = {}) =>
      new Promise((resolve) => {
        const req = http.get({ port, host: '127.0.0.1', headers }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (text += d));
          resolve({ req, res, text: () => text });
        });
      });

    const first = await connect();
    await h.delay(200);
    await queue.add('one', {});
    await h.waitFor(() => parseFrames(first.text()).length === 1, 5000, 'first event');
    const lastId = parseFrames(first.text())[0].id;
    first.req.destroy();

    await queue.add('two', {}); // written while the client is away
    await queue.add('three', {});
    const second = await connect({ 'last-event-id': lastId });
    await h.waitFor(() => parseFrames(second.text()).length === 2, 5000, 'missed events');
    assert.deepEqual(parseFrames(second.text()).map((f) => f.data.name), ['two', 'three']);
    second.req.destroy();
  });
});

describe('health', { skip }, () => {
  it('reports Redis latency and queue depths', async (t) => {
    const { queue, name } = setup(t);
    await queue.add('a', {});
    await queue.add('b', {}, { delay: 60000 });
    const report = await health([queue]);
    assert.equal(report.status, 'ok');
    if (h.backendName() === 'memory') {
      assert.equal(report.backend, 'memory');
      assert.equal(report.redis, null);
    } else {
      assert.equal(report.backend, 'redis');
      assert.equal(report.redis.connected, true);
      assert.ok(report.redis.latencyMs >= 0 && report.redis.latencyMs < 1000);
    }
    assert.deepEqual(report.queues[name], {
      waiting: 1, active: 0, delayed: 1, prioritized: 0, failed: 0, completed: 0, paused: false,
    });
  });

  it('reports an unreachable Redis as unhealthy within a bounded time', async (t) => {
    const port = await h.freePort();
    const c = h.scope(t);
    const queue = c.add(new Queue(h.uniqueQueueName('down'), { connection: { host: '127.0.0.1', port } }));
    const started = Date.now();
    const report = await health(queue, { timeoutMs: 1500 });
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    assert.equal(report.status, 'unhealthy');
    assert.equal(report.redis.connected, false);
    assert.match(report.redis.error, /unreachable|did not answer/i);
  });
});

'use strict';

// 6. SSE connect/disconnect churn: browsers come and go all day. Three kinds
// of visit, mixed: a Node http client that reads the first bytes of a
// streamSse stream and hangs up (often before its events reader has even
// connected); a Fetch reader of sseResponse that reads a heartbeat and
// cancels; and, one visit in ten, a client that stays until it has received
// an event published for it (the reader was live). Afterwards Redis's client
// count and this process's handles must be back where they started, and RSS
// must not have grown by much. (Node's http alone, with no bullrush in the
// handler, grows RSS by ~20 MB over the first ~15,000 such visits and then
// stays flat: hence a loose total limit, and the slope of the second half,
// which a real leak keeps and the allocator's warm-up does not.)

const http = require('node:http');
const { Queue, QueueEventsProducer, streamSse, sseResponse } = require('../..');
const { RedisServer } = require('./lib/redis-server');
const { Checks, delay, waitFor, within, memory, mb, slope } = require('./lib/util');

const SIZES = { quick: { cycles: 1000 }, full: { cycles: 10000 } };
const LANES = 10;
const WARMUP = 50;
const SETTLE_MS = 15000;
const RSS_LIMIT_MB = 48;
const SLOPE_LIMIT_KB = 1;
const SAMPLES = 10;

/** GET the stream, read until `until(text)` holds, then hang up. */
function visit(port, until, poke) {
  return within(new Promise((resolve, reject) => {
    let timer;
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk) => {
        text += chunk;
        if (until(text)) {
          clearInterval(timer);
          req.destroy();
          resolve();
        }
      });
      if (poke) timer = setInterval(poke, 50);
    });
    req.on('error', (err) => {
      clearInterval(timer);
      reject(err);
    });
  }), 10000, 'SSE visit');
}

/** sseResponse read through the Fetch API: one heartbeat, then cancel. */
async function fetchVisit(queue) {
  const reader = sseResponse(queue, { heartbeatMs: 5 }).body.getReader();
  await within(reader.read(), 5000, 'sseResponse first chunk');
  await reader.cancel();
}

async function run({ quick, log }) {
  const size = quick ? SIZES.quick : SIZES.full;
  const checks = new Checks();
  const redis = await RedisServer.start();
  const connection = redis.connection;
  const name = `soak-sse-${process.pid}`;
  const queue = new Queue(name, { connection });
  queue.on('error', (err) => log(`queue error: ${err.message}`));
  const producer = new QueueEventsProducer(name, { connection });
  await queue.waitUntilReady();
  const server = http.createServer((req, res) => streamSse(req, res, queue, {}));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();

  const counts = { http: 0, fetch: 0, live: 0 };
  let cycle = 0;
  const lane = async (laneId, total) => {
    while (cycle < total) {
      const i = cycle++;
      if (i % 10 === 9) {
        const tag = `soak-${laneId}-${i}`;
        await visit(port, (t) => t.includes(`event: ${tag}\n`), () => producer.publishEvent({ eventName: tag }).catch(() => {}));
        counts.live++;
      } else if (i % 2) {
        await visit(port, (t) => t.includes(': connected'));
        counts.http++;
      } else {
        await fetchVisit(queue);
        counts.fetch++;
      }
    }
  };
  const cycles = (total) => Promise.all(Array.from({ length: LANES }, (_, l) => lane(l, total)));

  // Baseline after a warm-up: the first visits create what stays (the runtime, the shared connection).
  await cycles(WARMUP);
  await delay(1000);
  for (const k of Object.keys(counts)) counts[k] = 0;
  const base = { clients: await redis.clients(), handles: process._getActiveHandles().length, ...memory() };
  const t0 = Date.now();
  const xs = [];
  const ys = [];
  for (let k = 1; k <= SAMPLES; k++) {
    await cycles(WARMUP + (size.cycles * k) / SAMPLES);
    xs.push((size.cycles * k) / SAMPLES);
    ys.push(memory().rss);
  }
  const half = Math.floor(SAMPLES / 2) - 1;
  const slopeKB = Math.round((slope(xs.slice(half), ys.slice(half)) / 1024) * 100) / 100;
  const seconds = (Date.now() - t0) / 1000;
  log(`${size.cycles} visits in ${seconds.toFixed(1)} s`);

  // Closing is asynchronous (sockets, the readers' connections): give it time, bounded.
  let clients;
  let handles;
  await waitFor(async () => {
    clients = await redis.clients();
    handles = process._getActiveHandles().length;
    return clients <= base.clients && handles <= base.handles;
  }, SETTLE_MS, 200);
  const after = memory();
  const growth = mb(after.rss - base.rss);
  checks.check(clients <= base.clients, `Redis has ${clients} clients after the visits, ${base.clients} before`);
  checks.check(handles <= base.handles, `${handles} active handles after the visits, ${base.handles} before`);
  checks.check(growth < RSS_LIMIT_MB, `RSS grew by ${growth} MB over ${size.cycles} visits (limit ${RSS_LIMIT_MB} MB)`);
  // Over 1,000 visits the second half is still the allocator's warm-up: judged in the full run only.
  if (!quick) checks.check(slopeKB < SLOPE_LIMIT_KB, `RSS still grows by ${slopeKB} KB per visit over the second half (limit ${SLOPE_LIMIT_KB})`);

  server.close();
  await producer.close();
  await queue.close();
  await redis.close();
  return checks.result({
    visits: size.cycles,
    ...counts,
    visitsPerS: Math.round(size.cycles / seconds),
    redisClients: `${base.clients}->${clients}`,
    handles: `${base.handles}->${handles}`,
    rssMB: `${mb(base.rss)}->${mb(after.rss)}`,
    heapMB: `${mb(base.heapUsed)}->${mb(after.heapUsed)}`,
    secondHalfKBPerVisit: slopeKB,
  });
}

module.exports = { name: 'sse-churn', run };

'use strict';

// Server-Sent Events from a queue's events, for browsers: a Fetch `Response`
// (Next.js route handlers and other Fetch-API servers) or a Node
// `http.ServerResponse` (Express, NestJS, plain http). Each stream is one
// subscription to the queue's shared events reader: a thousand viewers cost
// no extra Redis connection.

const { QueueEvents } = require('./queue-events');
const { fitsOnOneLine } = require('./event-name');
const { startAfter } = require('./last-event-id');

const FINAL = new Set(['completed', 'failed']);
const HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};
const encoder = new TextEncoder();

// `id` and `event` are checked by the caller; JSON.stringify escapes every
// control character, so `data` stays on its one line whatever it carries.
function frame(id, event, data) {
  const idLine = id === undefined ? '' : `id: ${id}\n`;
  return `${idLine}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

// Errors already passed to a queue's 'error' listeners: the streams sharing
// a reader all get the same error object, and one outage is one log line.
const reported = new WeakSet();

function report(queue, err) {
  const key = Object(err);
  if (reported.has(key)) return;
  reported.add(key);
  queue.emit('error', err);
}

/**
 * Feeds SSE frames of `queue`'s events to `write` until `close()` (or, with
 * a `jobId`, until that job finishes), then calls `end` once.
 * opts: jobId, events (names to pass), lastEventId, heartbeatMs.
 */
function openFeed(queue, opts, write, end) {
  const jobId = opts.jobId === undefined ? undefined : String(opts.jobId);
  const wanted = opts.events ? new Set(opts.events) : undefined;
  const feed = new QueueEvents(queue.name, {
    connection: queue.opts.connection,
    prefix: queue.prefix,
    commandTimeout: queue.opts.commandTimeout,
    lastEventId: startAfter(opts.lastEventId),
    autorun: false,
  });
  let closed = false;
  const heartbeat = setInterval(() => write(': heartbeat\n\n'), opts.heartbeatMs ?? 15000);
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    feed.close();
    end();
  };
  let sentProgress = false;
  const send = (id, event, args) => {
    if (closed || (jobId !== undefined && args.jobId !== jobId)) return;
    // Entries are read as Redis holds them, written by anyone (BullMQ, a raw
    // XADD): one whose name or id would span lines is skipped, not repaired.
    // Stripping the breaks from "x\n\nevent: completed" still delivers a name
    // nobody published, and a browser cannot tell it from a real one; Node
    // listeners of the queue's events still get such entries.
    if (!fitsOnOneLine(event) || (id !== undefined && !fitsOnOneLine(id))) return;
    if (event === 'progress') sentProgress = true;
    if (!wanted || wanted.has(event)) write(frame(id, event, args));
    if (jobId !== undefined && FINAL.has(event)) close();
  };
  feed.dispatch = send;
  feed.on('error', (err) => {
    // Error messages name Redis keys and quote the server: the browser only
    // learns that the stream is still trying, the server's logs get it all.
    write(': events temporarily unavailable, retrying\n\n');
    report(queue, err);
  });
  feed.run().catch(() => close());
  if (jobId !== undefined) {
    // A job that finished before the stream opened gets its outcome at once;
    // one that is under way, its progress so far (unless a newer one came).
    feed
      .waitUntilReady()
      .then(() => queue.getJobState(jobId))
      .then(async (state) => {
        const job = await queue.getJob(jobId);
        if (!job) return;
        if (!FINAL.has(state)) {
          if (job.progress && !sentProgress) send(undefined, 'progress', { jobId, data: job.progress });
          return;
        }
        const args = state === 'completed'
          ? { jobId, returnvalue: job.returnvalue, prev: 'active' }
          : { jobId, failedReason: job.failedReason, prev: 'active' };
        send(undefined, state, args);
      })
      .catch(() => {});
  }
  return close;
}

/**
 * A `Response` streaming the events of `queue` (or of one job, with
 * `opts.jobId`). Pass `opts.request` so that a reconnecting browser's
 * Last-Event-ID is honoured and the stream ends when the client goes away.
 *
 * A Last-Event-ID (header or `opts.lastEventId`) that is not a Redis stream
 * id (`<ms>-<seq>` or `<ms>`, digits, at most 41 characters) or lies in the
 * future counts as none: the stream starts with new events. Not a 400: on
 * any answer but 200 EventSource stops reconnecting for good, and a browser
 * holding a garbled id would never see an event again. An id older than
 * five minutes replays only the last five minutes, so that no request can
 * have the whole stream replayed into it at once.
 *
 * While the events cannot be read (Redis down, …) the browser gets the
 * comment `: events temporarily unavailable, retrying`; the error itself,
 * which names Redis keys, goes to `queue`'s 'error' listeners (once, however
 * many streams share the reader).
 */
function sseResponse(queue, opts = {}) {
  const request = opts.request;
  const lastEventId = opts.lastEventId ?? (request && request.headers.get('last-event-id')) ?? undefined;
  let close = () => {};
  const stream = new ReadableStream({
    start(controller) {
      close = openFeed(
        queue,
        { ...opts, lastEventId },
        (text) => {
          try {
            controller.enqueue(encoder.encode(text));
          } catch {
            close();
          }
        },
        () => {
          try {
            controller.close();
          } catch {
            /* already closed by the client */
          }
        },
      );
      if (request && request.signal) request.signal.addEventListener('abort', () => close(), { once: true });
    },
    cancel() {
      close();
    },
  });
  return new Response(stream, { headers: { ...HEADERS, ...(opts.headers || {}) } });
}

/**
 * Streams the events of `queue` (or of one job) to a Node ServerResponse;
 * returns a function that ends the stream. Last-Event-ID is read from `req`
 * and treated as by sseResponse.
 */
function streamSse(req, res, queue, opts = {}) {
  const lastEventId = opts.lastEventId ?? req.headers['last-event-id'];
  res.writeHead(200, { ...HEADERS, ...(opts.headers || {}) });
  res.write(': connected\n\n');
  const close = openFeed(queue, { ...opts, lastEventId }, (text) => res.write(text), () => res.end());
  req.on('close', close);
  res.on('close', close);
  return close;
}

module.exports = { sseResponse, streamSse };

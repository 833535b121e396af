'use strict';

const { QueueBase } = require('./queue-base');
const { binding, call, sync, translate } = require('./native');
const { parseOr } = require('./json');
const { CONTROL_CHARS, quote } = require('./event-name');

/** Turns a stream entry's fields into BullMQ's listener arguments. */
function toArgs(fields) {
  const args = {};
  for (let i = 0; i < fields.length; i += 2) args[fields[i]] = fields[i + 1];
  const event = args.event;
  delete args.event;
  if (event === 'progress') args.data = parseOr(args.data, args.data);
  else if (event === 'completed') args.returnvalue = parseOr(args.returnvalue, args.returnvalue);
  else if (event === 'delayed') args.delay = Number(args.delay);
  return { event, args };
}

/**
 * One native subscription, parsed once and dispatched to every QueueEvents
 * that shares it. Instances reading live ('$') from the same queue share a
 * feed, so a thousand listeners cost one parse per batch, not a thousand.
 */
class Feed {
  constructor(key, { url, commandTimeout }, prefix, name, lastEventId, blockingTimeout) {
    this.key = key;
    this.members = new Set();
    this.events = sync(() => new binding.NativeEvents(url, prefix, name, commandTimeout));
    this.started = this.events.start(lastEventId, blockingTimeout);
    this.started.then(() => this.consume()).catch((err) => this.broadcastError(err));
  }

  async consume() {
    for (;;) {
      const text = await this.events.next();
      if (text === null) return;
      const { entries, errors } = JSON.parse(text);
      // Tagged with their kind by the reader: an outage, NOPERM, …
      for (const message of errors) this.broadcastError(translate(new Error(message)));
      for (const [id, fields] of entries) {
        const { event, args } = toArgs(fields);
        for (const member of this.members) member.dispatch(id, event, args);
      }
    }
  }

  broadcastError(err) {
    for (const member of this.members) member.emit('error', err);
  }

  leave(member) {
    this.members.delete(member);
    if (this.members.size === 0) {
      if (this.key !== undefined) liveFeeds.delete(this.key);
      this.events.close();
    }
  }
}

const liveFeeds = new Map();

function joinFeed(qe) {
  const { opts } = qe;
  const lastEventId = String(opts.lastEventId);
  const blockingTimeout = Math.ceil(opts.blockingTimeout);
  const { url, commandTimeout } = qe.connection;
  const key = lastEventId === '$' ? [url, commandTimeout, qe.prefix, qe.name, blockingTimeout].join('|') : undefined;
  let feed = key === undefined ? undefined : liveFeeds.get(key);
  if (!feed) {
    feed = new Feed(key, qe.connection, qe.prefix, qe.name, lastEventId, blockingTimeout);
    if (key !== undefined) liveFeeds.set(key, feed);
  }
  feed.members.add(qe);
  return feed;
}

/**
 * BullMQ's QueueEvents. Instances on the same queue in this process share
 * one Redis reader (one connection, fanned out in Rust) and, when reading
 * live, one parsed feed.
 */
class QueueEvents extends QueueBase {
  constructor(name, opts = {}) {
    super(name, opts);
    this.opts = { autorun: true, blockingTimeout: 10000, lastEventId: '$', ...this.opts };
    this.running = false;
    this.feed = undefined;
    this.loop = undefined;
    if (this.opts.autorun) this.run().catch((err) => this.emit('error', err));
  }

  /** Starts delivering events; the promise settles when the instance closes. */
  async run() {
    if (this.running) throw new Error('Queue Events is already running.');
    if (this.closing) throw new Error('Queue Events is closing.');
    this.running = true;
    this.feed = joinFeed(this);
    this.started = this.feed.started;
    this.loop = new Promise((resolve) => {
      this.stopped = resolve;
    });
    await this.started;
    return this.loop;
  }

  /** Resolves once events written from now on reach this instance. */
  async waitUntilReady() {
    if (this.started) await this.started;
    else await super.waitUntilReady();
  }

  /** Emits one stream entry as BullMQ's QueueEvents does. */
  dispatch(id, event, args) {
    if (event === 'drained') {
      this.emit('drained', id);
    } else {
      this.emit(event, args, id);
      if (args.jobId !== undefined) this.emit(`${event}:${args.jobId}`, args, id);
    }
  }

  close() {
    if (!this.closing) {
      this.emit('closing');
      if (this.feed) this.feed.leave(this);
      this.running = false;
      if (this.stopped) this.stopped();
      this.closing = Promise.resolve().then(() => this.emit('closed'));
    }
    return this.closing;
  }

  async disconnect() {
    return this.close();
  }
}

/** Publishes custom events that QueueEvents listeners receive by name. */
class QueueEventsProducer extends QueueBase {
  async publishEvent({ eventName, ...rest }, maxEvents = 1000) {
    if (typeof eventName !== 'string' || eventName.length === 0) {
      throw new TypeError('publishEvent needs an eventName string');
    }
    // Refused here, before anything reaches Redis: every SSE stream would have
    // to skip the entry, so the publisher would never learn why browsers
    // did not get it.
    if (CONTROL_CHARS.test(eventName)) {
      throw new TypeError(
        `publishEvent eventName cannot contain control characters (CR, LF, NUL, tab, …), ` +
          `which would break Server-Sent Events frames: got ${quote(eventName)}`,
      );
    }
    const fields = ['event', eventName];
    for (const [key, value] of Object.entries(rest)) {
      fields.push(key, typeof value === 'string' ? value : JSON.stringify(value));
    }
    return call(this.native.publishEvent(fields, maxEvents));
  }

  async close() {
    this.closing = this.closing || Promise.resolve();
    return this.closing;
  }
}

module.exports = { QueueEvents, QueueEventsProducer };

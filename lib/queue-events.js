'use strict';

const { QueueBase } = require('./queue-base');
const { binding, call, sync } = require('./native');
const { parseOr } = require('./json');
const { RedisUnavailableError } = require('./errors');

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
 * BullMQ's QueueEvents. Every instance on the same queue in this process
 * shares one Redis reader (one connection), fanned out in Rust.
 */
class QueueEvents extends QueueBase {
  constructor(name, opts = {}) {
    super(name, opts);
    this.opts = { autorun: true, blockingTimeout: 10000, lastEventId: '$', ...this.opts };
    const { url, commandTimeout } = this.connection;
    this.events = sync(() => new binding.NativeEvents(url, this.prefix, name, commandTimeout));
    this.running = false;
    this.loop = undefined;
    if (this.opts.autorun) this.run().catch((err) => this.emit('error', err));
  }

  async run() {
    if (this.running) throw new Error('Queue Events is already running.');
    if (this.closing) throw new Error('Queue Events is closing.');
    this.running = true;
    this.started = this.events.start(String(this.opts.lastEventId), Math.ceil(this.opts.blockingTimeout));
    await this.started;
    this.loop = this.consume();
    return this.loop;
  }

  /** Resolves once events written from now on reach this instance. */
  async waitUntilReady() {
    if (this.started) await this.started;
    else await super.waitUntilReady();
  }

  async consume() {
    try {
      for (;;) {
        const text = await this.events.next();
        if (text === null) break;
        const { entries, errors } = JSON.parse(text);
        for (const message of errors) this.emit('error', new RedisUnavailableError(message));
        for (const [id, fields] of entries) {
          const { event, args } = toArgs(fields);
          this.dispatch(id, event, args);
        }
      }
    } finally {
      this.running = false;
    }
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
      this.events.close();
      this.closing = (async () => {
        if (this.loop) await this.loop;
        this.emit('closed');
      })();
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

'use strict';

const { EventEmitter } = require('node:events');
const { binding, sync, call } = require('./native');
const { resolveConnection, MEMORY_URL } = require('./connection');

function validateName(name) {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError('Queue name must be provided (a non-empty string)');
  }
  if (name.includes(':')) {
    throw new TypeError(`Queue name cannot contain : (got '${name}')`);
  }
}

/** What Queue, Worker and QueueEvents share: name, prefix, connection. */
class QueueBase extends EventEmitter {
  constructor(name, opts = {}) {
    super();
    validateName(name);
    const prefix = opts.prefix === undefined ? 'bull' : opts.prefix;
    if (typeof prefix !== 'string' || prefix.length === 0) {
      throw new TypeError('prefix must be a non-empty string');
    }
    this.name = name;
    this.opts = { ...opts, prefix };
    this.qualifiedName = `${prefix}:${name}`;
    this.connection = resolveConnection(opts);
    this.closing = undefined;
    this._native = undefined;
  }

  /** True when the queue lives in this process (the embedded engine). */
  get embedded() {
    return this.connection.url === MEMORY_URL;
  }

  /**
   * As BullMQ: an 'error' nobody listens to is logged rather than thrown, and
   * a listener that throws is reported as 'error', so neither can stop a Worker.
   */
  emit(event, ...args) {
    try {
      if (event === 'error' && this.listenerCount('error') === 0) {
        console.error(args[0]);
        return false;
      }
      return super.emit(event, ...args);
    } catch (err) {
      if (event === 'error' || this.listenerCount('error') === 0) {
        console.error(err);
        return false;
      }
      return super.emit('error', err);
    }
  }

  get prefix() {
    return this.opts.prefix;
  }

  /** The native queue handle, created on first use (no I/O). */
  get native() {
    if (!this._native) {
      const { url, commandTimeout } = this.connection;
      this._native = sync(() => new binding.NativeQueue(url, this.prefix, this.name, commandTimeout));
    }
    return this._native;
  }

  toKey(type) {
    return `${this.qualifiedName}:${type}`;
  }

  /** Resolves once Redis answers; rejects with RedisUnavailableError if it cannot. */
  async waitUntilReady() {
    await call(this.native.ping());
  }
}

module.exports = { QueueBase, validateName };

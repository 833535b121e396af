'use strict';

const { QueueBase } = require('./queue-base');
const { Job, MAX_DELAY_MS } = require('./job');
const { check, refusalError } = require('./refusals');
const { binding, call, sync, translate } = require('./native');
const { toJson } = require('./json');
const { sandboxedProcessor } = require('./sandbox');
const { UnrecoverableError, RateLimitError } = require('./errors');

/** Errors by which a processor says it moved its job itself. */
const MOVED = new Set(['DelayedError', 'WaitingError', 'WaitingChildrenError']);

const BUILT_IN_BACKOFFS = new Set(['fixed', 'exponential']);

const HEARTBEAT_MS = 1000;

/**
 * Sets what BullMQ sets on a job whose result was stored: one more attempt
 * made, `finishedOn` once it completed or failed for good, and `delay` to
 * the backoff actually used when a retry was delayed.
 */
function applyOutcome(job, [, , action, at, delay]) {
  job.attemptsMade += 1;
  if (action === 'completed' || action === 'failed') job.finishedOn = at;
  if (action === 'delay') job.delay = delay;
}

/**
 * Whether `fn` can see its third argument (the AbortSignal). Creating a
 * signal costs more than the rest of a job's bookkeeping, so processors
 * that declare fewer parameters get none. Anything unclear counts as yes.
 */
function usesThirdArgument(fn) {
  if (typeof fn !== 'function' || fn.length >= 3) return true;
  let src;
  try {
    src = Function.prototype.toString.call(fn);
  } catch {
    return true;
  }
  if (src.includes('[native code]') || src.includes('arguments') || src.includes('...')) return true;
  // fn.length stops counting at a parameter with a default value.
  const close = src.indexOf(')');
  return src.slice(0, close >= 0 ? close : src.length).includes('=');
}

/**
 * BullMQ's Worker. The Rust side fetches, locks and finishes jobs in batches;
 * this class runs the processor and emits events.
 */
class Worker extends QueueBase {
  constructor(name, processor, opts = {}) {
    super(name, opts);
    if (typeof processor === 'string' || processor instanceof URL) {
      this.sandbox = sandboxedProcessor(processor, { useWorkerThreads: !!opts.useWorkerThreads });
      this.processFn = this.sandbox;
    } else {
      this.processFn = typeof processor === 'function' ? processor : undefined;
    }
    this.wantsSignal = usesThirdArgument(this.processFn);
    this.opts = {
      concurrency: 1,
      lockDuration: 30000,
      drainDelay: 5,
      autorun: true,
      ...this.opts,
    };
    this._concurrency = Math.floor(this.opts.concurrency);
    this.id = `${process.pid}-${Math.random().toString(36).slice(2)}`;
    this.running = false;
    this.paused = false;
    this.active = new Map();
    this.outbox = [];
    this.flushScheduled = false;
    this.flushBound = () => this.flush();
    this.engine = undefined;
    this.loop = undefined;
    this.idle = undefined;
    this.notifyIdle = () => {};
    // The engine validates the options (with BullMQ's messages): created
    // now, a bad option fails the constructor as it does in BullMQ.
    this.ensureEngine();
    if (this.opts.autorun && this.processFn) {
      this.run().catch((err) => this.emit('error', err));
    }
  }

  get concurrency() {
    return this._concurrency;
  }

  set concurrency(n) {
    if (!(typeof n === 'number' && Number.isFinite(n) && n >= 1)) {
      throw new TypeError('concurrency must be a finite number greater than 0');
    }
    this._concurrency = Math.floor(n);
    if (this.engine) this.engine.setConcurrency(this._concurrency);
  }

  createEngine() {
    const { url, commandTimeout } = this.connection;
    const o = this.opts;
    const settings = {
      name: o.name,
      concurrency: o.concurrency,
      lockDuration: o.lockDuration,
      lockRenewTime: o.lockRenewTime,
      drainDelay: o.drainDelay,
      limiter: o.limiter,
      removeOnComplete: o.removeOnComplete,
      removeOnFail: o.removeOnFail,
      skipLockRenewal: o.skipLockRenewal,
      stalledInterval: o.stalledInterval,
      maxStalledCount: o.maxStalledCount,
      skipStalledCheck: o.skipStalledCheck,
      metrics: o.metrics,
      eventLoopBlockLimit: o.eventLoopBlockLimit,
    };
    // JSON would turn NaN and Infinity into null, which reads as "not
    // given": as text they reach the engine's validation instead.
    const text = JSON.stringify(settings, (key, value) =>
      typeof value === 'number' && !Number.isFinite(value) ? String(value) : value);
    return sync(() => new binding.NativeWorker(url, this.prefix, this.name, commandTimeout, text));
  }

  /** The native worker, created on first use (run or manual processing). */
  ensureEngine() {
    if (!this.engine) {
      this.engine = this.createEngine();
      this.engine.setPaused(this.paused);
    }
    return this.engine;
  }

  /** As BullMQ: false once the worker is paused (its loop has stopped). */
  isRunning() {
    return this.running && !this.paused;
  }

  isPaused() {
    return this.paused;
  }

  async run() {
    if (!this.processFn) throw new Error('No process function is defined.');
    if (this.running) throw new Error('Worker is already running.');
    if (this.closing) throw new Error('Worker is closing.');
    this.running = true;
    await this.ensureEngine().start();
    this.beat();
    this.loop = this.consume();
    this.emit('ready');
    await this.loop;
  }

  /**
   * Tells the engine, once a second, that this thread runs: locks are
   * renewed in Rust only while it does (see `eventLoopBlockLimit`).
   */
  beat() {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => this.engine.alive(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  async consume() {
    try {
      for (;;) {
        const text = await this.engine.next();
        if (text === null) break;
        this.handle(JSON.parse(text));
      }
    } finally {
      this.running = false;
      clearInterval(this.heartbeat);
    }
  }

  handle(batch) {
    for (const settled of batch.done) this.settled(settled);
    // Each error keeps the kind the engine gave it (see translate).
    for (const tagged of batch.errors) this.emit('error', translate(new Error(tagged)));
    if (batch.lost.length) {
      this.emit('lockRenewalFailed', batch.lost);
      for (const id of batch.lost) this.emit('error', new Error(`could not renew lock for job ${id}`));
    }
    for (const id of batch.stalled) this.emit('stalled', id, 'active');
    if (batch.renewed.length) this.emit('locksRenewed', { count: batch.renewed.length, jobIds: batch.renewed });
    for (const record of batch.jobs) {
      const job = Job.fromRecord(this, record);
      this.active.set(job.id, { job, abort: this.wantsSignal ? new AbortController() : undefined });
      this.emit('active', job, 'waiting');
      this.process(job);
    }
    if (batch.drained) this.emit('drained');
  }

  /**
   * The engine stored a job's result (refusal null) or refused it; it says
   * what became of the job (see `Settled` in src/engine/worker/mod.rs).
   */
  settled(outcome) {
    const [id, refusal] = outcome;
    const entry = this.active.get(id);
    if (!entry) return;
    this.active.delete(id);
    if (this.active.size === 0) this.notifyIdle();
    const { job } = entry;
    if (entry.moved) return;
    if (refusal !== null) {
      this.emit('error', refusalError(refusal, id, 'moveToFinished', 'active'));
      return;
    }
    applyOutcome(job, outcome);
    if ('error' in entry) {
      this.emit('failed', job, entry.error, 'active');
    } else {
      this.emit('completed', job, entry.result, 'active');
    }
  }

  async process(job) {
    const entry = this.active.get(job.id);
    if (job.deferredFailure) {
      // Marked to fail while it was away (e.g. stalled too often): BullMQ
      // fails such a job on pickup without running the processor.
      entry.error = new UnrecoverableError(job.deferredFailure);
      await this.reportFailure(job, entry.error);
      return;
    }
    try {
      const result = await this.processFn(job, job.token, entry.abort && entry.abort.signal);
      const text = toJson(result, 'return value of job', job.id);
      job.returnvalue = result;
      entry.result = result;
      this.report(job.id, job.token, 'c', text === undefined ? 'null' : text, '', '');
    } catch (err) {
      if (err && MOVED.has(err.name)) {
        entry.moved = true;
        this.report(job.id, job.token, 'x', '', '', '');
      } else if (err && (err.name === 'RateLimitError' || err.message === 'bullmq:rateLimitExceeded')) {
        entry.moved = true;
        this.report(job.id, job.token, 'w', '', '', '');
        this.holdForRateLimit();
      } else {
        entry.error = err;
        await this.reportFailure(job, err);
      }
    }
  }

  /**
   * Signals the processor of an active job to stop (the third processor
   * argument, an AbortSignal); false when this worker is not running it.
   */
  cancelJob(jobId, reason) {
    const entry = this.active.get(String(jobId));
    if (!entry) return false;
    // A processor that cannot see the signal got none; abort one all the
    // same. As in BullMQ, every call while the job runs answers true (a
    // signal aborts once: later reasons are ignored).
    if (!entry.abort) entry.abort = new AbortController();
    entry.abort.abort(reason === undefined ? new Error(`job ${jobId} was cancelled`) : reason);
    return true;
  }

  cancelAllJobs(reason) {
    for (const id of this.active.keys()) this.cancelJob(id, reason);
  }

  /** Waits out the queue's rate limit before taking the next job. */
  async holdForRateLimit() {
    try {
      const ttl = await call(this.native.rateLimitTtl(0));
      if (ttl > 0 && this.engine) this.engine.hold(ttl);
    } catch (err) {
      this.emit('error', err);
    }
  }

  /**
   * Holds every worker of the queue for `ms` (then throw
   * `Worker.RateLimitError()` to put the current job back).
   */
  async rateLimit(ms) {
    // The engine checks the range; only a number can cross.
    if (typeof ms !== 'number') throw new TypeError(`rateLimit needs a positive number of ms, got ${ms}`);
    await call(this.native.rateLimit(ms));
    if (this.engine) this.engine.hold(Math.ceil(ms));
  }

  static RateLimitError() {
    return new RateLimitError();
  }

  async reportFailure(job, err) {
    this.report(...(await this.failureEntry(job, err)));
  }

  /** The result entry of a failed attempt (retry decided in Rust). */
  async failureEntry(job, err) {
    const error = err instanceof Error ? err : new Error(String(err));
    const unrecoverable = error instanceof UnrecoverableError || error.name === 'UnrecoverableError';
    job.failedReason = error.message;
    if (error.stack) {
      job.stacktrace = [...(job.stacktrace || []), error.stack];
      const limit = job.opts.stackTraceLimit;
      if (limit === 0) job.stacktrace = [];
      else if (limit) job.stacktrace = job.stacktrace.slice(-limit);
    }
    let delay = '';
    try {
      const custom = await this.customBackoff(job, error, unrecoverable);
      if (custom !== undefined) delay = String(Math.round(custom));
    } catch (backoffError) {
      this.emit('error', backoffError);
    }
    return [job.id, job.token, unrecoverable ? 'u' : 'f', error.message ?? '', JSON.stringify(job.stacktrace), delay];
  }

  // Manual processing: a Worker without a processor hands out jobs with
  // getNextJob; the caller finishes them with job.moveToCompleted/Failed.

  /**
   * The job started for `token`. As BullMQ, waits (up to drainDelay seconds)
   * for one unless `{ block: false }`; undefined when none came.
   */
  async getNextJob(token, { block = true } = {}) {
    const giveUpAt = Date.now() + (block ? this.opts.drainDelay * 1000 : 0);
    for (;;) {
      // A paused worker hands out nothing, as BullMQ's.
      const text = this.paused ? null : await call(this.ensureEngine().fetchOne(String(token)));
      if (text !== null) {
        const job = Job.fromRecord(this, JSON.parse(text));
        this.emit('active', job, 'waiting');
        return job;
      }
      if (Date.now() >= giveUpAt || this.closing) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async completeManually(job, returnValue, token) {
    const text = toJson(returnValue, `return value of job ${job.id}`) ?? 'null';
    const outcome = JSON.parse(await call(this.ensureEngine().finishOne([job.id, token, 'c', text, '', ''])));
    check(outcome[1], job.id, 'moveToFinished', 'active');
    applyOutcome(job, outcome);
  }

  async failManually(job, err, token) {
    const entry = await this.failureEntry(job, err);
    entry[1] = token;
    const outcome = JSON.parse(await call(this.ensureEngine().finishOne(entry)));
    check(outcome[1], job.id, 'moveToFinished', 'active');
    applyOutcome(job, outcome);
  }

  /** Delay from `settings.backoffStrategy` for custom backoff types, when the job will retry. */
  async customBackoff(job, err, unrecoverable) {
    const backoff = job.opts.backoff;
    const type = backoff && typeof backoff === 'object' ? backoff.type : undefined;
    if (!type || BUILT_IN_BACKOFFS.has(type)) return undefined;
    if (unrecoverable || job.attemptsMade + 1 >= (job.opts.attempts || 1)) return undefined;
    const strategy = this.opts.settings && this.opts.settings.backoffStrategy;
    if (typeof strategy !== 'function') {
      throw new Error(`Unknown backoff strategy ${type}. If a custom backoff strategy is used, specify it in the Worker's settings.backoffStrategy.`);
    }
    const delay = await strategy(job.attemptsMade + 1, type, err, job);
    // Longer than the engine may delay (2 ** 63 would not even read back as
    // an integer there): the longest delay, never a retry at once.
    if (typeof delay === 'number' && delay > MAX_DELAY_MS) return MAX_DELAY_MS;
    return typeof delay === 'number' && Number.isFinite(delay) ? delay : 0;
  }

  /**
   * Queues a result (id, token, kind, value, stacktrace, backoff delay); all
   * results of one tick cross to Rust in one call.
   */
  report(id, token, kind, value, stacktrace, delay) {
    this.outbox.push(id, token, kind, value, stacktrace, delay);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushBound);
    }
  }

  flush() {
    this.flushScheduled = false;
    const batch = this.outbox;
    this.outbox = [];
    // One JSON string crosses faster than an array of hundreds of strings.
    if (batch.length && this.engine) this.engine.finish(JSON.stringify(batch));
  }

  async pause(doNotWaitActive) {
    if (this.paused) return;
    this.paused = true;
    if (this.engine) this.engine.setPaused(true);
    if (!doNotWaitActive) await this.whenIdle();
    this.emit('paused');
  }

  async resume() {
    if (!this.paused) return;
    this.paused = false;
    if (this.engine) this.engine.setPaused(false);
    else if (this.processFn && !this.running && !this.closing) {
      this.run().catch((err) => this.emit('error', err));
    }
    this.emit('resumed');
  }

  /** Resolves once no job of this worker is active (results in Redis). */
  whenIdle() {
    if (this.active.size === 0) return Promise.resolve();
    if (!this.idle) {
      this.idle = new Promise((resolve) => {
        this.notifyIdle = () => {
          this.idle = undefined;
          this.notifyIdle = () => {};
          resolve();
        };
      });
    }
    return this.idle;
  }

  /**
   * Stops taking jobs. Without `force`, waits until the active jobs finish
   * and their results are in Redis; with it, leaves them to their locks.
   */
  close(force = false) {
    if (this.closing) return this.closing;
    this.emit('closing', 'closing');
    this.closing = (async () => {
      if (this.engine) {
        this.flush();
        await this.engine.close(!!force);
        if (this.loop) await this.loop;
      }
      this.running = false;
      if (this.sandbox) this.sandbox.close();
      this.emit('closed');
    })();
    return this.closing;
  }

  async disconnect() {
    return this.close();
  }
}

module.exports = { Worker };

'use strict';

const { call } = require('./native');
const { toJson } = require('./json');
const { check } = require('./refusals');

// The longest delay the engine accepts (MAX_DELAY_MS in src/engine/options.rs):
// further out, a due time no longer fits a delayed score. Checked here too,
// so that a refusal shows the value given rather than its 64-bit cast.
const MAX_DELAY_MS = 1e15;
const MAX_DELAY_TEXT = '1e15 ms (about 31,700 years)';

/**
 * A job, shaped like BullMQ's. `owner` is the Queue or Worker it came from:
 * it supplies the native queue handle and receives the job's local events.
 */
// The owner under a symbol: out of Object.keys and toJSON like a
// non-enumerable property, and far cheaper to set on every job.
const OWNER = Symbol('owner');

class Job {
  constructor(owner, name, data, opts = {}, id) {
    this[OWNER] = owner;
    this.name = name;
    this.data = data;
    this.opts = { attempts: 0, ...opts };
    this.id = id;
    this.progress = 0;
    this.returnvalue = null;
    this.stacktrace = [];
    this.delay = Math.max(0, Number(this.opts.delay) || 0);
    this.priority = this.opts.priority || 0;
    this.timestamp = this.opts.timestamp ?? Date.now();
    this.attemptsStarted = 0;
    this.attemptsMade = 0;
    this.stalledCounter = 0;
    this.queueQualifiedName = owner ? owner.qualifiedName : undefined;
  }

  get queue() {
    return this[OWNER];
  }

  set queue(owner) {
    this[OWNER] = owner;
  }

  get queueName() {
    return this.queue.name;
  }

  /** Builds a Job from the engine's record (see src/engine/job.rs). */
  // Written out field by field: each property access stays monomorphic,
  // which matters at a hundred thousand jobs a second. The engine leaves out
  // fields at their default (0, null, []).
  static fromRecord(owner, r) {
    const job = new Job(owner, r.name, r.data, r.opts, r.id);
    job.progress = r.progress ?? 0;
    job.delay = r.delay ?? 0;
    job.priority = r.priority ?? 0;
    job.timestamp = r.timestamp ?? 0;
    job.attemptsMade = r.attemptsMade ?? 0;
    job.attemptsStarted = r.attemptsStarted ?? 0;
    job.stalledCounter = r.stalledCounter ?? 0;
    job.returnvalue = r.returnvalue ?? null;
    job.stacktrace = r.stacktrace ?? [];
    if (r.processedOn != null) job.processedOn = r.processedOn;
    if (r.finishedOn != null) job.finishedOn = r.finishedOn;
    if (r.failedReason !== undefined) job.failedReason = r.failedReason;
    if (r.parentKey !== undefined) job.parentKey = r.parentKey;
    if (r.parent !== undefined) job.parent = r.parent;
    if (r.repeatJobKey !== undefined) job.repeatJobKey = r.repeatJobKey;
    if (r.deduplicationId !== undefined) job.deduplicationId = r.deduplicationId;
    if (r.processedBy !== undefined) job.processedBy = r.processedBy;
    if (r.deferredFailure !== undefined) job.deferredFailure = r.deferredFailure;
    if (r.token !== undefined) job.token = r.token;
    return job;
  }

  static async fromId(queue, jobId) {
    if (jobId === undefined || jobId === null) return undefined;
    const text = await call(queue.native.getJob(String(jobId)));
    return text === null ? undefined : Job.fromRecord(queue, JSON.parse(text));
  }

  get native() {
    return this.queue.native;
  }

  toJSON() {
    const out = {};
    for (const key of Object.keys(this)) out[key] = this[key];
    return out;
  }

  async updateProgress(progress) {
    const text = toJson(progress, 'job progress');
    check(await call(this.native.updateProgress(String(this.id), text)), this.id, 'updateProgress');
    this.progress = progress;
    this.queue.emit('progress', this, progress);
  }

  async log(row) {
    const keep = this.opts.keepLogs;
    const count = await call(this.native.addLog(String(this.id), String(row), keep ?? null));
    if (count < 0) throw new Error(`Missing key for job ${this.id}. addLog`);
    return count;
  }

  async getState() {
    return call(this.native.getState(String(this.id)));
  }

  async isCompleted() { return (await this.getState()) === 'completed'; }
  async isFailed() { return (await this.getState()) === 'failed'; }
  async isDelayed() { return (await this.getState()) === 'delayed'; }
  async isActive() { return (await this.getState()) === 'active'; }
  async isWaiting() { return (await this.getState()) === 'waiting'; }
  async isPrioritized() { return (await this.getState()) === 'prioritized'; }
  async isWaitingChildren() { return (await this.getState()) === 'waiting-children'; }

  async remove() {
    const refusal = await call(this.native.remove(String(this.id)));
    // Removing a job that is already gone is no error, as in BullMQ.
    if (refusal === 'locked') check(refusal, this.id, 'removeJob');
  }

  /** Moves this active job to delayed until `timestamp` (then throw DelayedError). */
  async moveToDelayed(timestamp, token) {
    const dueAt = Number(timestamp);
    if (!(Number.isFinite(dueAt) && dueAt - Date.now() <= MAX_DELAY_MS)) {
      throw new TypeError(
        `moveToDelayed: timestamp must be a finite number of ms at most ${MAX_DELAY_TEXT} from now, got ${timestamp}`,
      );
    }
    const refusal = await call(this.native.moveToDelayed(String(this.id), token ?? '0', dueAt));
    check(refusal, this.id, 'moveToDelayed', 'active');
    this.delay = Math.max(0, timestamp - Date.now());
  }

  /** Manual processing: completes a job taken with Worker#getNextJob. */
  async moveToCompleted(returnValue, token) {
    this.requireManualOwner('moveToCompleted');
    await this.queue.completeManually(this, returnValue, token);
    this.returnvalue = returnValue;
  }

  /** Manual processing: fails (or, with attempts left, retries) a job. */
  async moveToFailed(err, token) {
    this.requireManualOwner('moveToFailed');
    await this.queue.failManually(this, err, token);
  }

  requireManualOwner(method) {
    if (!this.queue || typeof this.queue.completeManually !== 'function') {
      throw new Error(`${method} is for jobs taken with Worker#getNextJob`);
    }
  }

  async changeDelay(delay) {
    if (!(Number.isFinite(delay) && delay >= 0 && delay <= MAX_DELAY_MS)) {
      throw new TypeError(`changeDelay: delay must be a number >= 0 and at most ${MAX_DELAY_TEXT}, got ${delay}`);
    }
    check(await call(this.native.changeDelay(String(this.id), delay)), this.id, 'changeDelay', 'delayed');
    this.delay = delay;
  }

  async changePriority({ priority = 0, lifo = false } = {}) {
    if (!(Number.isInteger(priority) && priority >= 0 && priority <= 2097151)) {
      throw new TypeError(`Priority should be between 0 and 2097151 (got ${priority})`);
    }
    check(await call(this.native.changePriority(String(this.id), priority, !!lifo)), this.id, 'changePriority');
    this.priority = priority;
  }

  async promote() {
    check(await call(this.native.promote(String(this.id))), this.id, 'promote', 'delayed');
    this.delay = 0;
  }

  async updateData(data) {
    const text = toJson(data, `data of job ${this.id}`);
    check(await call(this.native.updateData(String(this.id), text)), this.id, 'updateData');
    this.data = data;
  }

  /** 1 when `token` still holds the lock and it was extended for `duration` ms, else 0. */
  async extendLock(token, duration) {
    return (await call(this.native.extendLock(String(this.id), token, duration))) ? 1 : 0;
  }

  async clearLogs(keepLogs) {
    await call(this.native.clearLogs(String(this.id), keepLogs ?? null));
  }

  /**
   * Resolves with the job's return value once it completes, rejects with its
   * failure reason if it fails (BullMQ's `waitUntilFinished`).
   */
  async waitUntilFinished(queueEvents, ttl) {
    const id = String(this.id);
    let cleanup = () => {};
    const finished = new Promise((resolve, reject) => {
      const onCompleted = ({ returnvalue }) => {
        cleanup();
        resolve(returnvalue);
      };
      const onFailed = ({ failedReason }) => {
        cleanup();
        reject(new Error(failedReason));
      };
      queueEvents.on(`completed:${id}`, onCompleted);
      queueEvents.on(`failed:${id}`, onFailed);
      const timer = ttl
        ? setTimeout(() => {
            cleanup();
            reject(new Error(`Job wait ${this.name} timed out before finishing, no finish notification arrived after ${ttl}ms (id=${id})`));
          }, ttl)
        : undefined;
      cleanup = () => {
        clearTimeout(timer);
        queueEvents.removeListener(`completed:${id}`, onCompleted);
        queueEvents.removeListener(`failed:${id}`, onFailed);
      };
    });
    // Listening first, then looking: a job that finished before we listened
    // is seen here, one that finishes after is seen by the listeners.
    // When the state check answers, the listeners may still fire: their
    // settled promise must not surface as an unhandled rejection.
    finished.catch(() => {});
    // State first: a finished job is read only once it is finished.
    const state = await this.getState();
    if (state === 'unknown') {
      // Gone (removed on completion, say): no event will say how it ended.
      cleanup();
      throw new Error(`Missing key for job ${id}. isFinished`);
    }
    if (state === 'completed' || state === 'failed') {
      cleanup();
      const current = await Job.fromId(this.queue, id);
      if (state === 'failed') throw new Error(current.failedReason);
      return current.returnvalue;
    }
    return finished;
  }

  /** Moves a finished job back to wait, as BullMQ's `Job#retry`. */
  async retry(state = 'failed', opts = {}) {
    if (state !== 'failed' && state !== 'completed') {
      throw new TypeError(`retry state must be 'failed' or 'completed', got '${state}'`);
    }
    const refusal = await call(
      this.native.reprocess(
        String(this.id), state, !!this.opts.lifo, !!opts.resetAttemptsMade, !!opts.resetAttemptsStarted,
      ),
    );
    check(refusal, this.id, 'reprocessJob', state);
    // BullMQ sets them to null, and apps compare with null.
    this.failedReason = null;
    this.finishedOn = null;
    this.processedOn = null;
    this.returnvalue = null;
    if (opts.resetAttemptsMade) this.attemptsMade = 0;
    if (opts.resetAttemptsStarted) this.attemptsStarted = 0;
  }
}

module.exports = { Job, MAX_DELAY_MS };

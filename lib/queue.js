'use strict';

const { QueueBase } = require('./queue-base');
const { Job } = require('./job');
const { call, sync } = require('./native');
const { toJson } = require('./json');

const NUMERIC_OPTIONS = ['priority', 'delay', 'attempts', 'timestamp', 'keepLogs', 'stackTraceLimit'];

// Below this many adds in one tick a second script call costs more than it saves.
const SPLIT_ADDS_FROM = 16;

const ALL_TYPES = ['active', 'completed', 'delayed', 'failed', 'prioritized', 'waiting', 'waiting-children'];

function flattenTypes(types) {
  const list = types.flat().filter((t) => t !== undefined);
  return list.length ? [...new Set(list)] : ALL_TYPES;
}

class Queue extends QueueBase {
  constructor(name, opts = {}) {
    super(name, opts);
    this.jobsOpts = { ...(opts.defaultJobOptions || {}) };
    this.pendingAdds = [];
    // BullMQ's Queue writes the events stream's cap to meta, where every
    // writer (scripts of both) reads it; adds wait for that write.
    const maxLen = opts.streams && opts.streams.events && opts.streams.events.maxLen;
    if (maxLen !== undefined) {
      if (!(Number.isInteger(maxLen) && maxLen > 0)) {
        throw new TypeError(`streams.events.maxLen must be a positive integer, got ${maxLen}`);
      }
      this.metaWritten = call(this.native.setMeta(['opts.maxLenEvents'], [String(maxLen)]));
      this.metaWritten.catch((err) => this.emit('error', err));
    }
    // Fail at construction, as BullMQ does, instead of at the first add.
    void this.native;
  }

  get defaultJobOptions() {
    return { ...this.jobsOpts };
  }

  /** Validates and encodes one job for the native call. */
  prepare(name, data, opts) {
    const merged = { ...this.jobsOpts, ...(opts || {}) };
    if (merged.repeat) {
      throw new TypeError('repeat options are not supported yet (job schedulers are on the roadmap)');
    }
    for (const key of NUMERIC_OPTIONS) {
      const value = merged[key];
      if (typeof value === 'number' && !Number.isFinite(value)) {
        // JSON would silently turn NaN and Infinity into null.
        throw new TypeError(`${key} must be a finite number, got ${value}`);
      }
    }
    const dataText = toJson(data === undefined ? {} : data, `data of job '${name}'`);
    const optsText = toJson(merged, `options of job '${name}'`);
    const timestamp = merged.timestamp ?? Date.now();
    return { name, data, merged, dataText, optsText, timestamp };
  }

  created(p, id) {
    const job = new Job(this, p.name, p.data, p.merged, id);
    job.timestamp = p.timestamp;
    this.emit('waiting', job);
    return job;
  }

  /**
   * Adds a job. Adds made in the same tick travel together: one native call
   * and one script call for all of them (two when there are many).
   */
  add(name, data, opts) {
    let prepared;
    try {
      prepared = this.prepare(name, data, opts);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      this.pendingAdds.push({ prepared, resolve, reject });
      if (this.pendingAdds.length === 1) queueMicrotask(() => this.flushAdds());
    });
  }

  flushAdds() {
    const batch = this.pendingAdds;
    this.pendingAdds = [];
    // Two calls in flight instead of one: while Redis stores the second
    // half, this thread resolves the first and gathers the adds that follow,
    // so the two sides work at once instead of taking turns. Separate add()
    // calls promise no atomicity with each other, so the split is free.
    if (batch.length >= 2 * SPLIT_ADDS_FROM && !this.embedded) {
      const half = batch.length >> 1;
      this.sendAdds(batch.slice(0, half));
      this.sendAdds(batch.slice(half));
    } else {
      this.sendAdds(batch);
    }
  }

  async sendAdds(batch) {
    try {
      const ids = await this.addPrepared(batch.map((entry) => entry.prepared));
      batch.forEach((entry, i) => entry.resolve(this.created(entry.prepared, ids[i])));
    } catch (err) {
      if (batch.length > 1 && err instanceof TypeError) {
        // The engine refused one job of the batch: add each on its own so
        // that only the bad one fails.
        for (const entry of batch) {
          this.addPrepared([entry.prepared]).then(
            ([id]) => entry.resolve(this.created(entry.prepared, id)),
            entry.reject,
          );
        }
        return;
      }
      for (const entry of batch) entry.reject(err);
    }
  }

  async addPrepared(prepared) {
    if (this.metaWritten) await this.metaWritten;
    // Four lines per job (see new_jobs in src/binding/queue.rs): JSON text
    // holds no raw newline, and the timestamp is a number.
    const lines = new Array(prepared.length);
    for (let i = 0; i < prepared.length; i++) {
      const p = prepared[i];
      lines[i] = `${JSON.stringify(String(p.name))}\n${p.dataText}\n${p.optsText}\n${Number(p.timestamp)}`;
    }
    const packed = lines.join('\n');
    // The embedded engine stores jobs faster than a trip to its thread takes.
    if (this.embedded) return sync(() => this.native.addNow(packed));
    return call(this.native.add(packed));
  }

  async addBulk(jobs) {
    const prepared = jobs.map((j) => this.prepare(j.name, j.data, j.opts));
    if (prepared.length === 0) return [];
    const ids = await this.addPrepared(prepared);
    return prepared.map((p, i) => this.created(p, ids[i]));
  }

  async getJob(jobId) {
    return Job.fromId(this, jobId);
  }

  async getJobs(types, start = 0, end = -1, asc = false) {
    const list = flattenTypes([types]);
    const text = await call(this.native.getJobs(list, start, end, asc));
    return JSON.parse(text).map((record) => Job.fromRecord(this, record));
  }

  async getRanges(types, start = 0, end = -1, asc = false) {
    return call(this.native.getRanges(flattenTypes([types]), start, end, asc));
  }

  async getJobCounts(...types) {
    const list = flattenTypes(types);
    const counts = await call(this.native.counts(list));
    const out = {};
    list.forEach((type, i) => {
      out[type] = counts[i] || 0;
    });
    return out;
  }

  async getJobCountByTypes(...types) {
    const counts = await call(this.native.counts(flattenTypes(types)));
    return counts.reduce((sum, n) => sum + n, 0);
  }

  async count() {
    return this.getJobCountByTypes('waiting', 'delayed', 'prioritized', 'waiting-children');
  }

  getWaitingCount() { return this.getJobCountByTypes('waiting'); }
  getActiveCount() { return this.getJobCountByTypes('active'); }
  getDelayedCount() { return this.getJobCountByTypes('delayed'); }
  getPrioritizedCount() { return this.getJobCountByTypes('prioritized'); }
  getCompletedCount() { return this.getJobCountByTypes('completed'); }
  getFailedCount() { return this.getJobCountByTypes('failed'); }
  getWaitingChildrenCount() { return this.getJobCountByTypes('waiting-children'); }

  getWaiting(start = 0, end = -1) { return this.getJobs(['waiting'], start, end, true); }
  getActive(start = 0, end = -1) { return this.getJobs(['active'], start, end, true); }
  getDelayed(start = 0, end = -1) { return this.getJobs(['delayed'], start, end, true); }
  getPrioritized(start = 0, end = -1) { return this.getJobs(['prioritized'], start, end, true); }
  getWaitingChildren(start = 0, end = -1) { return this.getJobs(['waiting-children'], start, end, true); }
  getCompleted(start = 0, end = -1) { return this.getJobs(['completed'], start, end, false); }
  getFailed(start = 0, end = -1) { return this.getJobs(['failed'], start, end, false); }

  async getJobState(jobId) {
    return call(this.native.getState(String(jobId)));
  }

  async getJobLogs(jobId, start = 0, end = -1, asc = true) {
    return JSON.parse(await call(this.native.getLogs(String(jobId), start, end, asc)));
  }

  async pause() {
    await call(this.native.setPaused(true));
    this.emit('paused');
  }

  async resume() {
    await call(this.native.setPaused(false));
    this.emit('resumed');
  }

  async isPaused() {
    return call(this.native.isPaused());
  }

  async drain(delayed = false) {
    await call(this.native.drain(!!delayed));
  }

  async obliterate(opts = {}) {
    await this.pause();
    await call(this.native.obliterate(!!opts.force, opts.count ?? 1000));
  }

  /** 1 when removed, 0 when the job is unknown or locked by a worker. */
  async remove(jobId) {
    const refusal = await call(this.native.remove(String(jobId)));
    if (refusal === null) this.emit('removed', jobId);
    return refusal === null ? 1 : 0;
  }

  /**
   * Removes up to `limit` jobs (0: all) of one state older than `grace` ms;
   * resolves with their ids.
   */
  async clean(grace, limit = 0, type = 'completed') {
    const state = { waiting: 'wait', wait: 'wait', paused: 'paused', active: 'active', delayed: 'delayed',
      prioritized: 'prioritized', completed: 'completed', failed: 'failed' }[type];
    if (!state) throw new TypeError(`clean: unknown job state '${type}'`);
    const ids = await call(this.native.clean(state, Date.now() - Math.max(0, grace), limit));
    this.emit('cleaned', ids, type === 'waiting' ? 'wait' : type);
    return ids;
  }

  /** Moves failed (or completed) jobs back to wait, `count` per call. */
  async retryJobs({ count = 1000, state = 'failed', timestamp } = {}) {
    if (state !== 'failed' && state !== 'completed') {
      throw new TypeError(`retryJobs state must be 'failed' or 'completed', got '${state}'`);
    }
    await call(this.native.moveJobsToWait(state, count, timestamp === undefined ? '+inf' : String(timestamp)));
  }

  /** Moves every delayed job to wait now. */
  async promoteJobs({ count = 1000 } = {}) {
    await call(this.native.moveJobsToWait('delayed', count, '+inf'));
  }

  /** Per-minute counts of finished jobs, kept when workers set `metrics`. */
  async getMetrics(type, start = 0, end = -1) {
    if (type !== 'completed' && type !== 'failed') {
      throw new TypeError(`getMetrics type must be 'completed' or 'failed', got '${type}'`);
    }
    const { count, prevTS, prevCount, data, total } = JSON.parse(await call(this.native.getMetrics(type, start, end)));
    return { meta: { count, prevTS, prevCount }, data, count: total };
  }

  async getCountsPerPriority(priorities) {
    const list = [...new Set(priorities)];
    const counts = await call(this.native.countsPerPriority(list));
    return Object.fromEntries(list.map((p, i) => [p, counts[i]]));
  }

  // Queue-wide limits, kept in the meta hash where every worker
  // (bullrush's and BullMQ's) reads them.

  async setGlobalConcurrency(concurrency) {
    if (!(Number.isInteger(concurrency) && concurrency > 0)) {
      throw new TypeError(`global concurrency must be a positive integer, got ${concurrency}`);
    }
    return call(this.native.setMeta(['concurrency'], [String(concurrency)]));
  }

  async getGlobalConcurrency() {
    const { concurrency } = await this.getMeta();
    return concurrency ?? null;
  }

  async removeGlobalConcurrency() {
    return call(this.native.setMeta(['concurrency'], [null]));
  }

  async setGlobalRateLimit(max, duration) {
    if (!(Number.isInteger(max) && max > 0 && Number.isFinite(duration) && duration > 0)) {
      throw new TypeError(`global rate limit needs a positive integer max and a duration in ms > 0, got ${max}, ${duration}`);
    }
    return call(this.native.setMeta(['max', 'duration'], [String(max), String(Math.ceil(duration))]));
  }

  async removeGlobalRateLimit() {
    return call(this.native.setMeta(['max', 'duration'], [null, null]));
  }

  /** Holds every worker of the queue for `ms` milliseconds. */
  async rateLimit(ms) {
    // The engine checks the range; only a number can cross.
    if (typeof ms !== 'number') throw new TypeError(`rateLimit needs a positive number of ms, got ${ms}`);
    await call(this.native.rateLimit(ms));
  }

  async getRateLimitTtl(maxJobs = 0) {
    return call(this.native.rateLimitTtl(maxJobs));
  }

  async removeRateLimitKey() {
    return call(this.native.removeRateLimitKey());
  }

  /** True when the global concurrency limit is reached. */
  async isMaxed() {
    const concurrency = await this.getGlobalConcurrency();
    return concurrency !== null && (await this.getActiveCount()) >= concurrency;
  }

  async getMeta() {
    return JSON.parse(await call(this.native.getMeta()));
  }

  async getVersion() {
    return (await this.getMeta()).version ?? null;
  }

  async trimEvents(maxLength) {
    return call(this.native.trimEvents(maxLength));
  }

  /** Workers attached to this queue, each with its client's fields, as BullMQ reports them. */
  async getWorkers() {
    const workers = JSON.parse(await call(this.native.getWorkers()));
    return workers.map((client) => ({ ...client, name: this.name, rawname: client.name }));
  }

  async getWorkersCount() {
    return (await this.getWorkers()).length;
  }

  async close() {
    if (!this.closing) {
      this.closing = Promise.resolve();
      this.emit('closing');
      this.emit('closed');
    }
    return this.closing;
  }

  async disconnect() {
    return this.close();
  }
}

module.exports = { Queue };

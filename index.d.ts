// Public types for bullrush, a BullMQ-compatible job queue with a Rust core.
// Names, generics and signatures follow BullMQ (6.x, with 5.x code kept
// compiling), so `import { ... } from 'bullrush'` can replace 'bullmq'.
// Comments only note where bullrush differs from BullMQ.

import { EventEmitter } from 'node:events';
import type { URL } from 'node:url';
import type { ForkOptions } from 'node:child_process';
import type { WorkerOptions as WorkerThreadsOptions } from 'node:worker_threads';

// ---------------------------------------------------------------------------
// Connection
// ---------------------------------------------------------------------------

/** Plain options object (ioredis-style). Unknown keys are allowed. */
export interface RedisOptions {
  host?: string;
  port?: number;
  /** Redis URL, e.g. 'redis://user:pass@host:6379/0' (used instead of host/port). */
  url?: string;
  family?: number;
  db?: number;
  username?: string;
  password?: string;
  tls?: any;
  connectionName?: string;
  keyPrefix?: string;
  enableOfflineQueue?: boolean;
  maxRetriesPerRequest?: number | null;
  retryStrategy?: (times: number) => number | void | null;
  lazyConnect?: boolean;
  skipVersionCheck?: boolean;
  [key: string]: any;
}

export interface ClusterOptions {
  redisOptions?: RedisOptions;
  scaleReads?: string;
  enableOfflineQueue?: boolean;
  maxRetriesPerRequest?: number | null;
  retryStrategy?: (times: number) => number | void | null;
  lazyConnect?: boolean;
  skipVersionCheck?: boolean;
  url?: string;
  [key: string]: any;
}

/**
 * Structural type of an existing client (an ioredis `Redis` or `Cluster`
 * instance), so bullrush does not depend on ioredis' typings.
 */
export interface RedisClientLike {
  status?: string;
  options?: Record<string, any>;
  isCluster?: boolean;
  connect(...args: any[]): any;
  duplicate(...args: any[]): any;
  disconnect?(...args: any[]): any;
  quit?(...args: any[]): any;
  on?(...args: any[]): any;
}

/**
 * bullrush: besides BullMQ's forms (options object or client instance) the
 * connection may be a Redis URL string, or `'memory://'` for the in-process
 * engine (no Redis needed; state lives in this process only).
 */
export type ConnectionOptions = RedisOptions | ClusterOptions | RedisClientLike | 'memory://' | (string & {});

/** OpenTelemetry adapter (e.g. from bullmq-otel); accepted for type compatibility. */
export interface Telemetry<Context = any> {
  tracer: any;
  contextManager: any;
  meter?: any;
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

export interface QueueBaseOptions {
  /** bullrush: optional; without it (and without REDIS_URL) queues run in this process. */
  connection?: ConnectionOptions;
  /** Key prefix, default 'bull'. */
  prefix?: string;
  blockingConnection?: boolean;
  skipVersionCheck?: boolean;
  skipWaitingForReady?: boolean;
  telemetry?: Telemetry;
  /** bullrush: timeout for a single Redis command in ms (default 5000). */
  commandTimeout?: number;
}

export type KeepJobs = { count: number } | { age: number; count?: number; limit?: number };

export interface BackoffOptions {
  type: 'fixed' | 'exponential' | (string & {});
  delay?: number;
  jitter?: number;
}

export interface ParentOptions {
  id: string;
  /** Fully qualified queue key of the parent, e.g. 'bull:parents'. */
  queue: string;
}

export interface ParentKeys {
  id?: string;
  queueKey: string;
  fpof?: boolean;
  rdof?: boolean;
  idof?: boolean;
  cpof?: boolean;
}

export interface RepeatOptions {
  pattern?: string;
  every?: number;
  limit?: number;
  immediately?: boolean;
  count?: number;
  offset?: number;
  prevMillis?: number;
  key?: string;
  jobId?: string;
  tz?: string;
  utc?: boolean;
  startDate?: Date | string | number;
  endDate?: Date | string | number;
  currentDate?: Date | string | number;
  nthDayOfWeek?: number;
}

export interface DeduplicationOptions {
  id: string;
  ttl?: number;
  extend?: boolean;
  replace?: boolean;
  reschedule?: boolean;
  keepLastIfActive?: boolean;
}

export interface DefaultJobOptions {
  timestamp?: number;
  priority?: number;
  delay?: number;
  attempts?: number;
  backoff?: number | BackoffOptions;
  lifo?: boolean;
  removeOnComplete?: boolean | number | KeepJobs;
  removeOnFail?: boolean | number | KeepJobs;
  keepLogs?: number;
  stackTraceLimit?: number;
  sizeLimit?: number;
}

export interface BaseJobOptions extends DefaultJobOptions {
  jobId?: string;
  parent?: ParentOptions;
  repeatJobKey?: string;
  prevMillis?: number;
  /** BullMQ 5 legacy repeatable jobs; kept for type compatibility. */
  repeat?: RepeatOptions;
}

export interface JobsOptions extends BaseJobOptions {
  deduplication?: DeduplicationOptions;
  /** @deprecated BullMQ 5 alias of `deduplication`. */
  debounce?: DeduplicationOptions;
  failParentOnFailure?: boolean;
  continueParentOnFailure?: boolean;
  ignoreDependencyOnFailure?: boolean;
  removeDependencyOnFailure?: boolean;
  telemetry?: { metadata?: string; omitContext?: boolean };
}

export type BulkJobOptions = Omit<JobsOptions, 'repeat'>;

export interface QueueOptions extends QueueBaseOptions {
  defaultJobOptions?: DefaultJobOptions;
  streams?: { events: { maxLen: number } };
  skipMetasUpdate?: boolean;
  settings?: AdvancedRepeatOptions;
}

export interface RateLimiterOptions {
  /** Max jobs processed per `duration` ms. */
  max: number;
  duration: number;
}

export interface MetricsOptions {
  maxDataPoints?: number;
}

export type BackoffStrategy = (attemptsMade: number, type?: string, err?: Error, job?: MinimalJob) => Promise<number> | number;
export type RepeatStrategy = (millis: number, opts: RepeatOptions, name?: string) => number | undefined | Promise<number | undefined>;

export interface AdvancedRepeatOptions {
  repeatStrategy?: RepeatStrategy;
  repeatKeyHashAlgorithm?: string;
}

export interface AdvancedOptions extends AdvancedRepeatOptions {
  backoffStrategy?: BackoffStrategy;
}

export interface SandboxedOptions {
  useWorkerThreads?: boolean;
  workerForkOptions?: ForkOptions;
  workerThreadsOptions?: WorkerThreadsOptions;
}

export interface WorkerOptions extends QueueBaseOptions, SandboxedOptions {
  /** Worker name reported by getWorkers(). */
  name?: string;
  autorun?: boolean;
  concurrency?: number;
  limiter?: RateLimiterOptions;
  metrics?: MetricsOptions;
  maximumRateLimitDelay?: number;
  maxStartedAttempts?: number;
  maxStalledCount?: number;
  stalledInterval?: number;
  removeOnComplete?: KeepJobs;
  removeOnFail?: KeepJobs;
  skipStalledCheck?: boolean;
  skipLockRenewal?: boolean;
  drainDelay?: number;
  lockDuration?: number;
  lockRenewTime?: number;
  runRetryDelay?: number;
  settings?: AdvancedOptions;
  /**
   * bullrush only. Locks are renewed in Rust whatever the JS thread does, so
   * a CPU-bound job keeps its lock; past this many ms without the JS thread
   * running (a processor that blocked the event loop for good), locks are no
   * longer renewed and the stalled checker of any worker recovers the jobs.
   * Default 300000 (5 minutes); 0 renews for as long as the process lives.
   */
  eventLoopBlockLimit?: number;
}

export interface GetNextJobOptions {
  block?: boolean;
}

export interface QueueEventsOptions extends Omit<QueueBaseOptions, 'telemetry'> {
  autorun?: boolean;
  lastEventId?: string;
  blockingTimeout?: number;
}

export type QueueEventsProducerOptions = Omit<QueueBaseOptions, 'telemetry'>;

export interface FlowProducerOptions extends QueueBaseOptions {}

export interface ObliterateOpts {
  force?: boolean;
  count?: number;
}

export interface RetryOptions {
  resetAttemptsMade?: boolean;
  resetAttemptsStarted?: boolean;
}

export interface MoveToWaitingChildrenOpts {
  child?: ParentOptions;
}

export interface DependencyOpts {
  cursor?: number;
  count?: number;
}

export interface DependenciesOpts {
  failed?: DependencyOpts;
  ignored?: DependencyOpts;
  processed?: DependencyOpts;
  unprocessed?: DependencyOpts;
}

// ---------------------------------------------------------------------------
// Small shared types
// ---------------------------------------------------------------------------

export type JobProgress = string | boolean | number | object;
export type FinishedStatus = 'completed' | 'failed';
export type JobState = FinishedStatus | 'active' | 'delayed' | 'prioritized' | 'waiting' | 'waiting-children';
export type JobType = JobState | 'repeat' | 'wait' | 'paused';
export type CleanType = 'completed' | 'wait' | 'waiting' | 'active' | 'paused' | 'prioritized' | 'delayed' | 'failed';

export interface Metrics {
  meta: { count: number; prevTS: number; prevCount: number };
  data: number[];
  count: number;
}

export declare enum MetricsTime {
  ONE_MINUTE = 1,
  FIVE_MINUTES = 5,
  FIFTEEN_MINUTES = 15,
  THIRTY_MINUTES = 30,
  ONE_HOUR = 60,
  ONE_WEEK = 10080,
  TWO_WEEKS = 20160,
  ONE_MONTH = 80640,
}

export interface QueueMeta {
  concurrency?: number;
  max?: number;
  duration?: number;
  maxLenEvents?: number;
  paused?: boolean;
  version?: string;
}

/** Job as stored in Redis (data/returnvalue/stacktrace still JSON strings). */
export interface JobJson {
  id: string;
  name: string;
  data: string;
  opts: JobsOptions;
  progress: JobProgress;
  attemptsMade: number;
  attemptsStarted: number;
  finishedOn?: number;
  processedOn?: number;
  timestamp: number;
  delay?: number;
  priority?: number;
  failedReason: string;
  stacktrace?: string;
  returnvalue: string;
  parent?: ParentKeys;
  parentKey?: string;
  repeatJobKey?: string;
  deduplicationId?: string;
  deferredFailure?: string;
  processedBy?: string;
  stalledCounter: number;
}

export type JobJsonSandbox = JobJson & {
  queueName: string;
  queueQualifiedName: string;
  prefix: string;
};

/** The job shape seen by backoff strategies and sandboxed processors. */
export interface MinimalJob<
  DataType = any,
  ReturnType = any,
  NameType extends string = string,
  ProgressType extends JobProgress = JobProgress,
> {
  name: NameType;
  data: DataType;
  opts: JobsOptions;
  id?: string;
  progress: ProgressType;
  returnvalue: ReturnType;
  stacktrace: string[];
  delay: number;
  timestamp: number;
  attemptsMade: number;
  failedReason: string;
  finishedOn?: number;
  processedOn?: number;
  parentKey?: string;
  parent?: ParentKeys;
  repeatJobKey?: string;
  readonly queueName: string;
  readonly prefix: string;
  readonly queueQualifiedName: string;
  asJSON(): JobJson;
  asJSONSandbox(): JobJsonSandbox;
  updateData(data: DataType): Promise<void>;
  updateProgress(progress: ProgressType): Promise<void>;
  log(logRow: string): Promise<number>;
}

export type Processor<
  T = any,
  R = any,
  N extends string = string,
  P extends JobProgress = JobProgress,
> = (job: Job<T, R, N, P>, token?: string, signal?: AbortSignal) => Promise<R>;

// Lets `Queue<Job<D, R, N>>` work like `Queue<D, R, N>` (as in BullMQ).
export type ExtractDataType<T, Default> = T extends Job<infer D, any, any> ? D : Default;
export type ExtractResultType<T, Default> = T extends Job<any, infer R, any> ? R : Default;
export type ExtractNameType<T, Default extends string> = T extends Job<any, any, infer N> ? N : Default;

type JobMethodName =
  | 'toJSON' | 'asJSON' | 'asJSONSandbox' | 'updateData' | 'updateProgress' | 'log'
  | 'clearLogs' | 'remove' | 'retry' | 'promote' | 'changeDelay' | 'changePriority'
  | 'extendLock' | 'getState' | 'isCompleted' | 'isFailed' | 'isDelayed' | 'isActive'
  | 'isWaiting' | 'isWaitingChildren' | 'isPrioritized' | 'moveToCompleted' | 'moveToFailed'
  | 'moveToDelayed' | 'moveToWait' | 'moveToWaitingChildren' | 'discard' | 'waitUntilFinished'
  | 'getChildrenValues' | 'getFailedChildrenValues' | 'getIgnoredChildrenFailures'
  | 'getDependencies' | 'getDependenciesCount' | 'removeChildDependency'
  | 'removeUnprocessedChildren' | 'removeDeduplicationKey' | 'queueName' | 'prefix';

export interface IoredisListener {
  'ioredis:close': () => void;
}

type KeyOf<T extends object> = Extract<keyof T, string>;
type Params<T> = T extends (...args: infer A) => any ? A : never;

// ---------------------------------------------------------------------------
// Job
// ---------------------------------------------------------------------------

/** Anything a Job can be bound to. */
export type JobQueue = Queue<any, any, any> | Worker<any, any, any>;

export declare class Job<
  DataType = any,
  ReturnType = any,
  NameType extends string = string,
  ProgressType extends JobProgress = JobProgress,
> implements MinimalJob<DataType, ReturnType, NameType, ProgressType> {
  name: NameType;
  data: DataType;
  opts: JobsOptions;
  /** Always set on jobs returned by bullrush; optional as in BullMQ. */
  id?: string;
  progress: ProgressType;
  returnvalue: ReturnType;
  /** Always an array in bullrush (BullMQ 6 types it `string[] | null`). */
  stacktrace: string[];
  delay: number;
  priority: number;
  timestamp: number;
  attemptsStarted: number;
  attemptsMade: number;
  stalledCounter: number;
  failedReason: string;
  finishedOn?: number;
  processedOn?: number;
  parentKey?: string;
  parent?: ParentKeys;
  repeatJobKey?: string;
  deduplicationId?: string;
  /** Lock token while the job is being processed. */
  token?: string;
  processedBy?: string;
  readonly queueName: string;
  readonly prefix: string;
  readonly queueQualifiedName: string;

  constructor(queue: JobQueue, name: NameType, data: DataType, opts?: JobsOptions, id?: string);

  static create<T = any, R = any, N extends string = string>(queue: JobQueue, name: N, data: T, opts?: JobsOptions): Promise<Job<T, R, N>>;
  static createBulk<T = any, R = any, N extends string = string>(
    queue: JobQueue,
    jobs: { name: N; data: T; opts?: BulkJobOptions }[],
  ): Promise<Job<T, R, N>[]>;
  static fromId<T = any, R = any, N extends string = string>(queue: JobQueue, jobId: string): Promise<Job<T, R, N> | undefined>;
  static fromJSON<T = any, R = any, N extends string = string>(queue: JobQueue, json: JobJson, jobId?: string): Job<T, R, N>;
  static addJobLog(queue: JobQueue, jobId: string, logRow: string, keepLogs?: number): Promise<number>;

  /** Plain data fields of the job (what JSON.stringify(job) contains). */
  toJSON(): Omit<this, JobMethodName>;
  asJSON(): JobJson;
  asJSONSandbox(): JobJsonSandbox;

  updateData(data: DataType): Promise<void>;
  updateProgress(progress: ProgressType): Promise<void>;
  /** Appends a log line; resolves to the number of log lines. */
  log(logRow: string): Promise<number>;
  clearLogs(keepLogs?: number): Promise<void>;
  remove(opts?: { removeChildren?: boolean }): Promise<void>;
  retry(state?: FinishedStatus, opts?: RetryOptions): Promise<void>;
  promote(): Promise<void>;
  changeDelay(delay: number): Promise<void>;
  changePriority(opts: { priority?: number; lifo?: boolean }): Promise<void>;
  /** Resolves to 1 if the lock was extended, 0 otherwise. */
  extendLock(token: string, duration: number): Promise<number>;

  getState(): Promise<JobState | 'unknown'>;
  isCompleted(): Promise<boolean>;
  isFailed(): Promise<boolean>;
  isDelayed(): Promise<boolean>;
  isActive(): Promise<boolean>;
  isWaiting(): Promise<boolean>;
  isWaitingChildren(): Promise<boolean>;
  /** bullrush extra (not in BullMQ). */
  isPrioritized(): Promise<boolean>;

  /** Manual processing; resolves to next job data when fetchNext is true. */
  moveToCompleted(returnValue: ReturnType, token: string, fetchNext?: boolean): Promise<void | any[]>;
  moveToFailed<E extends Error>(err: E, token: string, fetchNext?: boolean): Promise<void | any[]>;
  moveToDelayed(timestamp: number, token?: string): Promise<void>;
  moveToWait(token?: string): Promise<number>;
  /** Resolves true if the job now waits for children (throw WaitingChildrenError next). */
  moveToWaitingChildren(token: string, opts?: MoveToWaitingChildrenOpts): Promise<boolean>;
  /** Marks the job so it is not retried after this attempt (BullMQ 5 API). */
  discard(): void;

  /** Resolves with the return value, rejects with the failure (needs a running QueueEvents). */
  waitUntilFinished(queueEvents: QueueEvents, ttl?: number): Promise<ReturnType>;

  getChildrenValues<CT = any>(): Promise<{ [jobKey: string]: CT }>;
  getFailedChildrenValues(): Promise<{ [jobKey: string]: string }>;
  getIgnoredChildrenFailures(): Promise<{ [jobKey: string]: string }>;
  getDependencies(opts?: DependenciesOpts): Promise<{
    nextFailedCursor?: number;
    failed?: string[];
    nextIgnoredCursor?: number;
    ignored?: Record<string, any>;
    nextProcessedCursor?: number;
    processed?: Record<string, any>;
    nextUnprocessedCursor?: number;
    unprocessed?: string[];
  }>;
  getDependenciesCount(opts?: {
    failed?: boolean;
    ignored?: boolean;
    processed?: boolean;
    unprocessed?: boolean;
  }): Promise<{ failed?: number; ignored?: number; processed?: number; unprocessed?: number }>;
  removeChildDependency(): Promise<boolean>;
  removeUnprocessedChildren(): Promise<void>;
  removeDeduplicationKey(): Promise<boolean>;
}

// ---------------------------------------------------------------------------
// QueueBase
// ---------------------------------------------------------------------------

export declare class QueueBase extends EventEmitter {
  readonly name: string;
  /** '<prefix>:<name>', e.g. 'bull:emails'. */
  readonly qualifiedName: string;
  opts: QueueBaseOptions;
  closing: Promise<void> | undefined;
  constructor(name: string, opts?: QueueBaseOptions);
  toKey(type: string): string;
  waitUntilReady(): Promise<void>;
  close(): Promise<void>;
  disconnect(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Queue
// ---------------------------------------------------------------------------

export interface QueueListener<JobBase extends Job = Job> extends IoredisListener {
  cleaned: (jobs: string[], type: string) => void;
  error: (err: Error) => void;
  paused: () => void;
  progress: (jobId: string, progress: JobProgress) => void;
  removed: (jobId: string) => void;
  resumed: () => void;
  waiting: (job: JobBase) => void;
}

type QL<D, R, N extends string> = QueueListener<Job<D, R, N>>;

export declare class Queue<
  DataTypeOrJob = any,
  DefaultResultType = any,
  DefaultNameType extends string = string,
  DataType = ExtractDataType<DataTypeOrJob, DataTypeOrJob>,
  ResultType = ExtractResultType<DataTypeOrJob, DefaultResultType>,
  NameType extends string = ExtractNameType<DataTypeOrJob, DefaultNameType>,
> extends QueueBase {
  opts: QueueOptions;
  /** Unique id of this Queue instance. */
  token: string;
  jobsOpts: BaseJobOptions;
  readonly defaultJobOptions: JobsOptions;

  constructor(name: string, opts?: QueueOptions);

  on<U extends keyof QL<DataType, ResultType, NameType>>(event: U, listener: QL<DataType, ResultType, NameType>[U]): this;
  once<U extends keyof QL<DataType, ResultType, NameType>>(event: U, listener: QL<DataType, ResultType, NameType>[U]): this;
  off<U extends keyof QL<DataType, ResultType, NameType>>(event: U, listener: QL<DataType, ResultType, NameType>[U]): this;

  // adding
  add(name: NameType, data: DataType, opts?: JobsOptions): Promise<Job<DataType, ResultType, NameType>>;
  addBulk(jobs: { name: NameType; data: DataType; opts?: BulkJobOptions }[]): Promise<Job<DataType, ResultType, NameType>[]>;

  // reading jobs
  getJob(jobId: string): Promise<Job<DataType, ResultType, NameType> | undefined>;
  getJobs(types?: JobType[] | JobType, start?: number, end?: number, asc?: boolean): Promise<Job<DataType, ResultType, NameType>[]>;
  getWaiting(start?: number, end?: number): Promise<Job<DataType, ResultType, NameType>[]>;
  getActive(start?: number, end?: number): Promise<Job<DataType, ResultType, NameType>[]>;
  getDelayed(start?: number, end?: number): Promise<Job<DataType, ResultType, NameType>[]>;
  getPrioritized(start?: number, end?: number): Promise<Job<DataType, ResultType, NameType>[]>;
  getCompleted(start?: number, end?: number): Promise<Job<DataType, ResultType, NameType>[]>;
  getFailed(start?: number, end?: number): Promise<Job<DataType, ResultType, NameType>[]>;
  getWaitingChildren(start?: number, end?: number): Promise<Job<DataType, ResultType, NameType>[]>;
  getJobState(jobId: string): Promise<JobState | 'unknown'>;
  getJobLogs(jobId: string, start?: number, end?: number, asc?: boolean): Promise<{ logs: string[]; count: number }>;

  // counts
  /** Jobs waiting to be processed: waiting + delayed + prioritized + waiting-children. */
  count(): Promise<number>;
  getJobCounts(...types: JobType[]): Promise<{ [index: string]: number }>;
  getJobCountByTypes(...types: JobType[]): Promise<number>;
  getWaitingCount(): Promise<number>;
  getActiveCount(): Promise<number>;
  getDelayedCount(): Promise<number>;
  getPrioritizedCount(): Promise<number>;
  getCompletedCount(): Promise<number>;
  getFailedCount(): Promise<number>;
  getWaitingChildrenCount(): Promise<number>;
  getCountsPerPriority(priorities: number[]): Promise<{ [index: string]: number }>;

  // control
  pause(): Promise<void>;
  resume(): Promise<void>;
  isPaused(): Promise<boolean>;
  isMaxed(): Promise<boolean>;
  /** Removes waiting (and with `delayed`, delayed) jobs; active jobs are kept. */
  drain(delayed?: boolean): Promise<void>;
  obliterate(opts?: ObliterateOpts): Promise<void>;
  /** Resolves to 1 if the job was removed, 0 if not (e.g. locked). */
  remove(jobId: string, opts?: { removeChildren?: boolean }): Promise<number>;
  /** Resolves to the ids of the removed jobs. */
  clean(grace: number, limit: number, type?: CleanType): Promise<string[]>;
  retryJobs(opts?: { count?: number; state?: FinishedStatus; timestamp?: number }): Promise<void>;
  promoteJobs(opts?: { count?: number }): Promise<void>;
  updateJobProgress(jobId: string, progress: JobProgress): Promise<void>;
  addJobLog(jobId: string, logRow: string, keepLogs?: number): Promise<number>;
  /** Resolves to the number of events removed. */
  trimEvents(maxLength: number): Promise<number>;

  // rate limiting and global concurrency
  rateLimit(expireTimeMs: number): Promise<void>;
  getRateLimitTtl(maxJobs?: number): Promise<number>;
  removeRateLimitKey(): Promise<number>;
  setGlobalConcurrency(concurrency: number): Promise<number>;
  getGlobalConcurrency(): Promise<number | null>;
  removeGlobalConcurrency(): Promise<number>;
  setGlobalRateLimit(max: number, duration: number): Promise<number>;
  getGlobalRateLimit(): Promise<{ max: number; duration: number } | null>;
  removeGlobalRateLimit(): Promise<number>;

  // deduplication
  getDeduplicationJobId(id: string): Promise<string | null>;
  removeDeduplicationKey(id: string): Promise<number>;

  // introspection
  getMetrics(type: 'completed' | 'failed', start?: number, end?: number): Promise<Metrics>;
  getWorkers(): Promise<{ [index: string]: string }[]>;
  getWorkersCount(): Promise<number>;
  getMeta(): Promise<QueueMeta>;
  getVersion(): Promise<string | null>;
}

// ---------------------------------------------------------------------------
// Worker
// ---------------------------------------------------------------------------

export interface WorkerListener<
  DataType = any,
  ResultType = any,
  NameType extends string = string,
  ProgressType extends JobProgress = JobProgress,
> extends IoredisListener {
  active: (job: Job<DataType, ResultType, NameType, ProgressType>, prev: string) => void;
  completed: (
    job: Job<DataType, ResultType, NameType, ProgressType>,
    result: ResultType,
    prev: string,
  ) => void;
  /** `job` is undefined when the failure is not tied to a fetched job. */
  failed: (
    job: Job<DataType, ResultType, NameType, ProgressType> | undefined,
    error: Error,
    prev: string,
  ) => void;
  progress: (job: Job<DataType, ResultType, NameType, ProgressType>, progress: ProgressType) => void;
  drained: () => void;
  error: (failedReason: Error) => void;
  closing: (msg: string) => void;
  closed: () => void;
  ready: () => void;
  paused: () => void;
  resumed: () => void;
  stalled: (jobId: string, prev: string) => void;
  lockRenewalFailed: (jobIds: string[]) => void;
  locksRenewed: (data: { count: number; jobIds: string[] }) => void;
}

type WL<D, R, N extends string> = WorkerListener<D, R, N>;

export declare class Worker<
  DataType = any,
  ResultType = any,
  NameType extends string = string,
> extends QueueBase {
  readonly opts: WorkerOptions;
  readonly id: string;
  concurrency: number;

  /** Use `throw Worker.RateLimitError()` after `worker.rateLimit(ms)`. */
  static RateLimitError(): Error;

  /**
   * `processor` is a function, or a path/URL to a sandboxed processor file.
   * With `autorun: false` (or no processor) call `run()` / `getNextJob()`.
   */
  constructor(
    name: string,
    processor?: string | URL | null | Processor<DataType, ResultType, NameType>,
    opts?: WorkerOptions,
  );

  on<U extends keyof WL<DataType, ResultType, NameType>>(event: U, listener: WL<DataType, ResultType, NameType>[U]): this;
  once<U extends keyof WL<DataType, ResultType, NameType>>(event: U, listener: WL<DataType, ResultType, NameType>[U]): this;
  off<U extends keyof WL<DataType, ResultType, NameType>>(event: U, listener: WL<DataType, ResultType, NameType>[U]): this;

  /** Starts processing; resolves when the worker is closed. */
  run(): Promise<void>;
  /** Waits for active jobs unless `force` is true. */
  close(force?: boolean): Promise<void>;
  pause(doNotWaitActive?: boolean): Promise<void>;
  resume(): Promise<void>;
  isRunning(): boolean;
  isPaused(): boolean;
  /** Throttles the whole queue for `expireTimeMs`. */
  rateLimit(expireTimeMs: number): Promise<void>;
  /** Manual fetching. Resolves undefined when no job is available (typed as in BullMQ 6). */
  getNextJob(token: string, opts?: GetNextJobOptions): Promise<Job<DataType, ResultType, NameType>>;
  /** Aborts the AbortSignal passed to the job's processor; true if the job was active here. */
  cancelJob(jobId: string, reason?: string): boolean;
  cancelAllJobs(reason?: string): void;
  startStalledCheckTimer(): Promise<void>;
}

// ---------------------------------------------------------------------------
// QueueEvents / QueueEventsProducer
// ---------------------------------------------------------------------------

/** Events read from the queue's Redis stream; `id` is the stream entry id. */
export interface QueueEventsListener<ReturnType = any> extends IoredisListener {
  active: (args: { jobId: string; prev?: string }, id: string) => void;
  added: (args: { jobId: string; name: string }, id: string) => void;
  waiting: (args: { jobId: string; prev?: string }, id: string) => void;
  'waiting-children': (args: { jobId: string }, id: string) => void;
  delayed: (args: { jobId: string; delay: number }, id: string) => void;
  progress: (args: { jobId: string; data: JobProgress }, id: string) => void;
  completed: (args: { jobId: string; returnvalue: ReturnType; prev?: string }, id: string) => void;
  failed: (args: { jobId: string; failedReason: string; prev?: string }, id: string) => void;
  'retries-exhausted': (args: { jobId: string; attemptsMade: string }, id: string) => void;
  stalled: (args: { jobId: string }, id: string) => void;
  removed: (args: { jobId: string; prev: string }, id: string) => void;
  duplicated: (args: { jobId: string }, id: string) => void;
  deduplicated: (
    args: { jobId: string; deduplicationId: string; deduplicatedJobId: string },
    id: string,
  ) => void;
  /** @deprecated BullMQ 5 name of 'deduplicated'. */
  debounced: (args: { jobId: string; debounceId: string }, id: string) => void;
  cleaned: (args: { count: string }, id: string) => void;
  paused: (args: object, id: string) => void;
  resumed: (args: object, id: string) => void;
  drained: (id: string) => void;
  error: (args: Error) => void;
}

type QEv<R> = QueueEventsListener<R>;

export declare class QueueEvents<ReturnType = any> extends QueueBase {
  opts: QueueEventsOptions;
  constructor(name: string, opts?: QueueEventsOptions);

  // QEL may be widened with custom events published via QueueEventsProducer.
  on<QEL extends QEv<ReturnType> = QEv<ReturnType>, U extends KeyOf<QEL> = KeyOf<QEL>>(event: U, listener: QEL[U]): this;
  once<QEL extends QEv<ReturnType> = QEv<ReturnType>, U extends KeyOf<QEL> = KeyOf<QEL>>(event: U, listener: QEL[U]): this;
  off<QEL extends QEv<ReturnType> = QEv<ReturnType>, U extends KeyOf<QEL> = KeyOf<QEL>>(event: U, listener: QEL[U]): this;
  emit<QEL extends QEv<ReturnType> = QEv<ReturnType>, U extends KeyOf<QEL> = KeyOf<QEL>>(
    event: U,
    ...args: Params<QEL[U]>
  ): boolean;

  /** Starts consuming events (automatic unless `autorun: false`). */
  run(): Promise<void>;
  close(): Promise<void>;
}

export declare class QueueEventsProducer extends QueueBase {
  constructor(name: string, opts?: QueueEventsProducerOptions);
  /**
   * Appends a custom event to the queue's event stream. Rejects with a
   * TypeError, writing nothing, when `eventName` holds a control character
   * (CR, LF, NUL, tab, …): it could not be sent as one SSE frame.
   */
  publishEvent<T extends { eventName: string }>(argsObj: T, maxEvents?: number): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Flows
// ---------------------------------------------------------------------------

export interface FlowJobBase<T> {
  name: string;
  queueName: string;
  data?: any;
  prefix?: string;
  opts?: T;
}

export interface FlowChildJob
  extends FlowJobBase<Omit<JobsOptions, 'repeat' | 'parent' | 'deduplication' | 'debounce'>> {
  children?: FlowChildJob[];
}

export interface FlowJob
  extends FlowJobBase<
    Omit<JobsOptions, 'repeat' | 'deduplication' | 'debounce'> & {
      deduplication?: Omit<DeduplicationOptions, 'replace'>;
    }
  > {
  children?: FlowChildJob[];
}

/** BullMQ 6 name of a nested flow node. */
export type FlowJobNode = FlowChildJob;

export type FlowQueuesOpts = Record<string, Omit<QueueOptions, 'connection' | 'prefix'>>;

export interface FlowOpts {
  queuesOptions: FlowQueuesOpts;
}

export interface NodeOpts {
  queueName: string;
  id: string;
  prefix?: string;
  depth?: number;
  maxChildren?: number;
}

export interface JobNode {
  job: Job;
  children?: JobNode[];
}

export interface FlowProducerListener extends IoredisListener {
  error: (failedReason: Error) => void;
}

export declare class FlowProducer extends EventEmitter {
  opts: FlowProducerOptions;
  closing: Promise<void> | undefined;
  constructor(opts?: FlowProducerOptions);

  on<U extends keyof FlowProducerListener>(event: U, listener: FlowProducerListener[U]): this;
  once<U extends keyof FlowProducerListener>(event: U, listener: FlowProducerListener[U]): this;
  off<U extends keyof FlowProducerListener>(event: U, listener: FlowProducerListener[U]): this;

  /** Adds a parent and its children atomically; the parent waits for all children. */
  add(flow: FlowJob, opts?: FlowOpts): Promise<JobNode>;
  addBulk(flows: FlowJob[]): Promise<JobNode[]>;
  getFlow(opts: NodeOpts): Promise<JobNode>;
  waitUntilReady(): Promise<void>;
  close(): Promise<void>;
  disconnect(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Errors (throw from a processor to steer the job)
// ---------------------------------------------------------------------------

/** Fails the job without further retries. */
export declare class UnrecoverableError extends Error {
  constructor(message?: string);
}

/** Job was moved to delayed by the processor (job.moveToDelayed); not a failure. */
export declare class DelayedError extends Error {
  constructor(message?: string);
}

/** Queue was rate limited by the processor (worker.rateLimit); job goes back to wait. */
export declare class RateLimitError extends Error {
  constructor(message?: string);
}

/** Job now waits for its children (job.moveToWaitingChildren). */
export declare class WaitingChildrenError extends Error {
  constructor(message?: string);
}

/** Job was moved back to wait by the processor (job.moveToWait). */
export declare class WaitingError extends Error {
  constructor(message?: string);
}

/**
 * bullrush: Redis could not be reached, or the connection was lost (map it to
 * HTTP 503). `code` is 'REDIS_UNAVAILABLE' when the command was not applied,
 * 'REDIS_OUTCOME_UNKNOWN' on the RedisTimeoutError subclass.
 */
export declare class RedisUnavailableError extends Error {
  readonly code: 'REDIS_UNAVAILABLE' | 'REDIS_OUTCOME_UNKNOWN';
  constructor(message?: string, options?: { cause?: unknown });
}

/**
 * bullrush: the command was sent and no answer came within `commandTimeout`:
 * it may or may not have been applied. Retry an add safely with a `jobId`.
 */
export declare class RedisTimeoutError extends RedisUnavailableError {
  readonly code: 'REDIS_OUTCOME_UNKNOWN';
  constructor(message?: string, options?: { cause?: unknown });
}

/** bullrush: wrong credentials, a password needed and none given, or NOPERM. Retrying will not help. */
export declare class RedisAuthError extends Error {
  readonly code: 'REDIS_AUTH';
  constructor(message?: string, options?: { cause?: unknown });
}

/** bullrush: Redis answered a command or script with an error (WRONGTYPE, …). */
export declare class RedisScriptError extends Error {
  readonly code: 'REDIS_SCRIPT_ERROR';
  constructor(message?: string, options?: { cause?: unknown });
}

/** bullrush: Redis answered with data bullrush cannot read (e.g. a job hash that is not UTF-8). */
export declare class RedisDataError extends Error {
  readonly code: 'REDIS_BAD_DATA';
  constructor(message?: string, options?: { cause?: unknown });
}

// ---------------------------------------------------------------------------
// bullrush extras: Server-Sent Events and health for web backends.

export interface SseOptions {
  /** Only this job's events; the stream ends once it completes or fails. */
  jobId?: string;
  /** Only these event names (e.g. ['progress', 'completed']). */
  events?: string[];
  /**
   * Replay from after this stream id (default: the request's Last-Event-ID).
   * One that is not a stream id (`<ms>-<seq>` or `<ms>`) or lies in the
   * future counts as none: the stream starts with new events. One older
   * than five minutes replays the last five minutes only.
   */
  lastEventId?: string;
  /** Comment frames that keep proxies from closing an idle stream (ms, default 15000). */
  heartbeatMs?: number;
  /** Extra response headers. */
  headers?: Record<string, string>;
}

/**
 * A `text/event-stream` Response of the queue's events, for Next.js route
 * handlers and other Fetch-API servers. Pass `request` to honour Last-Event-ID
 * and to end the stream when the client goes away. Read errors reach the
 * browser as a generic comment and `queue`'s 'error' listeners in full.
 */
export declare function sseResponse(
  queue: Queue<any, any, any>,
  opts?: SseOptions & { request?: Request },
): Response;

/** Streams the queue's events to a Node ServerResponse; returns a function that ends it. */
export declare function streamSse(
  req: import('http').IncomingMessage,
  res: import('http').ServerResponse,
  queue: Queue<any, any, any>,
  opts?: SseOptions,
): () => void;

export interface QueueDepths {
  waiting: number;
  active: number;
  delayed: number;
  prioritized: number;
  failed: number;
  completed: number;
  paused: boolean;
}

export interface HealthReport {
  status: 'ok' | 'unhealthy';
  /** 'memory' when the queues run in this process (connection 'memory://', or no Redis configured). */
  backend: 'redis' | 'memory';
  /** Null for the embedded engine. */
  redis: { connected: boolean; latencyMs: number | null; error?: string } | null;
  /** Why the report is unhealthy, for the embedded engine. */
  error?: string;
  queues: Record<string, QueueDepths>;
}

/** Redis reachability and latency and each queue's depths; never hangs past `timeoutMs` (default 2000). */
export declare function health(
  queues: Queue<any, any, any> | Queue<any, any, any>[],
  opts?: { timeoutMs?: number },
): Promise<HealthReport>;

// Keep the helper aliases above (QL, WL, QEv, KeyOf, Params, JobMethodName) private.
export {};

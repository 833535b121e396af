// Type-level test: code written the way BullMQ users write it.
// Everything above the "bullrush-only" marker also compiles against bullmq@6
// and bullmq@5 (with `from 'bullmq'` in place of `from '..'`); below it are
// a 6-only part, a 5-only part, and bullrush extensions.

import IORedis from 'ioredis';
import {
  Queue,
  Worker,
  Job,
  QueueEvents,
  QueueEventsProducer,
  FlowProducer,
  UnrecoverableError,
  DelayedError,
  RateLimitError,
  WaitingChildrenError,
  WaitingError,
  MetricsTime,
} from '..';
import type {
  BackoffOptions,
  BaseJobOptions,
  BulkJobOptions,
  ConnectionOptions,
  DeduplicationOptions,
  FinishedStatus,
  FlowJob,
  JobJson,
  JobNode,
  JobProgress,
  JobState,
  JobType,
  JobsOptions,
  KeepJobs,
  Metrics,
  MinimalJob,
  ParentOptions,
  Processor,
  QueueBaseOptions,
  QueueEventsListener,
  QueueEventsOptions,
  QueueOptions,
  RateLimiterOptions,
  RepeatOptions,
  WorkerOptions,
} from '..';

// ---------------------------------------------------------------------------
// Domain types
// ---------------------------------------------------------------------------

interface EmailData {
  to: string;
  subject: string;
  body?: string;
}

interface SendResult {
  messageId: string;
  accepted: boolean;
}

type EmailJobName = 'welcome' | 'password-reset';

// ---------------------------------------------------------------------------
// Connections: options object, URL in options, ioredis instance
// ---------------------------------------------------------------------------

const connection: ConnectionOptions = {
  host: process.env.REDIS_HOST ?? 'localhost',
  port: Number(process.env.REDIS_PORT ?? 6379),
  username: process.env.REDIS_USER,
  password: process.env.REDIS_PASSWORD,
  db: 0,
  maxRetriesPerRequest: null,
};

const tlsConnection: ConnectionOptions = {
  host: 'redis.example.com',
  port: 6380,
  tls: { rejectUnauthorized: false },
};

const urlConnection: QueueOptions = {
  connection: { url: 'redis://localhost:6379/0' },
  prefix: 'myapp',
};

const redis = new IORedis(process.env.REDIS_URL ?? 'redis://localhost:6379', {
  maxRetriesPerRequest: null,
});

const baseOptions: QueueBaseOptions = { connection: redis, skipVersionCheck: true };

const queueOptions: QueueOptions = {
  connection: redis,
  defaultJobOptions: {
    attempts: 3,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: 1000,
    removeOnFail: { age: 24 * 3600, count: 5000 },
  },
};

// ---------------------------------------------------------------------------
// Job options
// ---------------------------------------------------------------------------

const backoff: BackoffOptions = { type: 'fixed', delay: 500, jitter: 0.5 };
const keep: KeepJobs = { age: 3600 };
const dedupe: DeduplicationOptions = { id: 'user-42', ttl: 5000 };

const defaultOpts: JobsOptions = {
  attempts: 5,
  backoff,
  delay: 1000,
  priority: 10,
  lifo: false,
  jobId: 'welcome-42',
  removeOnComplete: true,
  removeOnFail: keep,
  keepLogs: 50,
  stackTraceLimit: 10,
  deduplication: dedupe,
};
const baseOpts: BaseJobOptions = { attempts: 2, backoff: 2000 };
const bulkOpts: BulkJobOptions = { priority: 1, removeOnComplete: { count: 10 } };
const repeatOpts: RepeatOptions = { pattern: '0 * * * *', tz: 'Europe/Paris' };
const parent: ParentOptions = { id: 'parent-1', queue: 'bull:parents' };

// ---------------------------------------------------------------------------
// Producer service (NestJS / Next.js style)
// ---------------------------------------------------------------------------

export class EmailService {
  private readonly queue = new Queue<EmailData, SendResult, EmailJobName>('emails', {
    connection,
    defaultJobOptions: { attempts: 3, removeOnComplete: { count: 100 } },
  });

  async sendWelcome(to: string): Promise<string | undefined> {
    const job = await this.queue.add('welcome', { to, subject: 'Welcome!' }, defaultOpts);
    const typed: Job<EmailData, SendResult, EmailJobName> = job;
    const subject: string = typed.data.subject;
    void subject;
    return job.id;
  }

  async sendMany(recipients: string[]): Promise<number> {
    const jobs = await this.queue.addBulk(
      recipients.map((to) => ({
        name: 'password-reset' as const,
        data: { to, subject: 'Reset your password' },
        opts: bulkOpts,
      })),
    );
    return jobs.length;
  }

  async status(id: string): Promise<JobState | 'unknown'> {
    const job = await this.queue.getJob(id);
    if (!job) return 'unknown';
    const state = await job.getState();
    if (await job.isFailed()) {
      console.log(job.failedReason, job.stacktrace, job.attemptsMade);
    }
    if (await job.isCompleted()) {
      const r: SendResult = job.returnvalue;
      console.log(r.messageId, job.finishedOn, job.processedOn);
    }
    return state;
  }

  async dashboard(): Promise<Record<string, number>> {
    const counts = await this.queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
    const total: number = await this.queue.count();
    const waiting: number = await this.queue.getWaitingCount();
    const active: number = await this.queue.getActiveCount();
    const delayed: number = await this.queue.getDelayedCount();
    const prioritized: number = await this.queue.getPrioritizedCount();
    const completed: number = await this.queue.getCompletedCount();
    const failed: number = await this.queue.getFailedCount();
    const byTypes: number = await this.queue.getJobCountByTypes('waiting', 'delayed');
    const perPriority = await this.queue.getCountsPerPriority([0, 1, 10]);
    return { ...counts, ...perPriority, total, waiting, active, delayed, prioritized, completed, failed, byTypes };
  }

  async lists(): Promise<void> {
    const types: JobType[] = ['completed', 'failed'];
    const jobs = await this.queue.getJobs(types, 0, 49, true);
    const [waiting, active, delayed, prioritized, completed, failed, children] = await Promise.all([
      this.queue.getWaiting(0, 10),
      this.queue.getActive(),
      this.queue.getDelayed(),
      this.queue.getPrioritized(),
      this.queue.getCompleted(0, 100),
      this.queue.getFailed(),
      this.queue.getWaitingChildren(),
    ]);
    for (const j of [...jobs, ...waiting, ...active, ...delayed, ...prioritized, ...completed, ...failed, ...children]) {
      const to: string = j.data.to;
      console.log(j.id, j.name, to, j.progress, j.timestamp);
    }
    const state: JobState | 'unknown' = await this.queue.getJobState('1');
    const { logs, count } = await this.queue.getJobLogs('1', 0, -1, true);
    console.log(state, logs.join('\n'), count);
  }

  async admin(): Promise<void> {
    await this.queue.waitUntilReady();
    await this.queue.pause();
    const paused: boolean = await this.queue.isPaused();
    await this.queue.resume();
    await this.queue.drain(true);
    const cleaned: string[] = await this.queue.clean(60_000, 1000, 'completed');
    const removed: number = await this.queue.remove('1', { removeChildren: true });
    await this.queue.retryJobs({ count: 100, state: 'failed' });
    await this.queue.promoteJobs({ count: 50 });
    const trimmed: number = await this.queue.trimEvents(1000);
    const metrics: Metrics = await this.queue.getMetrics('completed', 0, MetricsTime.ONE_WEEK);
    const workers = await this.queue.getWorkers();
    const workersCount: number = await this.queue.getWorkersCount();
    const meta = await this.queue.getMeta();
    const version = await this.queue.getVersion();
    await this.queue.setGlobalConcurrency(4);
    const gc = await this.queue.getGlobalConcurrency();
    await this.queue.removeGlobalConcurrency();
    await this.queue.setGlobalRateLimit(100, 1000);
    await this.queue.removeGlobalRateLimit();
    const ttl: number = await this.queue.getRateLimitTtl();
    await this.queue.removeRateLimitKey();
    console.log(paused, cleaned, removed, trimmed, metrics.data, workers, workersCount, meta.paused, version, gc, ttl);
    console.log(this.queue.name, this.queue.qualifiedName, this.queue.opts.prefix);
    await this.queue.obliterate({ force: true });
    await this.queue.close();
  }
}

const untyped = new Queue('untyped', urlConnection);
untyped.on('waiting', (job) => console.log('waiting', job.id, job.data));
untyped.on('progress', (jobId, progress: JobProgress) => console.log(jobId, progress));
untyped.on('removed', (jobId) => console.log(jobId));
untyped.on('cleaned', (jobs, type) => console.log(jobs.length, type));
untyped.on('paused', () => undefined).on('resumed', () => undefined);
untyped.on('error', (err) => console.error(err.message));
void untyped.add('anything', { some: 'thing' }, { removeOnComplete: true });
void untyped.add('child', { x: 1 }, { parent, failParentOnFailure: true });
void untyped.add('b', 1, baseOpts);

const withDefaults = new Queue('with-defaults', queueOptions);
void withDefaults;

// ---------------------------------------------------------------------------
// Workers
// ---------------------------------------------------------------------------

async function deliver(data: EmailData): Promise<SendResult> {
  return { messageId: `${data.to}-${Date.now()}`, accepted: true };
}

const workerOptions: WorkerOptions = {
  connection,
  concurrency: 5,
  limiter: { max: 10, duration: 1000 },
  removeOnComplete: { count: 100 },
  removeOnFail: { age: 7 * 24 * 3600 },
  lockDuration: 30_000,
  stalledInterval: 30_000,
  maxStalledCount: 1,
  metrics: { maxDataPoints: MetricsTime.ONE_WEEK * 2 },
  settings: {
    backoffStrategy: (attemptsMade: number, type?: string, err?: Error, job?: MinimalJob) => {
      if (type === 'linear') return attemptsMade * 1000;
      if (err instanceof UnrecoverableError) return -1;
      return job?.opts.priority ? 500 : 2000;
    },
  },
};

export const emailWorker = new Worker<EmailData, SendResult>(
  'emails',
  async (job: Job<EmailData>, token?: string) => {
    await job.updateProgress(10);
    await job.log(`sending to ${job.data.to} (token ${token ?? 'none'})`);
    if (!job.data.to.includes('@')) {
      throw new UnrecoverableError('invalid address');
    }
    if (job.attemptsMade > 3) {
      await job.moveToDelayed(Date.now() + 60_000, token);
      throw new DelayedError();
    }
    const result = await deliver(job.data);
    await job.updateProgress({ percent: 100 });
    return result;
  },
  { ...workerOptions, autorun: true },
);

const limiter: RateLimiterOptions = { max: 100, duration: 60_000 };

const processor: Processor<EmailData, SendResult, EmailJobName> = async (job, token, signal) => {
  signal?.addEventListener('abort', () => console.log('cancelled', job.id));
  if (job.name === 'password-reset') {
    await job.updateData({ ...job.data, body: 'reset link' });
  }
  if (job.opts.attempts && job.attemptsMade + 1 >= job.opts.attempts) {
    await job.log('last attempt');
  }
  if (!token) throw new Error('no token');
  return deliver(job.data);
};

const typedWorker = new Worker<EmailData, SendResult, EmailJobName>('emails', processor, {
  connection: redis,
  concurrency: 2,
  limiter,
  autorun: false,
});

emailWorker.on('completed', (job, result) => {
  const id: string = result.messageId;
  console.log(job.id, id, job.returnvalue.accepted);
});
emailWorker.on('failed', (job, err) => {
  console.error(job?.id, job?.attemptsMade, err.message);
  if (job) console.log(job.data.to);
});
emailWorker.on('active', (job, prev) => console.log(job.id, prev));
emailWorker.on('progress', (job, progress) => console.log(job.id, progress));
emailWorker.on('error', (err) => console.error(err));
emailWorker.on('stalled', (jobId, prev) => console.warn(jobId, prev));
emailWorker.on('drained', () => console.log('drained'));
emailWorker.on('ready', () => console.log('ready'));
emailWorker.on('closing', (msg) => console.log(msg));
emailWorker.on('closed', () => console.log('closed'));
emailWorker.on('paused', () => undefined);
emailWorker.on('resumed', () => undefined);
emailWorker.on('lockRenewalFailed', (ids) => console.warn(ids.length));
emailWorker.on('locksRenewed', ({ count, jobIds }) => console.log(count, jobIds));
emailWorker.once('completed', () => undefined);
const onFailed = (job: Job<EmailData, SendResult> | undefined, err: Error) => console.log(job?.id, err);
emailWorker.off('failed', onFailed);

async function workerControl(): Promise<void> {
  void typedWorker.run();
  await typedWorker.waitUntilReady();
  typedWorker.concurrency = 8;
  const c: number = typedWorker.concurrency;
  const running: boolean = typedWorker.isRunning();
  await typedWorker.pause(true);
  const paused: boolean = typedWorker.isPaused();
  typedWorker.resume();
  await typedWorker.rateLimit(5000);
  const cancelled: boolean = typedWorker.cancelJob('1', 'user cancelled');
  typedWorker.cancelAllJobs('shutdown');
  console.log(c, running, paused, cancelled);
  await typedWorker.close();
  await emailWorker.close(true);
}
void workerControl;

// Manual processing
async function manual(): Promise<void> {
  const worker = new Worker<EmailData, SendResult>('emails', null, { connection });
  const token = 'my-token';
  const job = (await worker.getNextJob(token)) as Job<EmailData, SendResult> | undefined;
  if (job) {
    try {
      const result = await deliver(job.data);
      await job.moveToCompleted(result, token, false);
    } catch (err) {
      await job.moveToFailed(err as Error, token, false);
    }
    await job.extendLock(token, 30_000);
  }
  await worker.close();
}
void manual;

// Rate limiting from inside a processor
const rateLimited = new Worker('api', async (job) => {
  if (job.data.tooFast) {
    await rateLimited.rateLimit(1000);
    throw Worker.RateLimitError();
  }
  if (job.data.legacy) throw new RateLimitError();
  if (job.data.children) {
    const moved = await job.moveToWaitingChildren(job.token!);
    if (moved) throw new WaitingChildrenError();
  }
  if (job.data.later) {
    await job.moveToWait(job.token);
    throw new WaitingError();
  }
  return 'ok';
}, { connection });

// Sandboxed processor (file path and URL)
const sandboxed = new Worker('reports', `${__dirname}/processor.js`, { connection, useWorkerThreads: true });
const sandboxedUrl = new Worker('reports', new URL('file:///tmp/processor.js'), { connection });
void sandboxed;
void sandboxedUrl;

// ---------------------------------------------------------------------------
// Job API
// ---------------------------------------------------------------------------

async function jobApi(queue: Queue<EmailData, SendResult>): Promise<void> {
  const job = await Job.fromId<EmailData, SendResult>(queue, '42');
  if (!job) return;
  await job.updateData({ to: 'a@b.c', subject: 'changed' });
  await job.changeDelay(5000);
  await job.changePriority({ priority: 5 });
  await job.promote();
  await job.retry('failed');
  await job.clearLogs(10);
  const s: JobState | 'unknown' = await job.getState();
  const flags: boolean[] = await Promise.all([
    job.isCompleted(),
    job.isFailed(),
    job.isActive(),
    job.isWaiting(),
    job.isDelayed(),
    job.isWaitingChildren(),
  ]);
  const json = job.toJSON();
  const raw: JobJson = job.asJSON();
  console.log(s, flags, json.data.to, raw.data, job.queueName, job.parentKey, job.parent?.queueKey);
  console.log(job.attemptsStarted, job.stalledCounter, job.priority, job.delay, job.repeatJobKey, job.token);
  await job.remove();
}
void jobApi;

// Generic helpers over Job / Queue
function describe<T>(job: Job<T>): string {
  const anyJob: Job = job;
  return `${anyJob.name}#${job.id ?? '?'}`;
}
async function firstWaiting<T>(queue: Queue<T>): Promise<string | undefined> {
  const [job] = await queue.getWaiting(0, 0);
  return job ? describe(job) : undefined;
}
void firstWaiting;

// ---------------------------------------------------------------------------
// QueueEvents
// ---------------------------------------------------------------------------

const qeOpts: QueueEventsOptions = { connection, autorun: true, lastEventId: '$', blockingTimeout: 10_000 };
const queueEvents = new QueueEvents('emails', qeOpts);

queueEvents.on('completed', ({ jobId, returnvalue, prev }, id) => console.log(jobId, returnvalue, prev, id));
queueEvents.on('failed', ({ jobId, failedReason }) => console.error(jobId, failedReason));
queueEvents.on('active', ({ jobId, prev }, id: string) => console.log(jobId, prev, id));
queueEvents.on('added', ({ jobId, name }) => console.log(jobId, name));
queueEvents.on('waiting', ({ jobId }) => console.log(jobId));
queueEvents.on('waiting-children', ({ jobId }) => console.log(jobId));
queueEvents.on('delayed', ({ jobId, delay }) => console.log(jobId, delay + 1));
queueEvents.on('progress', ({ jobId, data }) => console.log(jobId, data));
queueEvents.on('retries-exhausted', ({ jobId, attemptsMade }) => console.log(jobId, attemptsMade));
queueEvents.on('stalled', ({ jobId }) => console.log(jobId));
queueEvents.on('removed', ({ jobId, prev }) => console.log(jobId, prev));
queueEvents.on('duplicated', ({ jobId }) => console.log(jobId));
queueEvents.on('deduplicated', ({ jobId, deduplicationId, deduplicatedJobId }) =>
  console.log(jobId, deduplicationId, deduplicatedJobId),
);
queueEvents.on('cleaned', ({ count }) => console.log(count));
queueEvents.on('paused', () => undefined);
queueEvents.on('resumed', () => undefined);
queueEvents.on('drained', (id) => console.log(id));
queueEvents.on('error', (err) => console.error(err.message));

interface CustomListener extends QueueEventsListener {
  'email-bounced': (args: { to: string }, id: string) => void;
}
queueEvents.on<CustomListener, 'email-bounced'>('email-bounced', ({ to }) => console.log(to));

async function waitForResult(queue: Queue<EmailData, SendResult, EmailJobName>): Promise<SendResult> {
  await queueEvents.waitUntilReady();
  const job = await queue.add('welcome', { to: 'x@y.z', subject: 'hi' });
  return job.waitUntilFinished(queueEvents, 30_000);
}
void waitForResult;

const producer = new QueueEventsProducer('emails', baseOptions);
void producer.publishEvent({ eventName: 'email-bounced', to: 'x@y.z' });

// ---------------------------------------------------------------------------
// Flows
// ---------------------------------------------------------------------------

const flowProducer = new FlowProducer({ connection });
const flow: FlowJob = {
  name: 'render-report',
  queueName: 'reports',
  data: { reportId: 7 },
  opts: { removeOnComplete: true },
  children: [
    { name: 'fetch', queueName: 'fetchers', data: { source: 'a' } },
    {
      name: 'fetch',
      queueName: 'fetchers',
      data: { source: 'b' },
      opts: { attempts: 2 },
      children: [{ name: 'auth', queueName: 'auth', data: {} }],
    },
  ],
};

async function flows(): Promise<void> {
  const tree: JobNode = await flowProducer.add(flow, { queuesOptions: { reports: { defaultJobOptions: { attempts: 1 } } } });
  const trees: JobNode[] = await flowProducer.addBulk([flow, flow]);
  const fetched = await flowProducer.getFlow({ id: tree.job.id!, queueName: 'reports', depth: 2 });
  const values = await tree.job.getChildrenValues<{ rows: number }>();
  console.log(trees.length, fetched.children?.length, Object.values(values)[0]?.rows);
  flowProducer.on('error', (err) => console.error(err));
  await flowProducer.close();
}
void flows;

// ---------------------------------------------------------------------------
// Misc type usage
// ---------------------------------------------------------------------------

const finished: FinishedStatus = 'completed';
const states: JobState[] = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', finished];
void states;
void tlsConnection;

// ---------------------------------------------------------------------------
// Wrong types must be rejected
// ---------------------------------------------------------------------------

async function rejected(queue: Queue<EmailData, SendResult, EmailJobName>): Promise<void> {
  // @ts-expect-error data is missing `subject`
  await queue.add('welcome', { to: 'x@y.z' });

  // @ts-expect-error unknown job name for a typed queue
  await queue.add('newsletter', { to: 'x@y.z', subject: 's' });

  // @ts-expect-error attempts must be a number
  await queue.add('welcome', { to: 'x@y.z', subject: 's' }, { attempts: '3' });

  // @ts-expect-error the result of a completed SendResult job is not a number
  emailWorker.on('completed', (_job, result: number) => console.log(result));

  emailWorker.on('failed', (job) => {
    // @ts-expect-error job may be undefined on 'failed'
    console.log(job.id);
  });

  // @ts-expect-error not a Worker event
  emailWorker.on('finished', () => undefined);

  // @ts-expect-error QueueEvents 'completed' passes an object, not a string id first
  queueEvents.on('completed', (jobId: string) => console.log(jobId));

  // @ts-expect-error processor must resolve to SendResult
  new Worker<EmailData, SendResult>('emails', async () => 42, { connection });

  // @ts-expect-error limiter needs both max and duration
  new Worker('emails', null, { connection, limiter: { max: 1 } });
}
void rejected;

// ---------------------------------------------------------------------------
// bullrush-only below (not part of the BullMQ comparison)
// ---------------------------------------------------------------------------

// BullMQ 6-era code (also compiles against bullmq@6, not against bullmq@5 types)
const typedEvents = new QueueEvents<SendResult>('emails', { connection });
typedEvents.once('completed', ({ returnvalue }) => console.log(returnvalue.messageId));

// BullMQ 5-era code (also compiles against bullmq@5, not against bullmq@6 types)
const legacyOpts: QueueBaseOptions = { connection, prefix: 'legacy' };
void new Queue('legacy', legacyOpts).add('tick', {}, { repeat: repeatOpts });
void untyped.getJobCountByTypes('waiting', 'paused');

// bullrush extensions
import { RedisUnavailableError, RedisTimeoutError, RedisAuthError, health } from '..';

const memoryQueue = new Queue<EmailData>('emails', { connection: 'memory://' });
const urlQueue = new Queue('emails', { connection: 'redis://localhost:6379/1', commandTimeout: 2000 });
const memoryWorker = new Worker<EmailData, SendResult>('emails', processor as Processor<EmailData, SendResult>, {
  connection: 'memory://',
  commandTimeout: 1000,
});

async function bullrushExtras(): Promise<void> {
  try {
    await urlQueue.add('x', {});
  } catch (err) {
    if (err instanceof RedisTimeoutError) {
      const code: 'REDIS_OUTCOME_UNKNOWN' = err.code;
      console.error(code, 'maybe written:', err.message);
    } else if (err instanceof RedisUnavailableError) {
      const code: 'REDIS_UNAVAILABLE' | 'REDIS_OUTCOME_UNKNOWN' = err.code;
      console.error(code, err.message);
    } else if (err instanceof RedisAuthError) {
      const code: 'REDIS_AUTH' = err.code;
      console.error(code, err.message);
    }
  }
  const job = await memoryQueue.add('welcome', { to: 'a@b.c', subject: 's' });
  const p: boolean = await job.isPrioritized();
  console.log(p);
  await memoryWorker.close();
}
void bullrushExtras;

// The embedded engine needs no options at all; health() says which backend answered.
const bare = new Queue<EmailData>('bare');
const prefixed = new Queue('prefixed', { prefix: 'app' });
async function embeddedHealth(): Promise<void> {
  const report = await health([bare, prefixed]);
  const backend: 'redis' | 'memory' = report.backend;
  const latency: number | null = report.redis ? report.redis.latencyMs : null;
  console.log(backend, latency, report.queues.bare.waiting);
}
void embeddedHealth;

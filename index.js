'use strict';

// bullrush: BullMQ's API over a Rust core. See README.md.
const { Queue } = require('./lib/queue');
const { Worker } = require('./lib/worker');
const { Job } = require('./lib/job');
const { QueueBase } = require('./lib/queue-base');
const { QueueEvents, QueueEventsProducer } = require('./lib/queue-events');
const { sseResponse, streamSse } = require('./lib/sse');
const { health } = require('./lib/health');
const {
  UnrecoverableError,
  DelayedError,
  RateLimitError,
  WaitingChildrenError,
  WaitingError,
  RedisUnavailableError,
  RedisTimeoutError,
  RedisAuthError,
  RedisScriptError,
  RedisDataError,
} = require('./lib/errors');
const { FlowProducer } = require('./lib/not-yet');
const { MetricsTime } = require('./lib/enums');

// Shorthand names only: that is what lets Node's ESM loader see each one as a
// named export (`import { UnrecoverableError } from 'bullrush'`).
module.exports = {
  Queue,
  Worker,
  Job,
  QueueBase,
  QueueEvents,
  QueueEventsProducer,
  sseResponse,
  streamSse,
  health,
  UnrecoverableError,
  DelayedError,
  RateLimitError,
  WaitingChildrenError,
  WaitingError,
  RedisUnavailableError,
  RedisTimeoutError,
  RedisAuthError,
  RedisScriptError,
  RedisDataError,
  FlowProducer,
  MetricsTime,
};

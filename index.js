'use strict';

// bullrush: BullMQ's API over a Rust core. See README.md.
const { Queue } = require('./lib/queue');
const { Worker } = require('./lib/worker');
const { Job } = require('./lib/job');
const { QueueBase } = require('./lib/queue-base');
const { QueueEvents, QueueEventsProducer } = require('./lib/queue-events');
const { sseResponse, streamSse } = require('./lib/sse');
const { health } = require('./lib/health');
const errors = require('./lib/errors');
const notYet = require('./lib/not-yet');

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
  ...errors,
  ...notYet,
};

'use strict';

// Error classes with BullMQ's names, so `instanceof` checks and `err.name`
// comparisons in user code keep working after the import swap.

class UnrecoverableError extends Error {
  constructor(message = 'bullmq:unrecoverable') {
    super(message);
    this.name = 'UnrecoverableError';
  }
}

class DelayedError extends Error {
  constructor(message = 'bullmq:movedToDelayed') {
    super(message);
    this.name = 'DelayedError';
  }
}

class RateLimitError extends Error {
  constructor(message = 'bullmq:rateLimitExceeded') {
    super(message);
    this.name = 'RateLimitError';
  }
}

class WaitingChildrenError extends Error {
  constructor(message = 'bullmq:movedToWaitingChildren') {
    super(message);
    this.name = 'WaitingChildrenError';
  }
}

class WaitingError extends Error {
  constructor(message = 'bullmq:movedToWait') {
    super(message);
    this.name = 'WaitingError';
  }
}

/** Redis could not be reached or stopped answering; map it to HTTP 503. */
class RedisUnavailableError extends Error {
  constructor(message) {
    super(message);
    this.name = 'RedisUnavailableError';
    this.code = 'REDIS_UNAVAILABLE';
  }
}

module.exports = {
  UnrecoverableError,
  DelayedError,
  RateLimitError,
  WaitingChildrenError,
  WaitingError,
  RedisUnavailableError,
};

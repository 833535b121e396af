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

// bullrush's own: what went wrong with Redis, each with a `code`. Whether
// the command was sent decides what a caller may do next, so that is what
// the classes tell apart.

/**
 * Redis could not be reached, or the connection was lost: map it to HTTP 503.
 * `code` is 'REDIS_UNAVAILABLE' when the command was not applied (no
 * connection could be made, or Redis refused it unrun, e.g. LOADING), and
 * 'REDIS_OUTCOME_UNKNOWN' on the RedisTimeoutError subclass.
 */
class RedisUnavailableError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'RedisUnavailableError';
    this.code = 'REDIS_UNAVAILABLE';
  }
}

/**
 * The command was sent and no answer came within `commandTimeout`: it may or
 * may not have been applied. A RedisUnavailableError, so that existing
 * checks still catch it; `code` 'REDIS_OUTCOME_UNKNOWN' tells it apart. To
 * retry an add safely, give the job a `jobId`: adding an id that exists is a
 * no-op.
 */
class RedisTimeoutError extends RedisUnavailableError {
  constructor(message, options) {
    super(message, options);
    this.name = 'RedisTimeoutError';
    this.code = 'REDIS_OUTCOME_UNKNOWN';
  }
}

/**
 * Redis refused the credentials, needs a password and got none, or the ACL
 * user may not run the command (NOPERM). Retrying will not help.
 */
class RedisAuthError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'RedisAuthError';
    this.code = 'REDIS_AUTH';
  }
}

/** Redis answered a command or script with an error (WRONGTYPE, a script error, …). */
class RedisScriptError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'RedisScriptError';
    this.code = 'REDIS_SCRIPT_ERROR';
  }
}

/** Redis answered with data bullrush cannot read, e.g. a job hash holding bytes that are not UTF-8. */
class RedisDataError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'RedisDataError';
    this.code = 'REDIS_BAD_DATA';
  }
}

module.exports = {
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
};

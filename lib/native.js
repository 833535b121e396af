'use strict';

// The generated binding, and the translation of its errors into JS classes.
const binding = require('../binding.js');
const errors = require('./errors');

const KIND = /^\[bullrush:(\w+)\] /;

// One entry per kind of src/engine/error.rs (its `kind()`); a Rust test
// checks that every kind has one.
const CLASSES = {
  INVALID_INPUT: TypeError,
  REDIS_UNAVAILABLE: errors.RedisUnavailableError,
  REDIS_OUTCOME_UNKNOWN: errors.RedisTimeoutError,
  REDIS_AUTH: errors.RedisAuthError,
  REDIS_SCRIPT_ERROR: errors.RedisScriptError,
  REDIS_BAD_DATA: errors.RedisDataError,
  JOB: Error,
  OTHER: Error,
};

/** The JS error for a native one: its kind's class, the message without the tag. */
function translate(err) {
  const match = err && typeof err.message === 'string' && KIND.exec(err.message);
  if (!match) return err;
  const message = err.message.slice(match[0].length);
  const Class = CLASSES[match[1]];
  if (Class) return new Class(message);
  // A kind this file does not know yet still tells what it was.
  const unknown = new Error(message);
  unknown.code = match[1];
  return unknown;
}

/** Awaits a native promise, rethrowing its error as the matching JS class. */
async function call(promise) {
  try {
    return await promise;
  } catch (err) {
    throw translate(err);
  }
}

/** Runs a synchronous native call (constructors), translating its error. */
function sync(fn) {
  try {
    return fn();
  } catch (err) {
    throw translate(err);
  }
}

module.exports = { binding, call, sync, translate };

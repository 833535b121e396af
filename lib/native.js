'use strict';

// The generated binding, and the translation of its errors into JS classes.
const binding = require('../binding.js');
const { RedisUnavailableError } = require('./errors');

const KIND = /^\[bullrush:(\w+)\] /;

function translate(err) {
  const match = err && typeof err.message === 'string' && KIND.exec(err.message);
  if (!match) return err;
  const message = err.message.slice(match[0].length);
  switch (match[1]) {
    case 'INVALID_INPUT':
      return new TypeError(message);
    case 'REDIS_UNAVAILABLE':
      return new RedisUnavailableError(message);
    default:
      return new Error(message);
  }
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

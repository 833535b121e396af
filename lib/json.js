'use strict';

/**
 * JSON text of `value`, or a TypeError naming what could not be carried:
 * `what`, followed by `whose` when given (kept apart so that the hot path
 * builds no message).
 */
function toJson(value, what, whose) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    const subject = whose === undefined ? what : `${what} ${whose}`;
    throw new TypeError(`${subject} cannot be serialized to JSON: ${err.message}`);
  }
  return text;
}

function parseOr(text, fallback) {
  if (typeof text !== 'string') return text === undefined ? fallback : text;
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

module.exports = { toJson, parseOr };

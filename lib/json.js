'use strict';

/** JSON text of `value`, or a TypeError naming what could not be carried. */
function toJson(value, what) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new TypeError(`${what} cannot be serialized to JSON: ${err.message}`);
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

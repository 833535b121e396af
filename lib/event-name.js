'use strict';

// Control characters (C0 and DEL). CR and LF end a line of an SSE frame, so a
// name holding one would let whoever wrote it append frames of their own to
// every browser watching; NUL makes browsers drop an `id:` line. The others
// cannot break a frame but have no business in a name either, and refusing
// them all keeps one rule for what publishEvent accepts and SSE writes.
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** True when `text` can be written as one SSE field value as it is: non-empty, no control characters. */
function fitsOnOneLine(text) {
  return typeof text === 'string' && text.length > 0 && !CONTROL_CHARS.test(text);
}

/** `text` quoted for an error message, escapes visible, long ones cut. */
function quote(text, max = 100) {
  return text.length > max ? `${JSON.stringify(text.slice(0, max))}…` : JSON.stringify(text);
}

module.exports = { CONTROL_CHARS, fitsOnOneLine, quote };

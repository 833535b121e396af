'use strict';

// Where an SSE stream starts reading when a browser sends Last-Event-ID. The
// header is whatever the client sent: a garbled one must not reach Redis,
// whose XREAD would refuse it on every retry and leave the stream silent.

// A Redis stream id: `<ms>-<seq>` or `<ms>`, each a 64-bit unsigned integer
// (at most 20 digits, so at most 41 characters in all).
const STREAM_ID = /^(\d{1,20})(?:-(\d{1,20}))?$/;
const MAX_SEQ = 2n ** 64n - 1n;

// A stream id written by a clock this far ahead of ours is still taken as
// sent: Redis stamps ids with its own clock, which may run a little ahead.
const CLOCK_SLACK_MS = 60 * 1000;

// How far back a client may ask to replay. EventSource reconnects within
// seconds, well inside this; an id from hours ago would otherwise have one
// request replay all the stream still holds (~10,000 entries with BullMQ's
// default trimming, more if configured so) into one response at once. A cap
// on the number of entries would first need the stream's newest ids, one
// more Redis round trip per request; a cap in time is read off the id.
const REPLAY_WINDOW_MS = 5 * 60 * 1000;

/**
 * The id to read after: `lastEventId` itself when it is a stream id of the
 * last REPLAY_WINDOW_MS, the start of that window when it is older, '$' (new
 * events only) when there is none, it is not a stream id, or it lies in the
 * future (reading after it would deliver nothing until then).
 */
function startAfter(lastEventId, now = Date.now()) {
  const text = lastEventId == null ? '' : String(lastEventId);
  const match = STREAM_ID.exec(text);
  if (!match || BigInt(match[2] ?? 0) > MAX_SEQ) return '$';
  const ms = Number(match[1]);
  if (ms > now + CLOCK_SLACK_MS) return '$';
  if (ms < now - REPLAY_WINDOW_MS) return `${now - REPLAY_WINDOW_MS}-0`;
  return text;
}

module.exports = { startAfter };

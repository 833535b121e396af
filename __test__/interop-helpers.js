'use strict';
// Shared setup for interop*.test.js: the same queue seen through bullrush
// (the "subject") and through a real BullMQ package (the "peer").
//
// The interop files compare bullrush with bullmq (6) and with bullmq5. They
// are skipped when BULLRUSH_TEST_IMPL is set (then there is no bullrush under
// test), unless BULLRUSH_TEST_INTEROP_SUBJECT names the subject explicitly:
// BULLRUSH_TEST_INTEROP_SUBJECT=bullmq runs them as bullmq <-> bullmq5, which
// validates the tests themselves without bullrush.

const h = require('./helpers');

const SUBJECT = process.env.BULLRUSH_TEST_INTEROP_SUBJECT || 'bullrush';
const PEERS = ['bullmq', 'bullmq5'].filter((p) => p !== SUBJECT);
const SKIP =
  process.env.BULLRUSH_TEST_IMPL && !process.env.BULLRUSH_TEST_INTEROP_SUBJECT
    ? `BULLRUSH_TEST_IMPL=${process.env.BULLRUSH_TEST_IMPL}: interop compares bullrush itself with bullmq/bullmq5`
    : false;

function load(name) {
  return name === 'bullrush' ? require('..') : require(name);
}

/**
 * Opens one queue name through both packages. Returns sides keyed 'S'
 * (subject) and 'P' (peer): { lib, label, queue, worker(processor, opts) }.
 * Everything opened is closed when the test ends.
 */
function pair(t, peerName, prefix = 'interop') {
  const c = h.scope(t);
  const name = h.uniqueQueueName(prefix);
  const side = (libName) => {
    const lib = load(libName);
    const queue = c.add(new lib.Queue(name, { connection: h.connection() }));
    return {
      lib,
      label: libName,
      queue,
      worker: (processor, opts = {}) =>
        c.add(new lib.Worker(name, processor, { connection: h.connection(), ...opts })),
    };
  };
  return { c, name, S: side(SUBJECT), P: side(peerName) };
}

/** [from, to] side-key pairs for both directions. */
const DIRECTIONS = [
  ['P', 'S'],
  ['S', 'P'],
];

async function stateIs(queue, id, state, timeoutMs = 5000) {
  await h.waitFor(async () => (await queue.getJobState(id)) === state, timeoutMs, `job ${id} ${state}`);
}

/** The job fields that must agree between implementations. */
const JOB_FIELDS = [
  'id',
  'name',
  'data',
  'opts',
  'timestamp',
  'delay',
  'priority',
  'attemptsMade',
  'attemptsStarted',
  'processedOn',
  'finishedOn',
  'returnvalue',
  'failedReason',
  'stacktrace',
  'progress',
];

function jobFields(job) {
  const out = {};
  for (const f of JOB_FIELDS) out[f] = job[f];
  // undefined-valued option keys (e.g. jobId: undefined) are not data
  out.opts = JSON.parse(JSON.stringify(job.opts || {}));
  return out;
}

module.exports = { SUBJECT, PEERS, SKIP, DIRECTIONS, pair, stateIs, jobFields, load };

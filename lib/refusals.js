'use strict';

// The engine says why it refused an operation on one job by name (see
// `Refusal` in src/engine/store.rs); this table words each one as BullMQ
// does and carries BullMQ's numeric code, which apps branch on as err.code.

const REFUSALS = {
  'missing-job': { code: -1, message: (id, command) => `Missing key for job ${id}. ${command}` },
  'missing-lock': { code: -2, message: (id, command) => `Missing lock for job ${id}. ${command}` },
  'not-in-state': {
    code: -3,
    message: (id, command, state) => `Job ${id} is not in the ${state} state. ${command}`,
  },
  'pending-dependencies': {
    code: -4,
    message: (id, command) => `Job ${id} has pending dependencies. ${command}`,
  },
  'lock-mismatch': {
    code: -6,
    message: (id, command, state) => `Lock mismatch for job ${id}. Cmd ${command} from ${state}`,
  },
  locked: {
    code: -1,
    message: (id) => `Job ${id} could not be removed because it is locked by another worker`,
  },
};

/** BullMQ's error for a refusal the engine named. */
function refusalError(refusal, id, command, state) {
  const known = REFUSALS[refusal];
  const err = new Error(
    known ? known.message(id, command, state) : `Unknown refusal ${refusal} for job ${id}. ${command}`,
  );
  err.code = known ? known.code : 0;
  return err;
}

/** Throws BullMQ's error when the engine refused (null means done). */
function check(refusal, id, command, state) {
  if (refusal !== null && refusal !== undefined) throw refusalError(refusal, id, command, state);
}

module.exports = { refusalError, check };

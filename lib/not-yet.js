'use strict';

// Classes BullMQ has that bullrush does not implement yet. They exist so that
// imports resolve, and fail at construction with a message that says so,
// rather than half-working.

function notYet(name, why) {
  return class {
    constructor() {
      throw new Error(`${name} is not supported by bullrush yet (${why}); see the README's API table`);
    }
  };
}

module.exports = {
  FlowProducer: notYet('FlowProducer', 'flows are planned'),
};

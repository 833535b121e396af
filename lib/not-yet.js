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

const MetricsTime = Object.freeze({
  ONE_MINUTE: 1,
  FIVE_MINUTES: 5,
  FIFTEEN_MINUTES: 15,
  THIRTY_MINUTES: 30,
  ONE_HOUR: 60,
  ONE_WEEK: 60 * 24 * 7,
  TWO_WEEKS: 60 * 24 * 7 * 2,
  ONE_MONTH: 60 * 24 * 7 * 2 * 4,
});

module.exports = {
  FlowProducer: notYet('FlowProducer', 'flows are planned'),
  MetricsTime,
};

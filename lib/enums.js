'use strict';

// BullMQ's enums that apps import by name.

/** Data points (minutes) for `metrics.maxDataPoints`. */
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

module.exports = { MetricsTime };
